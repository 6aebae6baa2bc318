#!/usr/bin/env bash
# Build STAC Browser (the web UI the app serves under /browser, api/browser.py) into
# .vendor/stac-browser-4.0.1:
#   scripts/vendor_stac_browser.sh
# The npm package ships sources only, so it is built here, at install time, and
# never when the app or the tests run.  Needs Node.js (18+) and npm; the first run
# fetches ~1,150 npm packages (minutes on a slow link; the build itself ~1.5 min on
# 2 cores).  Nothing happens when the build is already there.
#
# Build options: pathPrefix /browser/ and history mode (build-only options), and
# index.html loads /browser/config.js first (upstream's "dynamic config", as its
# Dockerfile does), which the app writes per request with this server's /stac as
# the catalogue URL: the same build works behind any host name.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.0.1
PACKAGE="@radiantearth/stac-browser"
SHA256=053c8a9849e835d848f6a50f50e905c23e882509c8e4c4b820cbe629d783b955
DEST=".vendor/stac-browser-$VERSION"
# 4.0.1 has no lockfile and asks for ol-stac ^1.1.0; ol-stac 1.5+ imports OpenLayers
# functions missing from the ol ~10.6 it also asks for, and the build fails.
OL_STAC=1.1.0
# No lockfile either: resolve the rest as the registry stood on this day, so a
# release published since (on a registry mirror that holds only part of a
# family, e.g. @babel/parser 7.29.17 without the @babel/types it needs) cannot
# break the build.
NPM_BEFORE=2026-10-01

if [ -f "$DEST/index.html" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "eokg install: STAC Browser needs Node.js and npm (apt-get install nodejs npm)" >&2
    exit 1
fi
echo "eokg install: building $PACKAGE $VERSION -> $DEST" >&2
mkdir -p .vendor
tmp="$(mktemp -d .vendor/stac-browser-build.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
archive="$tmp/radiantearth-stac-browser-$VERSION.tgz"
if [ "$(sha256sum "$archive" | cut -d" " -f1)" != "$SHA256" ]; then
    echo "eokg install: the $PACKAGE $VERSION tarball is not the pinned one" >&2
    exit 1
fi
tar -xzf "$archive" -C "$tmp"
src="$tmp/package"

index="$src/public/index.html"
sed -i 's|<!-- <script defer="defer" src="/config.js"></script> -->|<script defer="defer" src="/browser/config.js"></script>|' "$index"
grep -q 'src="/browser/config.js"' "$index" || {
    echo "eokg install: $index has no config.js line to enable" >&2
    exit 1
}

(
    cd "$src"
    npm pkg set "dependencies.ol-stac=$OL_STAC"
    # no install scripts: they only print banners and install git hooks
    npm install --no-audit --no-fund --ignore-scripts --loglevel=error --before="$NPM_BEFORE"
    SB_pathPrefix=/browser/ SB_historyMode=history NODE_ENV=production \
        npx --no-install vue-cli-service build --noSourceMaps
)
grep -q 'src="/browser/config.js"' "$src/dist/index.html"
rm -rf "$DEST"
mv "$src/dist" "$DEST"
