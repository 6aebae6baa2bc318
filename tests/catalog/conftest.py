"""Catalogue fixtures: Sentinel-1-like items around Svalbard, a small SKOS scheme,
and the backend fixtures that run every catalogue test on each backend:
embedded SQLite, OpenSearch and Elasticsearch."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import opensearch_node  # tests/catalog/opensearch_node.py
import pytest

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.samples import SKOS_TTL, extension_items, make_items

#: per search server: the env var naming your own, and the fixture giving its URL
SERVERS = {
    "opensearch": (opensearch_node.SERVER_ENV["opensearch"], "es_url"),
    "elasticsearch": (opensearch_node.SERVER_ENV["elasticsearch"], "elasticsearch_url"),
}
#: search-server params for fixtures that run the catalogue once per server
SERVER_PARAMS = [
    pytest.param(flavor, marks=pytest.mark.es) for flavor in opensearch_node.catalogue_flavors()
]
_gaps: dict[str, str | None] = {}


@pytest.fixture(scope="session")
def scheme() -> ConceptScheme:
    return ConceptScheme.from_turtle(SKOS_TTL)


@pytest.fixture(scope="session")
def items() -> list[dict[str, Any]]:
    return make_items(60)


@pytest.fixture(scope="session")
def everything(items) -> list[dict[str, Any]]:
    return items + extension_items()


def _server(flavor: str) -> Iterator[str]:
    """The env var's server when set, else a node from ``.vendor/`` started once per
    session on a free loopback port and killed at the end; without either, a skip."""
    url = os.environ.get(SERVERS[flavor][0])
    if url:
        yield url
        return
    reason = opensearch_node.missing_reason(flavor)
    if reason:
        pytest.skip(f"{reason}, and {SERVERS[flavor][0]} is not set")
    node = opensearch_node.NODES[flavor]().start()
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """OpenSearch: ``EOKG_ES_URL`` (your own server of either kind), or the
    OpenSearch integ-test node ``scripts/install.sh`` unpacked."""
    yield from _server("opensearch")


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """Elasticsearch: ``EOKG_ELASTICSEARCH_URL``, or the Elasticsearch 8 integ-test
    node ``scripts/install.sh`` unpacked (plain HTTP, security off)."""
    yield from _server("elasticsearch")


def _server_url(request, flavor: str) -> str:
    """The URL of ``flavor``'s server; one lacking what the catalogue needs
    (``opensearch_node.catalogue_gap``) is a skip with the reason."""
    url: str = request.getfixturevalue(SERVERS[flavor][1])
    if url not in _gaps:
        _gaps[url] = opensearch_node.catalogue_gap(url)
    if _gaps[url]:
        pytest.skip(_gaps[url])
    return url


@pytest.fixture(params=SERVER_PARAMS)
def server_url(request) -> str:
    """Each search server the catalogue runs on."""
    return _server_url(request, request.param)


@pytest.fixture(params=["embedded", *SERVER_PARAMS])
def make_index(request, tmp_path, scheme):
    """Factory for an empty index of the parametrised backend."""
    opened = []
    # the server is a setup matter: a missing one skips, a broken one errors the setup
    url = None if request.param == "embedded" else _server_url(request, request.param)

    def factory():
        if url is None:
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
