#!/usr/bin/env bash
# Unpack the conformance suites the tests run into .vendor/:
#   - the W3C SPARQL 1.0 ("dawg-data-r2") and 1.1 suites, for tests/kg/test_w3c_sparql.py,
#     from rdflib's source distribution;
#   - the W3C KG-Construct RML-Core and RML-FNML test cases, for tests/spark/, from
#     Morph-KGC's source distribution.
#   scripts/vendor_testsuites.sh
# Both are published on web sites this project's machines cannot reach; the two
# source archives on PyPI carry copies.  Each is fetched here, at install time,
# checked against its pinned SHA-256, and only the suite folders are kept:
# nothing is downloaded when the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# vendor NAME VERSION SHA256 DEST PREFIX FOLDER...: unpack FOLDERs under PREFIX of
# the sdist of NAME==VERSION into DEST (atomically: a half unpack is never used).
vendor() {
    local name="$1" version="$2" sha256="$3" dest="$4" prefix="$5"
    shift 5
    if [ -d "$dest" ]; then
        return 0
    fi
    echo "eokg install: test suites from the $name $version sdist -> $dest" >&2
    mkdir -p .vendor
    local tmp
    tmp="$(mktemp -d .vendor/download.XXXXXX)"
    "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation -d "$tmp" "$name==$version" 2>/dev/null \
      || "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        -d "$tmp" "$name==$version"
    local archive
    archive="$(ls "$tmp"/*.tar.gz)"
    if [ "$(sha256sum "$archive" | cut -d" " -f1)" != "$sha256" ]; then
        echo "eokg install: the $name sdist is not the pinned one" >&2
        rm -rf "$tmp"
        return 1
    fi
    "$PYTHON" - "$archive" "$tmp/out" "$prefix" "$@" <<'PY'
import sys, tarfile
archive, out, prefix, *folders = sys.argv[1:]
with tarfile.open(archive) as tar:
    members = []
    for member in tar.getmembers():
        name = member.name.split("/", 1)[1] if "/" in member.name else ""
        rest = name[len(prefix):] if name.startswith(prefix) else ""
        if rest.split("/", 1)[0] in folders and (member.isfile() or member.isdir()):
            member.name = rest
            members.append(member)
    tar.extractall(out, members=members, filter="data")
PY
    rm -rf "$dest"
    mv "$tmp/out" "$dest"
    rm -rf "$tmp"
}

vendor rdflib 7.1.4 fed46e24f26a788e2ab8e445f7077f00edcf95abb73bcef4b86cefa8b62dd174 \
    .vendor/w3c-sparql-7.1.4 test/data/suites/w3c/ sparql11 dawg-data-r2
# Morph-KGC's tests name their sources from its repository root ("test/rml-core/..."),
# so the folders keep that prefix.
vendor morph-kgc 2.10.0 a8d01d4c2118821ed46490bc6445d0d06f0f5dd23e29eeeee1da64ea99e1a124 \
    .vendor/rml-testcases-2.10.0 "" test
