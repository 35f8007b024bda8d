#!/usr/bin/env bash
# Run every test: unit tests, the registry decoder's conformance tests
# (../shared fixtures when present) and the integration tests against real
# etcd clusters started on free 127.0.0.1 ports.
#
#   scripts/test.sh                       # etcd from PATH (Debian: 3.4)
#   ETCD_BIN=/path/to/etcd scripts/test.sh  # another etcd, e.g. 3.5 from
#                                         # scripts/fetch-etcd-3.5.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh
# Integration tests start several etcd processes each; on a 2-core machine
# more than a few at once only makes elections time out.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo test --workspace --locked --no-fail-fast "$@"
