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
scripts/prereqs.sh
if [ ! -x /usr/bin/time ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y -qq time >/dev/null
fi

KEYS="${KEYS:-300000}"
PAD="${PAD:-3400}"
RUNS="${RUNS:-3}"
echo "building kubectl-etcd (release)..." >&2
cargo build -q --release --bin kubectl-etcd --example seed
BIN="$PWD/target/release/kubectl-etcd"
SEED="$PWD/target/release/examples/seed"

dir="$(mktemp -d "${BENCH_TMP:-/tmp}/bench-snapshot.XXXXXX")"
ETCD_EXTRA_ARGS="--quota-backend-bytes 8589934592"
# shellcheck source=scripts/local-cluster.sh
. scripts/local-cluster.sh
cleanup() { stop_cluster; rm -rf "$dir"; }
trap cleanup EXIT

declare -A WALL RSS CMD
# measure LABEL COMMAND: best wall time (s) and peak RSS (KiB) of $RUNS runs.
measure_once() {
    local label="$1" cmd="$2" out="$dir/time.txt" w r
    if ! /usr/bin/time -v -o "$out" bash -c "$cmd" >/dev/null 2>"$dir/stderr.txt"; then
        echo "error: \`$cmd\` failed:" >&2
        cat "$dir/stderr.txt" >&2
        exit 1
    fi
    w=$(awk -F': ' '/Elapsed \(wall clock\)/ {
            n = split($2, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            print s }' "$out")
    r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
    if [ -z "${WALL[$label]:-}" ] || awk -v a="$w" -v b="${WALL[$label]}" 'BEGIN{exit !(a < b)}'; then
        WALL[$label]="$w"
    fi
    if [ -z "${RSS[$label]:-}" ] || [ "$r" -gt "${RSS[$label]}" ]; then
        RSS[$label]="$r"
    fi
    CMD[$label]="$cmd"
    printf '  %-16s %8.2fs %8.1f MiB\n' "$label" "$w" "$(awk -v r="$r" 'BEGIN{print r/1024}')" >&2
}

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

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v r="$1" 'BEGIN{printf "%.1f", r / 1024}'; }
row() {
    local label="$1" vs="${2:-}" target="${3:-}" r=""
    [ -n "$vs" ] && r="$label/$vs = $(ratio "${WALL[$label]}" "${WALL[$vs]}")x"
    local cmd="${CMD[$label]//$BIN/kubectl-etcd}"
    cmd="${cmd//$dir\//}"
    cmd="${cmd//$E/\$E}"
    printf '| %s | `%s` | %.2f | %s | %s | %s |\n' "$label" "$cmd" "${WALL[$label]}" \
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
