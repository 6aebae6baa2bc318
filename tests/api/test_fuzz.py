"""Schema-driven fuzzing of the whole HTTP API with schemathesis (issue 13, item 9).

Every operation of ``/openapi.json`` gets bounded generated requests against the
app itself (ASGI, no server): no 5xx, every status and media type declared, and
every declared response schema respected. Acceptance of schema-valid requests is
not asserted: some rules cannot be said in OpenAPI (``q`` or ``concept`` needed,
a query must parse), and those answers are 400 problem documents, declared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
GEO = "http://www.opengis.net/ont/geosparql#"


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from eokg.api.app import create_app
    from eokg.catalog.concepts import ConceptScheme
    from eokg.catalog.samples import SKOS_TTL, extension_items, make_items
    from eokg.catalog.sqlite_index import SqliteIndex
    from eokg.config import load_settings
    from eokg.kg.store import GeoStore

    tmp: Path = tmp_path_factory.mktemp("fuzz")
    settings = load_settings(data_dir=tmp / "data")
    index = SqliteIndex(None, concepts=ConceptScheme.from_turtle(SKOS_TTL))
    index.upsert_items(make_items(20, seed=3) + extension_items())
    store = GeoStore()
    store.update(f'INSERT DATA {{ <http://x/g> <{GEO}asWKT> "POINT(1 2)"^^<{GEO}wktLiteral> }}')
    app = create_app(settings, catalog=index, store=store)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations() -> list[str]:
    return [
        "GET /sparql",
        "POST /sparql",
        "GET /store",
        "HEAD /store",
        "PUT /store",
        "POST /store",
        "DELETE /store",
        "GET /void",
        "GET /stac",
        "GET /stac/conformance",
        "GET /stac/collections",
        "GET /stac/collections/{collection_id}",
        "GET /stac/collections/{collection_id}/items",
        "GET /stac/collections/{collection_id}/items/{item_id}",
        "GET /stac/search",
        "POST /stac/search",
        "GET /stac/queryables",
        "GET /stac/collections/{collection_id}/queryables",
        "GET /stac/aggregate",
        "POST /stac/aggregate",
        "GET /stac/aggregations",
        "GET /federation/sparql",
        "POST /federation/sparql",
        "GET /search/semantic",
        "POST /search/semantic",
    ]


def test_every_route_is_fuzzed(schema: Any) -> None:
    declared = sorted(
        f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()
    )
    assert declared == sorted(_operations())


@pytest.mark.parametrize("name", _operations())
def test_fuzz(schema: Any, name: str) -> None:
    method, path = name.split(" ", 1)
    operation = schema[path][method]

    @hypothesis_settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(operation.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


def test_found_by_fuzzing_a_malformed_graph_iri_is_a_400(schema: Any) -> None:
    """A control character in default-graph-uri once reached pyoxigraph: a 500."""
    from fastapi.testclient import TestClient

    client = TestClient(schema.app)
    for name in ("default-graph-uri", "named-graph-uri"):
        got = client.get("/sparql", params={"query": "ASK {}", name: "\x07bad"})
        assert got.status_code == 400, got.text
        assert got.json()["instance"] == name
