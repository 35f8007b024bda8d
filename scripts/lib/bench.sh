# Sourced by the bench scripts (bench-keyspace.sh, bench-snapshot.sh, and
# any later one): prerequisites, the release build, a temp dir with a local
# etcd (scripts/local-cluster.sh), and timing of commands with GNU time.
#
#   . scripts/lib/bench.sh
#   bench_setup [--example seed]    # sets BIN (and SEED), $dir, the cleanup trap
#   start_cluster NAME [MEMBERS]     # from local-cluster.sh: $endpoints, $pids
#   measure LABEL COMMAND            # best wall time of $RUNS runs -> WALL, ETCDCPU, RSS, CMD
#   shown_cmd LABEL                  # the command as a table shows it
#
# Settings from the environment: RUNS (3), BIN and SEED (binaries to use
# instead of building them), BENCH_TMP (where the temp dir goes, /tmp).
# Needs bash 4 (associative arrays); the caller runs from the repository root.

RUNS="${RUNS:-3}"
declare -A WALL RSS CMD CMDE ETCDCPU

# bench_setup [CARGO ARGS]: prerequisites and GNU time; build release
# kubectl-etcd (plus CARGO ARGS, e.g. `--example seed`) unless $BIN is
# given; a temp dir $dir removed on exit with the cluster stopped.
bench_setup() {
    scripts/prereqs.sh
    if [ ! -x /usr/bin/time ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get install -y -qq time >/dev/null
    fi
    # Given binaries ($BIN, and $SEED when the seed tool is asked for) are
    # used as they are.
    if [ -z "${BIN:-}" ] || { [ $# -gt 0 ] && [ -z "${SEED:-}" ]; }; then
        echo "building kubectl-etcd (release)..." >&2
        cargo build -q --release --bin kubectl-etcd "$@"
    fi
    BIN="${BIN:-$PWD/target/release/kubectl-etcd}"
    SEED="${SEED:-$PWD/target/release/examples/seed}"
    dir="$(mktemp -d "${BENCH_TMP:-/tmp}/bench.XXXXXX")"
    # shellcheck source=scripts/local-cluster.sh
    . scripts/local-cluster.sh
    trap 'stop_cluster; rm -rf "$dir"' EXIT
}

# CPU seconds the etcd members have used so far (utime + stime); 0.00
# without a cluster.
etcd_cpu() {
    local ticks=0 p
    for p in "${pids[@]}"; do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz}'
}

# measure_once LABEL COMMAND: one run; keeps the best wall time (s) with the
# etcd CPU seconds of that run, and the largest peak RSS (KiB). Exit status
# 1 is accepted when BENCH_EXIT1_OK is set (grep-like commands: no match).
measure_once() {
    local label="$1" cmd="$2" out="$dir/time.txt" w r c0 c1
    c0=$(etcd_cpu)
    if ! /usr/bin/time -v -o "$out" bash -c "$cmd" >/dev/null 2>"$dir/stderr.txt"; then
        if [ -z "${BENCH_EXIT1_OK:-}" ] || ! grep -q "Exit status: 1" "$out"; then
            echo "error: \`$cmd\` failed:" >&2
            cat "$dir/stderr.txt" >&2
            exit 1
        fi
    fi
    c1=$(etcd_cpu)
    w=$(awk -F': ' '/Elapsed \(wall clock\)/ {
            n = split($2, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            print s }' "$out")
    r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
    if [ -z "${WALL[$label]:-}" ] || awk -v a="$w" -v b="${WALL[$label]}" 'BEGIN{exit !(a < b)}'; then
        WALL[$label]="$w"
        ETCDCPU[$label]=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}')
    fi
    if [ -z "${RSS[$label]:-}" ] || [ "$r" -gt "${RSS[$label]}" ]; then
        RSS[$label]="$r"
    fi
    CMD[$label]="$cmd"
    # The endpoints of this row's cluster: a later part may start another.
    CMDE[$label]="${E:-}"
    printf '  %-22s %8.2fs %8.2fs etcd CPU %8.1f MiB\n' "$label" "$w" "$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b - a}')" \
        "$(mib "$r")" >&2
}

# measure LABEL COMMAND: $RUNS runs of measure_once.
measure() {
    local _
    for _ in $(seq "$RUNS"); do
        measure_once "$1" "$2"
    done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v r="$1" 'BEGIN{printf "%.1f", r / 1024}'; }

# shown_cmd LABEL: the command of LABEL for a Markdown table: binaries by
# name ($BEFORE_BIN as kubectl-etcd-before), the temp dir left out,
# the endpoints the row ran against as $E, pipes escaped.
shown_cmd() {
    local cmd="${CMD[$1]}"
    [ -n "${BEFORE_BIN:-}" ] && cmd="${cmd//$BEFORE_BIN/kubectl-etcd-before}"
    cmd="${cmd//$BIN/kubectl-etcd}"
    cmd="${cmd//$dir\//}"
    [ -n "${CMDE[$1]:-}" ] && cmd="${cmd//${CMDE[$1]}/\$E}"
    printf '%s' "${cmd//|/\\|}"
}

# The first line of a results table: versions, cores, load.
bench_versions() {
    printf '%s, etcd %s, %s cores (load average %s at the start)' \
        "$("$BIN" version 2>/dev/null | head -1)" \
        "$(etcd --version | head -1 | awk '{print $3}')" "$(nproc)" "${BENCH_LOAD:-?}"
}
BENCH_LOAD="$(cut -d" " -f1-3 /proc/loadavg)"
