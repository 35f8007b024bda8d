#!/usr/bin/env bash
# Prove that the build survives packaging: the schema tables of
# crates/registry are generated from k8s-pb and k8s-openapi sources found
# through `cargo metadata`, not from $CARGO_HOME or the lockfile's text. This
# does what a distribution packager does: `cargo vendor` every dependency
# into a temporary directory, copy the sources beside it, and build the
# registry crate there offline, with CARGO_HOME and HOME pointing at empty
# directories, so the usual crate cache cannot be reached.
#
#   scripts/check-vendored-build.sh            # build crates/registry (a few minutes)
#   KEEP=1 scripts/check-vendored-build.sh     # leave the temporary tree for a look
#
# Exits non-zero when any step fails, or when the build read a file from the
# usual crate cache. Needs the registry (crates.io) reachable for `cargo
# vendor` unless every crate is already in the local cache.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
orig_cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# The toolchain stays where it is; only the crate cache moves away.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_bin="$(command -v cargo)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vendored-build.XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then
    echo "keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi
start=$SECONDS

echo "== cargo vendor into $tmp/vendor"
mkdir -p "$tmp/src/.cargo" "$tmp/cargo-home" "$tmp/home"
"$cargo_bin" vendor --locked --versioned-dirs "$tmp/vendor" >"$tmp/src/.cargo/config.toml"

echo "== copy the sources (tracked and new files, as in a release tarball)"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$tmp/src"

echo "== build crates/registry offline, CARGO_HOME=$tmp/cargo-home"
(
    cd "$tmp/src"
    env -u K8S_PB_SRC -u K8S_OPENAPI_SRC \
        HOME="$tmp/home" CARGO_HOME="$tmp/cargo-home" CARGO_TARGET_DIR="$tmp/target" \
        CARGO_NET_OFFLINE=true \
        "$cargo_bin" build --offline --locked -p registry
)

schema="$(ls "$tmp"/target/debug/build/registry-*/out/schema.rs)"
if ! grep -q '"Deployment"' "$schema"; then
    echo "error: $schema has no Deployment: the schema tables are empty" >&2
    exit 1
fi
if grep -rlF "$orig_cargo_home/registry" "$tmp"/target/debug/deps/*.d \
    "$tmp"/target/debug/build/registry-*/output >/dev/null 2>&1; then
    echo "error: the build read sources from $orig_cargo_home/registry" >&2
    exit 1
fi
if ! grep -qF "$tmp/vendor/k8s-pb-" "$tmp"/target/debug/deps/*.d; then
    echo "error: k8s-pb was not built from the vendored sources" >&2
    exit 1
fi
echo "ok: crates/registry builds from vendored sources offline ($((SECONDS - start))s, schema $(wc -c <"$schema") bytes)"
