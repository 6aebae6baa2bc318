#!/usr/bin/env bash
# Install eokg and everything it needs on a fresh Debian machine.
#   scripts/install.sh [EXTRAS]     EXTRAS defaults to "all" (e.g. "all,dev")
# Java 17 (for Spark) comes from apt, only when no java is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
PYTHON="${PYTHON:-python3}"

if [[ ",$extras," == *",spark,"* || ",$extras," == *",all,"* ]] && ! command -v java >/dev/null 2>&1; then
    echo "eokg install: no java found, installing OpenJDK 17 from apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
fi

# strict editable mode: the folder -> eokg.<folder> mapping is seen by mypy and tools.
"$PYTHON" -m pip install -q --disable-pip-version-check \
    -e ".[$extras]" --config-settings editable_mode=strict

# Keras 3 cannot fit with MultiWorkerMirroredStrategy on 2+ workers (keras issue
# 20585): eokg.ml uses tf-keras (TF_USE_LEGACY_KERAS=1). Its metadata would pull a
# second TensorFlow, hence --no-deps; the version follows the installed TF.
if [[ ",$extras," == *",ml,"* || ",$extras," == *",all,"* ]]; then
    tf_version="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("tensorflow"))')"
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps "tf-keras~=${tf_version%.*}.0"
fi
