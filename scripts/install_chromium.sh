#!/usr/bin/env bash
# Install Chromium from Debian for tests/api/test_stac_browser.py, which drives it
# headless against the running API.  Debian's package rather than a Playwright or
# Puppeteer download: those fetch browsers from sites this project cannot reach.
#   scripts/install_chromium.sh
# Nothing happens when a chromium is already on PATH, so it is safe to rerun.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "eokg install: chromium from apt (for the STAC Browser tests)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
