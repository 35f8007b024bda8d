#!/usr/bin/env bash
# The main job on a machine without Kubernetes: start a local 3-member etcd
# cluster (127.0.0.1, free ports, a temp dir), load it with a realistic
# Kubernetes keyspace, and run kubectl-etcd against it.
#
#   scripts/demo.sh            # 5,000 objects, then status, members, count...
#   KEYS=100000 scripts/demo.sh
#   KEEP=1 scripts/demo.sh     # leave the cluster running and print how to use it
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh

KEYS="${KEYS:-5000}"
PROFILE="${PROFILE:-release}"
flag=(); [ "$PROFILE" = release ] && flag=(--release)
echo "building kubectl-etcd ($PROFILE)..." >&2
cargo build -q "${flag[@]}" --bin kubectl-etcd --example seed
BIN="target/$PROFILE/kubectl-etcd"
SEED="target/$PROFILE/examples/seed"

dir="$(mktemp -d)"
# shellcheck source=scripts/local-cluster.sh
. scripts/local-cluster.sh
cleanup() {
    [ -n "${KEEP:-}" ] && return
    stop_cluster
    rm -rf "$dir"
}
trap cleanup EXIT
start_cluster demo

echo "loading $KEYS Kubernetes objects..." >&2
"$SEED" --endpoints "$endpoints" --keys "$KEYS"

run() { echo; echo "\$ kubectl etcd $*"; "$BIN" --endpoints "$endpoints" "$@"; }
run status
run members
run health
run size
run count
run ls deployments -n ns-15 | head -6
run get deploy/ns-15/deploy-15
run defrag --dry-run
run snapshot save "$dir/demo.db"
run snapshot status "$dir/demo.db"

if [ -n "${KEEP:-}" ]; then
    echo
    echo "cluster left running (data in $dir):"
    echo "  export ETCDCTL_ENDPOINTS=$endpoints"
    echo "  $BIN status"
    echo "stop it with: kill ${pids[*]}"
fi
