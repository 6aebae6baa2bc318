"""Catalogue fixtures: Sentinel-1-like items around Svalbard, a small SKOS scheme,
and the backend fixture that runs every catalogue test on each backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import opensearch_node  # tests/catalog/opensearch_node.py
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


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The search server of the ``elasticsearch`` backend tests.

    ``EOKG_ES_URL`` when set (your own Elasticsearch or OpenSearch); otherwise an
    OpenSearch node from the distribution ``scripts/install.sh`` unpacked into
    ``.vendor/``, started once per session on a free loopback port and killed at
    the end (``opensearch_node``).  Without either, the tests are skipped.
    """
    url = os.environ.get("EOKG_ES_URL")
    if url:
        yield url
        return
    reason = opensearch_node.missing_reason()
    if reason:
        pytest.skip(reason)
    node = opensearch_node.OpenSearchNode().start()
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.es)])
def make_index(request, tmp_path, scheme):
    """Factory for an empty index of the parametrised backend."""
    opened = []
    # the server is a setup matter: a missing one skips, a broken one errors the setup
    url = request.getfixturevalue("es_url") if request.param == "elasticsearch" else None

    def factory():
        if request.param == "embedded":
            from eokg.catalog.sqlite_index import SqliteIndex

            index = SqliteIndex(tmp_path / f"cat-{len(opened)}.sqlite", concepts=scheme)
        else:
            from eokg.catalog.es_index import EsIndex

            prefix = f"eokg-test-{uuid.uuid4().hex[:8]}"
            index = EsIndex(url, prefix=prefix, concepts=scheme, refresh=True)
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
