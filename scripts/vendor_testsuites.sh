#!/usr/bin/env bash
# Unpack the W3C SPARQL test suites into .vendor/ for tests/kg/test_w3c_sparql.py.
#   scripts/vendor_testsuites.sh
# The W3C publishes the suites (SPARQL 1.0 "dawg-data-r2" and SPARQL 1.1) only
# on its web site, which this project's machines cannot reach; rdflib ships a
# copy in its source distribution on PyPI.  That archive is fetched here, at
# install time, checked against its pinned SHA-256, and only the two suite
# folders are kept: nothing is downloaded when the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
RDFLIB_SDIST_VERSION="7.1.4"
RDFLIB_SDIST_SHA256="fed46e24f26a788e2ab8e445f7077f00edcf95abb73bcef4b86cefa8b62dd174"
dest=".vendor/w3c-sparql-${RDFLIB_SDIST_VERSION}"
if [ -f "$dest/sparql11/manifest-all.ttl" ]; then
    exit 0
fi
echo "eokg install: W3C SPARQL test suites (from the rdflib ${RDFLIB_SDIST_VERSION} sdist) -> $dest" >&2
mkdir -p .vendor
tmp="$(mktemp -d .vendor/download.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    --no-build-isolation -d "$tmp" "rdflib==${RDFLIB_SDIST_VERSION}" 2>/dev/null \
  || "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$tmp" "rdflib==${RDFLIB_SDIST_VERSION}"
archive="$tmp/rdflib-${RDFLIB_SDIST_VERSION}.tar.gz"
if [ "$(sha256sum "$archive" | cut -d" " -f1)" != "$RDFLIB_SDIST_SHA256" ]; then
    echo "eokg install: the rdflib sdist is not the pinned one" >&2
    exit 1
fi
"$PYTHON" - "$archive" "$tmp/out" <<'PY'
import sys, tarfile
prefix = "rdflib-{}/test/data/suites/w3c/".format(sys.argv[1].rsplit("-", 1)[1][: -len(".tar.gz")])
with tarfile.open(sys.argv[1]) as tar:
    members = []
    for member in tar.getmembers():
        rest = member.name[len(prefix):] if member.name.startswith(prefix) else ""
        if rest.split("/", 1)[0] in ("sparql11", "dawg-data-r2") and (member.isfile() or member.isdir()):
            member.name = rest
            members.append(member)
    tar.extractall(sys.argv[2], members=members, filter="data")
PY
rm -rf "$dest"
mv "$tmp/out" "$dest"  # appears at once: a half unpack is never used
