#!/usr/bin/env bash
# Fetch Apache Jena Fuseki + GeoSPARQL, the peer of bench/jena_bench.py, into .vendor/jena/lib:
#   scripts/vendor_jena.sh          fetch once (again only when a pin changed), then check
#   scripts/vendor_jena.sh --pin    after changing bench/jena/pom.xml: resolve afresh and
#                                   rewrite bench/jena/jars.sha256 from what Maven fetched
# The versions are pinned in bench/jena/pom.xml (Jena 5.6.0: the newest that runs on
# Java 17; 6.x needs Java 21).  Maven resolves the whole dependency tree with strict
# checksums (-C: a jar whose SHA-1 differs from the one Maven Central publishes next
# to it fails the run), then every jar, and the set of jars, must equal
# bench/jena/jars.sha256 (SHA-256), which also covers jars taken from Maven's local
# cache (.vendor/jena-m2) without a download.  Nothing is fetched when the bench runs.
set -euo pipefail
cd "$(dirname "$0")/.."
POM="bench/jena/pom.xml"
PINS="bench/jena/jars.sha256"
DEST=".vendor/jena"
CACHE=".vendor/jena-m2"
pin=0
[ "${1:-}" = "--pin" ] && pin=1

need() {  # need COMMAND APT_PACKAGE: install from apt only when missing, as scripts/install.sh does
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "eokg vendor_jena: no $1 found, installing $2 from apt" >&2
        export DEBIAN_FRONTEND=noninteractive
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -q
        $sudo apt-get install -y -q --no-install-recommends "$2"
    fi
}
need java openjdk-17-jre-headless
need mvn maven

# What is there is named by the two pin files: a changed pom or manifest fetches again.
stamp="$({ cat "$POM"; cat "$PINS" 2>/dev/null || true; } | sha256sum | cut -d" " -f1)"
if [ "$pin" = 0 ] && [ -f "$DEST/PINS" ] && [ "$(cat "$DEST/PINS")" = "$stamp" ]; then
    exit 0
fi
if [ "$pin" = 0 ] && [ ! -f "$PINS" ]; then
    echo "eokg vendor_jena: $PINS is missing; run scripts/vendor_jena.sh --pin once" >&2
    exit 1
fi

echo "eokg vendor_jena: Jena Fuseki + GeoSPARQL from Maven Central -> $DEST" >&2
mkdir -p .vendor
tmp="$(mktemp -d .vendor/download.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # mktemp's 700 would hide the jars from other users of the checkout
mvn -B -q -C -Dstyle.color=never -Dmaven.repo.local="$PWD/$CACHE" -f "$POM" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$PWD/$tmp/lib"
got="$(cd "$tmp/lib" && sha256sum -- *.jar | LC_ALL=C sort -k2)"
if [ "$pin" = 1 ]; then
    printf '%s\n' "$got" >"$PINS"
    echo "eokg vendor_jena: wrote $PINS ($(wc -l <"$PINS") jars)" >&2
    stamp="$(cat "$POM" "$PINS" | sha256sum | cut -d" " -f1)"
elif ! diff <(printf '%s\n' "$got") "$PINS" >&2; then
    echo "eokg vendor_jena: the resolved jars are not the pinned ones (diff above)" >&2
    exit 1
fi
printf '%s\n' "$stamp" >"$tmp/PINS"
rm -rf "$DEST"
mv "$tmp" "$DEST"  # the finished folder appears at once: a half download is never used
trap - EXIT
