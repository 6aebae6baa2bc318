"""Fixtures for eokg.ml: one generated patch set, loaded once, shared by all tests.

The patches come from the sample generator's own functions; their RDF is
written directly in the shape the shipped RML mapping produces (checked by
``test_fixture_matches_the_rml_mapping``), because mapping 1600 patches with
the RML engine would take most of the test budget.
"""

from __future__ import annotations

import os
import sqlite3  # noqa: F401  before TensorFlow: see eokg.ml.tfcompat
from pathlib import Path

import pytest
from ml_fixtures import write_patch_quads

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_PATCHES = 1600  # the demo size


@pytest.fixture(scope="session")
def ml_rdf(tmp_path_factory) -> list[Path]:
    """N-Quads of N_PATCHES generated patches (the demo size)."""
    pytest.importorskip("tensorflow")
    base = tmp_path_factory.mktemp("mlsample")
    return [write_patch_quads(base / "patches.nq", N_PATCHES)]


@pytest.fixture
def make_store(ml_rdf):
    """A factory of fresh in-memory stores holding the patches and the schemes."""

    def make():
        from eokg.kg.store import GeoStore
        from eokg.ontologies.paths import all_schema_files

        store = GeoStore()
        store.load(ml_rdf)
        store.load(all_schema_files())
        return store

    return make


@pytest.fixture(scope="session")
def ml_store(ml_rdf):
    """The shared read-only store: tests that write use ``make_store`` instead."""
    from eokg.kg.store import GeoStore
    from eokg.ontologies.paths import all_schema_files

    store = GeoStore()
    store.load(ml_rdf)
    store.load(all_schema_files())
    return store


@pytest.fixture(scope="session")
def ml_manifest(ml_store, tmp_path_factory):
    from eokg.ml.shards import materialise
    from eokg.ml.spec import DatasetSpec

    return materialise(ml_store, DatasetSpec(), tmp_path_factory.mktemp("mlcache"),
                       page_size=500)


@pytest.fixture(scope="session")
def trained(ml_manifest, tmp_path_factory):
    """One single-process training run on the demo-size set, shared by later tests."""
    from eokg.ml.train import train

    return train(ml_manifest.spec, manifest=ml_manifest, workers=1, epochs=6, batch_size=64,
                 out_dir=tmp_path_factory.mktemp("mlrun1"))


@pytest.fixture(scope="session")
def subset_spec():
    """The default spec restricted to the patches whose id starts with 0-3 (~1/4 of them)."""
    from dataclasses import replace

    from eokg.ml.spec import DatasetSpec

    spec = DatasetSpec()
    head, _, tail = spec.query.rpartition("}")
    head, _, _ = head.rpartition("}")
    query = (head + '  FILTER(SUBSTR(STR(?patch), 34, 1) IN ("0", "1", "2", "3"))\n  }\n}'
             + tail)
    return replace(spec, name="seaice-quarter", query=query)
