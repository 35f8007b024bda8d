#!/usr/bin/env bash
# Fetch Debian trixie's etcd 3.5 binaries (etcd-server, etcd-client) for the
# integration tests, without installing anything system-wide.
#
# The packages come from the same mirror as the host's configured apt sources
# (no host name is hard-coded here), through a private apt state directory so
# the system package lists stay untouched. The .debs are only extracted with
# dpkg-deb -x.
#
# Usage: scripts/fetch-etcd-3.5.sh [DEST]     (default DEST: ./.etcd-3.5)
# Then:  export ETCD_BIN=DEST/usr/bin/etcd    (the line is printed at the end)
set -euo pipefail

DEST="${1:-./.etcd-3.5}"
SUITE="${ETCD_SUITE:-trixie}"
PACKAGES=(etcd-server etcd-client)

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

# shellcheck disable=SC1091
CODENAME="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"

# Pick the mirror serving the host's main suite: deb822 stanzas first, then
# one-line sources.list entries. Prints "URI<TAB>SIGNED_BY".
find_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk -v want="$CODENAME" '
            function flush() {
                if (uri != "" && (want == "" || index(" " suites " ", " " want " ") > 0) && !done) {
                    print uri "\t" signed; done = 1
                }
                uri = ""; suites = ""; signed = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[Uu][Rr][Ii][Ss]:/ { sub(/^[^:]*:[[:space:]]*/, ""); split($0, u, /[[:space:]]+/); uri = u[1]; next }
            /^[Ss]uites:/ { sub(/^[^:]*:[[:space:]]*/, ""); suites = $0; next }
            /^[Ss]igned-[Bb]y:/ { sub(/^[^:]*:[[:space:]]*/, ""); signed = $0; next }
            END { flush() }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        awk -v want="$CODENAME" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if (want == "" || $(i + 1) == want) { print $i "\t"; exit }
            }
        ' "$f"
    done
}

MIRROR_LINE="$(find_mirror | head -n 1)"
if [ -z "$MIRROR_LINE" ]; then
    echo "error: no apt source for suite '${CODENAME}' found in /etc/apt" >&2
    exit 1
fi
MIRROR="${MIRROR_LINE%%$'\t'*}"
SIGNED_BY="${MIRROR_LINE#*$'\t'}"
echo "mirror: $MIRROR (suite $SUITE)" >&2

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# apt drops privileges to _apt for downloads; it must be able to write here.
chmod 755 "$WORK"
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/parts" "$WORK/debs"
{
    echo "Types: deb"
    echo "URIs: $MIRROR"
    echo "Suites: $SUITE"
    echo "Components: main"
    if [ -n "$SIGNED_BY" ]; then echo "Signed-By: $SIGNED_BY"; fi
} >"$WORK/parts/$SUITE.sources"

# A private apt configuration: only the trixie source, private lists and
# cache, so neither the host's lists nor its installed packages change.
APT_OPTS=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$WORK/parts"
    -o "Dir::State::Lists=$WORK/lists"
    -o "Dir::Cache=$WORK/cache"
    -o "Dir::State::status=/dev/null"
    -o "Debug::NoLocking=1"
    # Only the Packages index is needed; skip AppStream metadata and icons.
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
)

apt-get "${APT_OPTS[@]}" -q update >&2
chmod 777 "$WORK/debs"
(cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" -q download "${PACKAGES[@]}" >&2)

for deb in "$WORK"/debs/*.deb; do
    echo "extracting $(basename "$deb")" >&2
    dpkg-deb -x "$deb" "$DEST"
done

ETCD="$DEST/usr/bin/etcd"
if [ ! -x "$ETCD" ]; then
    echo "error: $ETCD missing after extraction" >&2
    exit 1
fi
VERSION="$("$ETCD" --version | head -n 1)"
echo "$VERSION" >&2
case "$VERSION" in
*" 3.5."*) ;;
*)
    echo "error: expected etcd 3.5, got: $VERSION" >&2
    exit 1
    ;;
esac

echo "ETCD_BIN=$ETCD"
