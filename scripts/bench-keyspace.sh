#!/usr/bin/env bash
# Keyspace analytics against their etcdctl pipelines, side by side, on a
# local 3-member etcd (127.0.0.1, free ports, a temp dir): wall time and
# peak RSS (GNU time's "Maximum resident set size"), best of $RUNS runs.
#
#   scripts/bench-keyspace.sh                     # 1,000,000 keys; 200,000 of 1-4 KiB
#   KEYS=100000 SIZE_KEYS=20000 scripts/bench-keyspace.sh   # a quick run
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
scripts/prereqs.sh
if [ ! -x /usr/bin/time ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y -qq time >/dev/null
fi

LOAD="$(cut -d" " -f1-3 /proc/loadavg)"
KEYS="${KEYS:-1000000}"
SIZE_KEYS="${SIZE_KEYS:-200000}"
RUNS="${RUNS:-3}"
echo "building kubectl-etcd (release)..." >&2
cargo build -q --release --bin kubectl-etcd --example seed
BIN="$PWD/target/release/kubectl-etcd"
SEED="$PWD/target/release/examples/seed"

dir="$(mktemp -d)"
ETCD_EXTRA_ARGS="--quota-backend-bytes 8589934592"
# shellcheck source=scripts/local-cluster.sh
. scripts/local-cluster.sh
cleanup() { stop_cluster; rm -rf "$dir"; }
trap cleanup EXIT

# CPU seconds the etcd members have used so far (utime + stime).
etcd_cpu() {
    local ticks=0 p
    for p in "${pids[@]}"; do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz}'
}

# measure LABEL COMMAND: best wall time (s), with the etcd CPU seconds of
# that run, and peak RSS (KiB) of $RUNS runs.
declare -A WALL RSS CMD ETCDCPU
measure() {
    local label="$1" cmd="$2" best="" rss=0 out="$dir/time.txt" w r c0 c1 cpu=""
    for _ in $(seq "$RUNS"); do
        c0=$(etcd_cpu)
        if ! /usr/bin/time -v -o "$out" bash -c "$cmd" >/dev/null 2>"$dir/stderr.txt"; then
            # grep-like commands exit 1 on no match; anything else is a failure.
            if ! grep -q "Exit status: 1" "$out"; then
                echo "error: \`$cmd\` failed:" >&2
                cat "$dir/stderr.txt" >&2
                exit 1
            fi
        fi
        w=$(awk -F': ' '/Elapsed \(wall clock\)/ {
                n = split($2, p, ":"); s = 0
                for (i = 1; i <= n; i++) s = s * 60 + p[i]
                print s }' "$out")
        r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
        c1=$(etcd_cpu)
        if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN{exit !(a < b)}'; then
            best="$w"
            cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}')
        fi
        [ "$r" -gt "$rss" ] && rss="$r"
    done
    WALL[$label]="$best"
    ETCDCPU[$label]="$cpu"
    RSS[$label]="$rss"
    CMD[$label]="${cmd//$E/\$E}"
    printf '  %-22s %8.2fs %8.2fs etcd CPU %8.1f MiB\n' "$label" "$best" "$cpu" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" >&2
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v r="$1" 'BEGIN{printf "%.1f", r / 1024}'; }

ETCDCTL="etcdctl --command-timeout=600s"

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
measure search-pipeline "$ETCDCTL --endpoints $E get /registry --prefix --keys-only | grep pod-4242"
stop_cluster

echo "== $SIZE_KEYS keys of 1-4 KiB: size --by-type" >&2
start_cluster big
"$SEED" --endpoints "$endpoints" --keys "$SIZE_KEYS" --pad 700 --pad-max 3600
E="$endpoints"
measure size "$BIN --endpoints $E size --by-type"
measure size-pipeline "$ETCDCTL --endpoints $E get /registry --prefix -w protobuf"
# Every object decoded to Kubernetes JSON, streamed.
measure get-all "$BIN --endpoints $E get /registry/ --all -o json"
stop_cluster

# row LABEL [NUM DEN TARGET]: one table line, with the ratio NUM/DEN of wall times.
row() {
    local label="$1" num="${2:-}" den="${3:-}" target="${4:-}" r=""
    [ -n "$num" ] && r="$num/$den = $(ratio "${WALL[$num]}" "${WALL[$den]}")x"
    # Markdown: the binary by name, pipes escaped inside the table.
    local cmd="${CMD[$label]//$BIN/kubectl-etcd}"
    cmd="${cmd//|/\\|}"
    printf '| %s | `%s` | %.2f | %.2f | %s | %s | %s |\n' "$label" "$cmd" "${WALL[$label]}" \
        "${ETCDCPU[$label]}" "$(mib "${RSS[$label]}")" "$r" "$target"
}
echo
echo "$("$BIN" version 2>/dev/null | head -1), etcd $(etcd --version | head -1 | awk '{print $3}'), $(nproc) cores (load average $LOAD at the start), \$E = 3 local members; $KEYS and $SIZE_KEYS keys; best of $RUNS runs"
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
