"""Fixtures for the mapping engine: one shared SparkSession, one small sample dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark():
    """One SparkSession for the whole test session (startup costs ~5 s)."""
    pytest.importorskip("pyspark")
    from eokg.config import SparkSettings
    from eokg.spark.session import build_session

    session = build_session(
        SparkSettings(master="local[2]", shuffle_partitions=2, arrow_batch_rows=500)
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A small generated sample (the real sample data contract), shared by tests."""
    from eokg.data.generate import generate_sample

    out = tmp_path_factory.mktemp("sample")
    generate_sample(
        out, n_products=12, n_patches=16, n_icecharts=12, n_parcels=15, n_predictions=8, seed=7
    )
    return out


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Spark standalone master and two workers, separate JVMs on loopback
    (``standalone.StandaloneCluster``), shared by the cluster and fault tests:
    each start costs some 15 s of JVMs.  A test that kills an executor leaves
    the workers running; they start the next application's executors afresh."""
    from standalone import StandaloneCluster

    with StandaloneCluster(tmp_path_factory.mktemp("cluster"), workers=2) as running:
        yield running


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path
