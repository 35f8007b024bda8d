#!/usr/bin/env bash
# Run every cargo-fuzz target briefly (CI). Needs cargo-fuzz and a nightly
# toolchain; without them it prints `skipped: <reason>` and exits 0.
#
# Usage: scripts/fuzz-smoke.sh [SECONDS]   (per target; default 20, or
#        $FUZZ_SECONDS). A crash fails the script; the input is left in
#        fuzz/artifacts/<target>/ (see FUZZING.md for turning it into a
#        regression test).
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-20}}"

skip() {
    echo "fuzz-smoke: skipped: $*"
    exit 0
}
command -v cargo >/dev/null || skip "cargo is not on PATH"
command -v rustup >/dev/null || skip "rustup is not on PATH (a nightly toolchain is needed)"
rustup toolchain list 2>/dev/null | grep -q '^nightly' ||
    skip "no nightly toolchain (rustup toolchain install nightly)"
cargo fuzz --version >/dev/null 2>&1 ||
    skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"

scripts/fuzz-seed.sh fuzz/corpus
cd fuzz
# db_reader needs the whole plugin built instrumented (feature `db`): run it
# with FUZZ_DB=1, or by hand (FUZZING.md).
targets="$(cargo +nightly fuzz list | grep -vx db_reader || true)"
features=()
if [ "${FUZZ_DB:-0}" = 1 ]; then
    targets="$targets db_reader"
    features=(--features db)
fi
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "fuzz-smoke: $t for ${SECONDS_PER_TARGET}s"
    log="$(mktemp)"
    # -timeout: one input slower than 10 s is a finding (exponential decode).
    if ! cargo +nightly fuzz run "${features[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz-smoke: $t failed; the input is in fuzz/artifacts/$t/"
        rm -f "$log"
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done' "$log" || true
    rm -f "$log"
done
echo "fuzz-smoke: ok ($(echo $targets | wc -w) targets, ${SECONDS_PER_TARGET}s each)"
