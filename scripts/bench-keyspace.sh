#!/usr/bin/env bash
# Keyspace analytics against their etcdctl pipelines, side by side, on a
# local 3-member etcd (127.0.0.1, free ports, a temp dir): wall time and
# peak RSS (GNU time's "Maximum resident set size"), best of $RUNS runs.
#
#   scripts/bench-keyspace.sh                     # 1,000,000 keys; 200,000 of 1-4 KiB
#   KEYS=100000 SIZE_KEYS=20000 scripts/bench-keyspace.sh   # a quick run
#   PARTS=size BEFORE_BIN=/tmp/old/kubectl-etcd scripts/bench-keyspace.sh
#
# PARTS picks the groups of rows: `keys` (count, search on $KEYS keys) and
# `size` (size, get --all on $SIZE_KEYS keys of 1-4 KiB); both by default.
# BEFORE_BIN, another build of kubectl-etcd, adds a get-all-before row in
# the same run (a before/after comparison).
#
# Targets (issue 5): count >= 3x faster than the etcdctl | awk | sort | uniq
# pipeline with peak RSS < 64 MiB; size --by-type no slower than
# `etcdctl get --prefix -w protobuf` with peak RSS < 128 MiB; search within
# 1.5x of count. Issue 17: count --by-namespace >= 3x faster than the
# pipeline; a glob pinned to a namespace within 1.5x of count; get --all
# -o json no slower than etcdctl's raw protobuf read. For a pipeline, the
# RSS is its largest process's.
#
# Each row also gives the CPU seconds the etcd members spent on the run:
# a keys-only read still reads every value from bbolt (3.4 and 3.5), so a
# scan of every key costs etcd about what etcdctl's single read does, and
# on a small machine that CPU, not the client, bounds the wall time.
# `count` is fast because whole built-in types are counted by etcd from its
# index (count-only), and so are whole (type, namespace) prefixes for
# `count --by-namespace`; `search` with an unpinned pattern must see each
# key, while a glob or -n that pins a namespace or name prefix reads only
# those ranges.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

KEYS="${KEYS:-1000000}"
SIZE_KEYS="${SIZE_KEYS:-200000}"
PARTS="${PARTS:-keys size}"
bench_setup --example seed
ETCD_EXTRA_ARGS="--quota-backend-bytes 8589934592"

ETCDCTL="etcdctl --command-timeout=600s"

if [[ " $PARTS " == *" keys "* ]]; then
echo "== $KEYS keys: count and search" >&2
start_cluster small
"$SEED" --endpoints "$endpoints" --keys "$KEYS"
E="$endpoints"
measure count "$BIN --endpoints $E count /registry/"
# Per namespace: whole (type, namespace) prefixes counted from etcd's index.
measure count-by-namespace "$BIN --endpoints $E count /registry/ --by-namespace"
measure count-pipeline "$ETCDCTL --endpoints $E get /registry --prefix --keys-only | awk -F/ 'NF > 2 {print \$3}' | sort | uniq -c"
measure search "$BIN --endpoints $E search pod-4242"
measure search-glob "$BIN --endpoints $E search 'ns-2/pod-42*'"
measure search-regex "$BIN --endpoints $E search --regex '^pod-4242[0-9]\$'"
BENCH_EXIT1_OK=1 measure search-pipeline "$ETCDCTL --endpoints $E get /registry --prefix --keys-only | grep pod-4242"
stop_cluster
fi

if [[ " $PARTS " == *" size "* ]]; then
echo "== $SIZE_KEYS keys of 1-4 KiB: size --by-type, get --all" >&2
start_cluster big
"$SEED" --endpoints "$endpoints" --keys "$SIZE_KEYS" --pad 700 --pad-max 3600
E="$endpoints"
measure size "$BIN --endpoints $E size --by-type"
measure size-pipeline "$ETCDCTL --endpoints $E get /registry --prefix -w protobuf"
# Every object decoded to Kubernetes JSON, streamed.
if [ -z "${BEFORE_BIN:-}" ]; then
    measure get-all "$BIN --endpoints $E get /registry/ --all -o json"
else
    # Before and after alternate, so the page cache and etcd's state
    # favour neither.
    for _ in $(seq "$RUNS"); do
        measure_once get-all "$BIN --endpoints $E get /registry/ --all -o json"
        measure_once get-all-before "$BEFORE_BIN --endpoints $E get /registry/ --all -o json"
    done
fi
stop_cluster
fi

# row LABEL [NUM DEN TARGET]: one table line, with the ratio NUM/DEN of wall times.
row() {
    local label="$1" num="${2:-}" den="${3:-}" target="${4:-}" r=""
    [ -n "${WALL[$label]:-}" ] || return 0
    [ -n "$num" ] && r="$num/$den = $(ratio "${WALL[$num]}" "${WALL[$den]}")x"
    printf '| %s | `%s` | %.2f | %.2f | %s | %s | %s |\n' "$label" "$(shown_cmd "$label")" "${WALL[$label]}" \
        "${ETCDCPU[$label]}" "$(mib "${RSS[$label]}")" "$r" "$target"
}
echo
sizes=""
[[ " $PARTS " == *" keys "* ]] && sizes="$KEYS keys"
[[ " $PARTS " == *" size "* ]] && sizes="${sizes:+$sizes and }$SIZE_KEYS keys of 1-4 KiB"
echo "$(bench_versions), \$E = 3 local members; $sizes; best of $RUNS runs"
echo
echo "| run | command | wall s | etcd CPU s | peak RSS MiB | ratio | target |"
echo "|---|---|---:|---:|---:|---|---|"
row count count-pipeline count "pipeline/count >= 3, RSS < 64 MiB"
row count-pipeline
row count-by-namespace count-pipeline count-by-namespace "pipeline/count-by-namespace >= 3"
row search search count "search/count <= 1.5"
row search-glob search-glob count "search-glob/count <= 1.5"
row search-regex search-regex count ""
row search-pipeline
row size size-pipeline size "pipeline/size >= 1, RSS < 128 MiB"
row size-pipeline
row get-all get-all size-pipeline "get-all/size-pipeline <= 1, flat RSS"
if [ -n "${WALL[get-all-before]:-}" ]; then
    row get-all-before get-all-before size-pipeline "(before: get-all/get-all-before = $(ratio "${WALL[get-all]}" "${WALL[get-all-before]}")x)"
fi
