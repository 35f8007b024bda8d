#!/usr/bin/env bash
# Install what building and testing kubectl-etcd needs on a Debian machine,
# only where it is missing: protoc (etcd-client's build), etcd and etcdctl
# (the tests run real etcd servers). Needs root (or sudo) for apt-get.
set -euo pipefail

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
# The test through the real kubectl (tests/it/kube.rs) and doctor's slow-disk
# test (strace) need these; kubectl comes from the machine's package sources.
command -v strace >/dev/null 2>&1 || need+=(strace)
# GNU time measures peak RSS in the memory tests (tests/it/dbfile.rs);
# script(1) gives the progress and colour tests a terminal.
[ -x /usr/bin/time ] || need+=(time)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
command -v kubectl >/dev/null 2>&1 || { apt-cache show kubectl >/dev/null 2>&1 && need+=(kubectl); }
command -v cargo >/dev/null 2>&1 || { echo "error: cargo is not installed (https://rustup.rs)" >&2; exit 1; }

if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
