#!/usr/bin/env bash
# Cut a release: build the archives krew installs, for the platforms this
# machine can build, and write the krew manifest that points at them.
#
#   scripts/release.sh VERSION [OUT_DIR]      # e.g. scripts/release.sh 0.2.0
#
# VERSION must be Cargo.toml's version (with or without a leading `v`).
# OUT_DIR defaults to dist/vVERSION. It receives, per target:
#   kubectl-etcd-vVERSION-TARGET.tar.gz        the binary, kubectl_complete-etcd,
#                                              man/*.1 (clap_mangen), completions/
#                                              (bash, zsh, fish, elvish, powershell),
#                                              README.md
#   kubectl-etcd-vVERSION-TARGET.tar.gz.sha256
# and etcd.yaml: krew/etcd.yaml's metadata and descriptions with one platform
# per archive built (uri, sha256, selector, bin).
#
# Environment:
#   TARGETS   Rust target triples to build (default: this machine's own, as
#             `rustc -vV` reports it). Each needs `rustup target add TARGET`
#             and a linker for it. The manifest's full set of platforms:
#               x86_64-unknown-linux-musl, aarch64-unknown-linux-musl
#                 (static; `apt install musl-tools`, and for aarch64 a cross
#                 linker such as `gcc-aarch64-linux-gnu` with
#                 CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER set)
#               x86_64-apple-darwin, aarch64-apple-darwin (on a Mac)
#             x86_64-unknown-linux-gnu (the default here) links glibc
#             dynamically: it runs on distributions with this machine's glibc
#             or newer.
#   PROFILE   cargo profile: release (default; LTO, about 7 minutes) or dev
#             (a quick check of this script).
#   BIN       a kubectl-etcd already built for this machine: packaged for the
#             host target instead of building it (tests use this).
#   BASE_URL  where the archives will be downloaded from (default: the GitHub
#             release vVERSION of the homepage in krew/etcd.yaml).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

die() { echo "error: $*" >&2; exit "${2:-1}"; }

[ $# -ge 1 ] || die "usage: scripts/release.sh VERSION [OUT_DIR]" 2
version="${1#v}"
crate_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
[ "$version" = "$crate_version" ] ||
    die "version $version is not Cargo.toml's $crate_version (bump Cargo.toml first)" 2
out="${2:-dist/v$version}"
profile="${PROFILE:-release}"
case "$profile" in
    release) profile_dir=release ;;
    dev) profile_dir=debug ;;
    *) die "PROFILE must be release or dev, not $profile" 2 ;;
esac
host="$(rustc -vV | sed -n 's/^host: //p')"
targets="${TARGETS:-$host}"
homepage="$(sed -n 's/^  homepage: //p' krew/etcd.yaml)"
base_url="${BASE_URL:-$homepage/releases/download/v$version}"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# krew's selector for a Rust target.
platform() {
    case "$1" in
        x86_64-unknown-linux-*) echo "linux amd64" ;;
        aarch64-unknown-linux-*) echo "linux arm64" ;;
        x86_64-apple-darwin) echo "darwin amd64" ;;
        aarch64-apple-darwin) echo "darwin arm64" ;;
        *) return 1 ;;
    esac
}

# Reproducible archives: sorted names, fixed owner and time, no gzip name.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
archive() { # DIR FILE
    tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime="@$SOURCE_DATE_EPOCH" -cf - . | gzip -n >"$2"
}

# A binary for this machine: completion scripts come from it.
if [ -n "${BIN:-}" ]; then
    host_bin="$BIN"
else
    echo "building kubectl-etcd for $host ($profile)..." >&2
    cargo build --locked --profile "$profile" --bin kubectl-etcd
    host_bin="target/$profile_dir/kubectl-etcd"
fi
[ -x "$host_bin" ] || die "no binary at $host_bin"

echo "generating man pages (clap_mangen)..." >&2
"$host_bin" __man "$work/man"
mkdir -p "$work/completions"
"$host_bin" completion bash >"$work/completions/kubectl-etcd.bash"
"$host_bin" completion zsh >"$work/completions/_kubectl-etcd"
"$host_bin" completion fish >"$work/completions/kubectl-etcd.fish"
"$host_bin" completion elvish >"$work/completions/kubectl-etcd.elv"
"$host_bin" completion powershell >"$work/completions/kubectl-etcd.ps1"

platforms="$work/platforms.yaml"
: >"$platforms"
seen=""
for target in $targets; do
    sel="$(platform "$target")" || die "no krew platform for target $target" 2
    case " $seen " in *" $sel "*) die "two targets for krew platform $sel" 2 ;; esac
    seen="$seen $sel"
    read -r os arch <<<"$sel"
    if [ "$target" = "$host" ] && [ -n "${BIN:-}" ]; then
        bin="$BIN"
    elif [ "$target" = "$host" ]; then
        bin="$host_bin"
    else
        echo "building kubectl-etcd for $target ($profile)..." >&2
        cargo build --locked --profile "$profile" --bin kubectl-etcd --target "$target"
        bin="target/$target/$profile_dir/kubectl-etcd"
    fi
    name="kubectl-etcd-v$version-$target"
    stage="$work/$name"
    mkdir -p "$stage"
    cp "$bin" "$stage/kubectl-etcd"
    cp completions/kubectl_complete-etcd README.md "$stage/"
    chmod 0755 "$stage/kubectl-etcd" "$stage/kubectl_complete-etcd"
    cp -r "$work/man" "$work/completions" "$stage/"
    archive "$stage" "$out/$name.tar.gz"
    sha="$(sha256sum "$out/$name.tar.gz" | cut -d' ' -f1)"
    echo "$sha  $name.tar.gz" >"$out/$name.tar.gz.sha256"
    echo "$out/$name.tar.gz $sha" >&2
    cat >>"$platforms" <<EOF
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base_url/$name.tar.gz
    sha256: "$sha"
    bin: kubectl-etcd
EOF
done

# The manifest: krew/etcd.yaml up to its platforms, this version, the
# platforms built. (No `files:` list: krew then installs the whole archive,
# man pages and completion scripts included.)
{
    sed -n '/^  platforms:/q; p' krew/etcd.yaml |
        sed '/^#/d; s/^  version: .*/  version: v'"$version"'/'
    echo "  platforms:"
    cat "$platforms"
} >"$out/etcd.yaml"
echo "$out/etcd.yaml" >&2
