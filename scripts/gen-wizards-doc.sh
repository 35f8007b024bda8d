#!/usr/bin/env bash
# Regenerate the resize walk-through of docs/wizards.md from real runs:
# real etcd processes on free 127.0.0.1 ports (the test harness), every
# command run as the doc shows it, stdout and stderr captured as a terminal
# shows them. Ids, ports and applied indexes change on every run; review
# with `git diff docs/wizards.md`. ETCD_BIN selects the etcd build.
#
# Blocks recorded by hand (Ctrl-C, a terminal, restore --local, recover) are
# left as they are; tests/it/wizards_doc.rs checks that every command in the
# doc still parses and that every read-only block still shows the headings
# the renderer prints (that part runs in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
KUBECTL_ETCD_WRITE_DOCS=1 CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test --test it wizards_doc::regenerate_the_resize_walkthrough -- --ignored --nocapture
