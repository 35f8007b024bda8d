#!/usr/bin/env bash
# Many clusters at once: ten kubeconfig contexts, each its own Kubernetes
# API double (tests/it/kube_double) forwarding to its own 1-member TLS etcd
# (the test harness, free 127.0.0.1 ports), and the wall time of
# `status --all-contexts` against `status --context cN` run ten times in a
# row; best of $RUNS. The API double lives in the test code, so the run is
# the ignored test `contexts::bench_ten_contexts_at_once_against_one_by_one`
# (kept out of CI: it starts ten etcd processes and ten API servers).
#
#   scripts/bench-contexts.sh          # RUNS=3
#   RUNS=1 scripts/bench-contexts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh
export RUNS="${RUNS:-3}"
echo "etcd $(etcd --version | head -1 | awk '{print $3}'), $(nproc) cores, $(date -u +%Y-%m-%d)" >&2
RUST_TEST_THREADS=1 cargo test -q --test it contexts::bench_ten_contexts_at_once_against_one_by_one \
    -- --ignored --nocapture 2>&1 | grep -E '^contexts=|panicked|FAILED' 
