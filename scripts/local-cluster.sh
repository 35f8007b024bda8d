# Sourced by scripts/demo.sh and scripts/bench-keyspace.sh: a local 3-member
# etcd on 127.0.0.1, free ports, data in $dir. Needs $dir and $BIN (the
# kubectl-etcd binary used to wait for health); sets $endpoints and $pids.
# Extra etcd flags come from $ETCD_EXTRA_ARGS.

pids=()

stop_cluster() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}

# start_cluster NAME [MEMBERS]: three (or MEMBERS) members on free ports;
# sets $endpoints.
start_cluster() {
    local name="$1" n="${2:-3}" cluster="" i client peer
    # All ports chosen at once, each socket held until all are picked, so
    # none collide.
    read -r -a ports < <(N="$n" python3 - <<'PY'
import os, socket
socks = [socket.socket() for _ in range(2 * int(os.environ["N"]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
)
    for ((i = 0; i < n; i++)); do
        cluster+="${cluster:+,}$name-$i=http://127.0.0.1:${ports[$((i*2+1))]}"
    done
    endpoints=""
    for ((i = 0; i < n; i++)); do
        client="http://127.0.0.1:${ports[$((i*2))]}"
        peer="http://127.0.0.1:${ports[$((i*2+1))]}"
        endpoints+="${endpoints:+,}$client"
        # shellcheck disable=SC2086
        etcd --name "$name-$i" --data-dir "$dir/$name-$i" \
            --listen-client-urls "$client" --advertise-client-urls "$client" \
            --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
            --initial-cluster "$cluster" --initial-cluster-token "$name-$$" \
            --initial-cluster-state new ${ETCD_EXTRA_ARGS:-} \
            >"$dir/$name-$i.log" 2>&1 &
        pids+=($!)
    done
    for _ in $(seq 150); do
        "$BIN" --endpoints "$endpoints" health >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "error: etcd did not become healthy; see $dir/$name-*.log" >&2
    exit 1
}
