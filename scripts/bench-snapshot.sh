#!/usr/bin/env bash
# Snapshots of a large database, side by side with etcdctl, in one run:
# wall time and peak RSS (GNU time's "Maximum resident set size") of
# `snapshot save`, `snapshot status` and `snapshot inspect` against
# `etcdctl snapshot save` and `etcdctl snapshot status`, on one local etcd
# member (127.0.0.1, free ports, a temp dir) seeded with the seed tool.
#
#   scripts/bench-snapshot.sh                       # 300,000 objects, >= 1 GiB
#   KEYS=30000 PAD=3400 RUNS=1 scripts/bench-snapshot.sh   # a quick run
#
# Targets (issue 12): our peak RSS under 64 MiB for every command; our save
# wall time within 1.2x of etcdctl's. Saves alternate (ours, theirs, ours,
# ...) so the page cache and etcd's state favour neither.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

KEYS="${KEYS:-300000}"
PAD="${PAD:-3400}"
bench_setup --example seed
ETCD_EXTRA_ARGS="--quota-backend-bytes 8589934592"

echo "== seeding $KEYS objects (pad $PAD bytes) into one member" >&2
start_cluster snap 1
E="$endpoints"
seed_start=$(date +%s)
"$SEED" --endpoints "$E" --keys "$KEYS" --pad "$PAD"
seed_s=$(($(date +%s) - seed_start))
db_size=$("$BIN" --endpoints "$E" status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["members"][0]["dbSize"])')
echo "   db size $db_size bytes, seeded in ${seed_s}s" >&2

OURS="$dir/ours.db"
THEIRS="$dir/theirs.db"
for _ in $(seq "$RUNS"); do
    rm -f "$OURS" "$THEIRS"
    measure_once save "$BIN --endpoints $E snapshot save $OURS"
    measure_once etcdctl-save "ETCDCTL_API=3 etcdctl --endpoints $E --command-timeout=600s snapshot save $THEIRS"
done
for _ in $(seq "$RUNS"); do
    measure_once status "$BIN snapshot status $OURS"
    measure_once etcdctl-status "ETCDCTL_API=3 etcdctl snapshot status $THEIRS -w json"
    measure_once inspect "$BIN snapshot inspect $OURS"
    measure_once inspect-ls "$BIN snapshot inspect $OURS --ls -o json"
done
snap_size=$(stat -c %s "$OURS")

row() {
    local label="$1" vs="${2:-}" target="${3:-}" r=""
    [ -n "$vs" ] && r="$label/$vs = $(ratio "${WALL[$label]}" "${WALL[$vs]}")x"
    printf '| %s | `%s` | %.2f | %s | %s | %s |\n' "$label" "$(shown_cmd "$label")" "${WALL[$label]}" \
        "$(mib "${RSS[$label]}")" "$r" "$target"
}
echo
echo "$("$BIN" version 2>/dev/null | head -1), etcd $(etcd --version | head -1 | awk '{print $3}'), $(nproc) cores; $KEYS objects (seed --pad $PAD), db $db_size bytes, snapshot $snap_size bytes; best wall of $RUNS runs, highest RSS"
echo
echo "| run | command | wall s | peak RSS MiB | ratio | target |"
echo "|---|---|---:|---:|---|---|"
row save etcdctl-save "save <= 1.2x etcdctl, RSS < 64 MiB"
row etcdctl-save
row status etcdctl-status "RSS < 64 MiB"
row etcdctl-status
row inspect "" "RSS < 64 MiB"
row inspect-ls "" "RSS < 64 MiB"
