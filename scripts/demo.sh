#!/usr/bin/env bash
# Install eokg with every extra (Java 17 from apt if missing) and run the main
# job end to end on embedded defaults: no server needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PYTHON="$PYTHON" scripts/install.sh all
export PYSPARK_PYTHON="$(command -v "$PYTHON")"
"$PYTHON" -m eokg demo --data-dir "${EOKG_DEMO_DIR:-eokg-data}" "$@"
