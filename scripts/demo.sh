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
pids=()
cleanup() {
    [ -n "${KEEP:-}" ] && return
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# Six free ports at once (held until all are chosen, so none collide).
read -r -a ports < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
)
cluster=""
for i in 0 1 2; do
    cluster+="${cluster:+,}demo-$i=http://127.0.0.1:${ports[$((i*2+1))]}"
done
endpoints=""
for i in 0 1 2; do
    client="http://127.0.0.1:${ports[$((i*2))]}"
    peer="http://127.0.0.1:${ports[$((i*2+1))]}"
    endpoints+="${endpoints:+,}$client"
    etcd --name "demo-$i" --data-dir "$dir/demo-$i" \
        --listen-client-urls "$client" --advertise-client-urls "$client" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "$cluster" --initial-cluster-token "demo-$$" \
        --initial-cluster-state new >"$dir/demo-$i.log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 100); do
    "$BIN" --endpoints "$endpoints" health >/dev/null 2>&1 && break
    sleep 0.2
done

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
