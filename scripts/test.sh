#!/usr/bin/env bash
# Install eokg with every extra and the dev tools, then run lint, the import
# contract, a light-core check and the whole test suite (Spark and TF included).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PYTHON="$PYTHON" scripts/install.sh all,dev
# the W3C SPARQL suites tests/kg/test_w3c_sparql.py runs (from PyPI, pinned; see the script)
PYTHON="$PYTHON" scripts/vendor_testsuites.sh
export PYSPARK_PYTHON="$(command -v "$PYTHON")"

"$PYTHON" -m ruff check .
lint-imports
"$PYTHON" -m mypy
"$PYTHON" - <<'PY'
import sys
import eokg, eokg.cli, eokg.config, eokg.errors  # noqa: E401,F401
heavy = [m for m in ("pyspark", "tensorflow", "elasticsearch", "opensearchpy") if m in sys.modules]
sys.exit(f"the core import pulled in {heavy}" if heavy else 0)
PY
"$PYTHON" -m pytest "$@"
