"""Catalogue fixtures: Sentinel-1-like items around Svalbard, a small SKOS scheme,
and the backend fixture that runs every catalogue test on each backend."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.samples import SKOS_TTL, extension_items, make_items


@pytest.fixture(scope="session")
def scheme() -> ConceptScheme:
    return ConceptScheme.from_turtle(SKOS_TTL)


@pytest.fixture(scope="session")
def items() -> list[dict[str, Any]]:
    return make_items(60)


@pytest.fixture(scope="session")
def everything(items) -> list[dict[str, Any]]:
    return items + extension_items()


def _es_url() -> str | None:
    return os.environ.get("EOKG_ES_URL")


@pytest.fixture(
    params=[
        "embedded",
        pytest.param(
            "elasticsearch",
            marks=[
                pytest.mark.es,
                pytest.mark.skipif(
                    not _es_url(), reason="EOKG_ES_URL is not set: no Elasticsearch to test"
                ),
            ],
        ),
    ]
)
def make_index(request, tmp_path, scheme):
    """Factory for an empty index of the parametrised backend."""
    opened = []

    def factory():
        if request.param == "embedded":
            from eokg.catalog.sqlite_index import SqliteIndex

            index = SqliteIndex(tmp_path / f"cat-{len(opened)}.sqlite", concepts=scheme)
        else:
            from eokg.catalog.es_index import EsIndex

            prefix = f"eokg-test-{uuid.uuid4().hex[:8]}"
            index = EsIndex(_es_url(), prefix=prefix, concepts=scheme, refresh=True)
        opened.append(index)
        return index

    yield factory
    for index in opened:
        if hasattr(index, "drop"):
            index.drop()
        index.close()


@pytest.fixture
def index(make_index, items):
    idx = make_index()
    idx.add_collection(
        {
            "type": "Collection",
            "stac_version": "1.1.0",
            "id": "sentinel-1-grd",
            "description": "Sentinel-1 GRD",
            "license": "proprietary",
            "extent": {
                "spatial": {"bbox": [[5, 74, 35, 81]]},
                "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]},
            },
            "links": [],
        }
    )
    report = idx.upsert_items(items + extension_items(), batch_size=25)
    assert report.failed == 0, report.failures
    return idx
