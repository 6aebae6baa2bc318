"""The OpenAPI 3.0 service description (issue 12): the landing page claims OGC API
Features ``oas30``, so its ``service-desc`` must be a valid OpenAPI 3.0 document,
converted from FastAPI's 3.1 one, which ``/openapi.json`` keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from eokg.api.openapi_docs import OPENAPI30_MEDIA_TYPE, OPENAPI_MEDIA_TYPE, openapi30, schema30

validators = pytest.importorskip("openapi_spec_validator")

#: JSON Schema 2020-12 keywords with no place in an OpenAPI 3.0 Schema Object.
ONLY_31 = {"const", "examples", "prefixItems", "$schema", "$id", "contentMediaType", "$defs"}
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"


def errors30(document: dict[str, Any]) -> list[str]:
    return [str(e) for e in validators.OpenAPIV30SpecValidator(document).iter_errors()]


def errors31(document: dict[str, Any]) -> list[str]:
    return [str(e) for e in validators.OpenAPIV31SpecValidator(document).iter_errors()]


def schemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object of a converted document (by where OpenAPI puts them)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" or key in ("items", "not", "additionalProperties"):
                if isinstance(value, dict):
                    yield value
            elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                yield from (v for v in value if isinstance(v, dict))
            elif key in ("properties", "schemas") and isinstance(value, dict):
                yield from (v for v in value.values() if isinstance(v, dict))
            if key not in ("enum", "default", "example"):
                yield from schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from schemas(value)


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    from eokg.api.app import create_app
    from eokg.catalog.concepts import ConceptScheme
    from eokg.catalog.samples import SKOS_TTL, extension_items, make_items
    from eokg.catalog.sqlite_index import SqliteIndex

    index = SqliteIndex(None, concepts=ConceptScheme.from_turtle(SKOS_TTL))
    index.upsert_items(make_items(10, seed=5) + extension_items())
    with TestClient(create_app(settings, catalog=index)) as c:
        yield c


def test_service_desc_is_valid_openapi_30(client):
    landing = client.get("/stac").json()
    assert OAS30 in landing["conformsTo"]
    descs = [link for link in landing["links"] if link["rel"] == "service-desc"]
    assert [d["type"] for d in descs] == [OPENAPI30_MEDIA_TYPE, OPENAPI_MEDIA_TYPE]
    for link in descs:
        got = client.get(urlparse(link["href"]).path, headers={"Accept": link["type"]})
        assert got.status_code == 200
        assert got.headers["content-type"] == link["type"]
    first = client.get(urlparse(descs[0]["href"]).path).json()
    assert first["openapi"] == "3.0.3"
    assert errors30(first) == []
    assert errors31(client.get("/openapi.json").json()) == []


def test_30_document_declares_what_the_31_one_does(client):
    """Same operations, parameters and bodies: the conversion loses no declaration."""
    new = client.get("/stac/api").json()
    old = client.get("/openapi.json").json()
    assert new["paths"].keys() == old["paths"].keys()
    for path, item in old["paths"].items():
        assert new["paths"][path].keys() == item.keys(), path
        for method, operation in item.items():
            converted = new["paths"][path][method]
            names = [(p["name"], p["in"]) for p in operation.get("parameters", [])]
            assert [(p["name"], p["in"]) for p in converted.get("parameters", [])] == names
            body = operation.get("requestBody", {}).get("content", {})
            assert converted.get("requestBody", {}).get("content", {}).keys() == body.keys()
            assert converted["responses"].keys() == operation["responses"].keys()
    assert "/stac/api" not in new["paths"]


class Footprint(BaseModel):
    kind: Literal["Polygon"] = "Polygon"
    corner: tuple[float, float] = Field(examples=[(1.0, 2.0)])


class Product(BaseModel):
    id: str = Field(examples=["S1A_IW_GRDH"], json_schema_extra={"$schema": "x", "$id": "y"})
    cloud: float | None = Field(default=None, gt=0, lt=100)
    orbit: int | str | None = None
    footprint: Footprint | None = None
    footprints: list[Footprint] = []
    raw: bytes | None = Field(default=None, json_schema_extra={"contentMediaType": "x/y"})
    tags: dict[str, int] = {}


def sample_31() -> dict[str, Any]:
    """FastAPI's own 3.1 output for models using every construct the conversion handles."""
    app = FastAPI()

    @app.post("/products", response_model=Product | None)
    def create(
        product: Product,
        limit: Annotated[int | None, Query(gt=0, le=10, examples=[3])] = None,
        mode: Literal["fast"] | None = None,
    ) -> Any:
        return product

    document = app.openapi()
    assert document["openapi"].startswith("3.1")
    return document


def test_fastapi_31_constructs_convert_to_valid_30():
    original = sample_31()
    assert errors31(original) == []
    converted = openapi30(original)
    assert errors30(converted) == [], errors30(converted)[:3]
    found = list(schemas(converted))
    assert found
    for schema in found:
        assert not ONLY_31 & schema.keys(), schema
        assert not isinstance(schema.get("type"), list), schema
        assert not any(s.get("type") == "null" for s in schema.get("anyOf", [])), schema
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(schema.get(bound, True), bool), schema
    product = converted["components"]["schemas"]["Product"]["properties"]
    assert product["cloud"] == {
        "type": "number",
        "nullable": True,
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 100,
        "exclusiveMaximum": True,
        "title": "Cloud",
    }
    assert product["id"]["example"] == "S1A_IW_GRDH"
    assert product["footprint"]["nullable"] is True
    assert product["footprint"]["allOf"] == [{"$ref": "#/components/schemas/Footprint"}]
    parameters = {
        p["name"]: p["schema"] for p in converted["paths"]["/products"]["post"]["parameters"]
    }
    assert parameters["mode"] == {
        "title": "Mode",
        "nullable": True,
        "type": "string",
        "enum": ["fast", None],
    }
    assert parameters["limit"]["example"] == 3
    kind = converted["components"]["schemas"]["Footprint"]["properties"]["kind"]
    assert kind["enum"] == ["Polygon"]
    assert original["components"]["schemas"]["Product"]["properties"]["cloud"]["anyOf"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"type": "null"}, {"nullable": True, "enum": [None]}),
        ({"type": ["integer", "string"]}, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        ({"exclusiveMinimum": 1, "minimum": 5}, {"minimum": 5}),
        ({"exclusiveMaximum": 9, "maximum": 10}, {"maximum": 9, "exclusiveMaximum": True}),
        ({"type": "array"}, {"type": "array", "items": {}}),
        ({"prefixItems": [{"type": "number"}]}, {"items": {"anyOf": [{"type": "number"}]}}),
        ({"oneOf": [{"type": "null"}]}, {"oneOf": [{}], "nullable": True}),
        ({"enum": ["a", None]}, {"enum": ["a", None], "nullable": True}),
        ({"properties": {"const": {"const": 1}}}, {"properties": {"const": {"enum": [1]}}}),
        (False, {"not": {}}),
    ],
)
def test_schema_rewrites(given, expected):
    assert schema30(given) == expected


def test_fuzzer_reads_the_30_document_too(client):
    """schemathesis finds the same operations in the 3.0 document as in the 3.1 one."""
    schemathesis = pytest.importorskip("schemathesis")

    def operations(path: str) -> list[str]:
        loaded = schemathesis.openapi.from_asgi(path, client.app)
        return sorted(f"{op.ok().method} {op.ok().path}" for op in loaded.get_all_operations())

    assert operations("/stac/api") == operations("/openapi.json")
