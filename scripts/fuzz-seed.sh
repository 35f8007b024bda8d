#!/usr/bin/env bash
# Seed the cargo-fuzz corpora at run time, from the Kubernetes API fixtures
# beside the repository (../shared/testdata/k8s-api, or $K8S_API_FIXTURES);
# nothing is copied into the repository (fuzz/corpus is ignored by git).
#
# Usage: scripts/fuzz-seed.sh [CORPUS_DIR]     (default: fuzz/corpus)
# - protobuf: every `.pb` fixture (kube-apiserver's storage form), and a
#   few JSON fixtures for the JSON path of `decode`;
# - cbor:     the JSON fixtures re-encoded as CBOR (python3), else a few
#   hand-written values;
# - key:      typical /registry keys of each layout.
# Targets without seeds here (added by others) get an empty directory.
set -euo pipefail

cd "$(dirname "$0")/.."
CORPUS="${1:-fuzz/corpus}"
FIXTURES="${K8S_API_FIXTURES:-../shared/testdata/k8s-api}"
mkdir -p "$CORPUS/protobuf" "$CORPUS/cbor" "$CORPUS/key"

if [ -d "$FIXTURES" ]; then
    for f in "$FIXTURES"/*/*.pb; do
        cp "$f" "$CORPUS/protobuf/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    for f in "$FIXTURES"/v1.35.0/core.v1.{Pod,ConfigMap,Secret}.json; do
        [ -f "$f" ] && cp "$f" "$CORPUS/protobuf/json-$(basename "$f")"
    done
else
    echo "fuzz-seed: $FIXTURES not found: protobuf corpus starts empty" >&2
fi

if command -v python3 >/dev/null && [ -d "$FIXTURES" ]; then
    python3 - "$FIXTURES" "$CORPUS/cbor" <<'PY'
import glob, json, os, struct, sys

def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)

def cbor(v):
    if v is None: return b"\xf6"
    if v is True: return b"\xf5"
    if v is False: return b"\xf4"
    if isinstance(v, int): return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float): return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode(); return head(3, len(b)) + b
    if isinstance(v, list): return head(4, len(v)) + b"".join(map(cbor, v))
    return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())

src, dst = sys.argv[1], sys.argv[2]
for i, f in enumerate(sorted(glob.glob(os.path.join(src, "v1.35.0", "*.json")))[:80]):
    with open(f) as fh:
        v = json.load(fh)
    with open(os.path.join(dst, os.path.basename(f) + ".cbor"), "wb") as out:
        out.write(b"\xd9\xd9\xf7" + cbor(v))
PY
fi
# Always a few, so the target has seeds without python3 or fixtures.
printf '\xd9\xd9\xf7\xa2\x6aapiVersion\x62v1\x64kind\x69ConfigMap' >"$CORPUS/cbor/configmap"
printf '\xd9\xd9\xf7\x9f\x01\xf9\x3e\x00\xff' >"$CORPUS/cbor/indefinite"

i=0
for k in \
    /registry/pods/default/web-0 \
    /registry/services/specs/default/kubernetes \
    /registry/services/endpoints/default/kubernetes \
    /registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com \
    /registry/example.com/widgets/default/w1 \
    /registry/events/kube-system/etcd-0.17a2b3c4d5e6f708 \
    /registry/masterleases/10.0.0.1 \
    /registry/ranges/serviceips \
    /registry/namespaces/default \
    compact_rev_key \
    '/custom-prefix
/custom-prefix/deployments/apps/web'; do
    printf '%s' "$k" >"$CORPUS/key/seed-$i"
    i=$((i + 1))
done
echo "fuzz-seed: $(ls "$CORPUS/protobuf" | wc -l) protobuf, $(ls "$CORPUS/cbor" | wc -l) cbor, $(ls "$CORPUS/key" | wc -l) key seeds in $CORPUS"
