"""Shared fixtures.  Test folders mirror the packages: tests/kg, tests/spark, ..."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Spark workers must run the interpreter that has pyarrow and eokg.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture
def settings(tmp_path: Path):
    """Embedded-default settings rooted in a temporary folder."""
    from eokg.config import load_settings

    return load_settings(data_dir=tmp_path / "data")
