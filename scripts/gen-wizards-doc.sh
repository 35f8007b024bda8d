#!/usr/bin/env bash
# Regenerate every output block of docs/wizards.md from real runs: real
# etcd 3.5 processes on free 127.0.0.1 ports (the test harness), every
# command run as the doc shows it, stdout and stderr captured as a terminal
# shows them (one block through a pseudo-terminal, script(1)), Ctrl-C sent
# as SIGINT when the wizard prints the step the doc interrupts.
#
# What changes from run to run is replaced by placeholders of the same
# width: ports (2nn79 client, 2nn80 peer for the nn-th member), member ids
# (0000000000000001, ... in the order first seen), the random tail of
# temporary directories (XXXXXX), process ids ($PID), hashes (<sha256>),
# raft indexes and terms (N), database sizes (NN.N KiB); lists and rows etcd
# orders by member id follow the placeholders. Running it twice gives the same doc: `git diff --exit-code docs/wizards.md`.
#
# `scripts/gen-wizards-doc.sh --check` fails when the page it writes differs
# from the committed one (the drift test, for a CI job with network access).
#
# etcd 3.5 (and its etcdutl, which bumps restored revisions) is fetched into
# .etcd-3.5 (git-ignored) by scripts/fetch-etcd-3.5.sh when missing (the doc
# shows `.etcd-3.5/usr/bin/etcdutl` as the tool); etcd 3.4's etcdctl from
# PATH plans one restore. Takes about 75 s after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
case "${1:-}" in
    --check) check=true ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
if [ ! -x .etcd-3.5/usr/bin/etcd ] || [ ! -x .etcd-3.5/usr/bin/etcdutl ]; then
    scripts/fetch-etcd-3.5.sh .etcd-3.5
fi
ETCD_BIN="$(pwd)/.etcd-3.5/usr/bin/etcd" KUBECTL_ETCD_WRITE_DOCS=1 \
    CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test --test it wizards_doc::regenerate_the_wizards_doc -- --ignored --nocapture
if $check; then
    git diff --exit-code docs/wizards.md
fi
