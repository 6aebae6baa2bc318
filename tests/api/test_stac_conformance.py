"""STAC API conformance (issue 12): each rule the ecosystem's validator checks, then the
validator itself (``stac-api-validator``) against a live server on loopback.

The validator fetches JSON Schemas from schemas.stacspec.org; here it gets pystac's
bundled copies instead, so nothing but loopback is reached.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.index import MAX_LIMIT
from eokg.catalog.samples import SKOS_TTL, extension_items, make_items

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalog"))
import opensearch_node  # tests/catalog/opensearch_node.py

ICE = "https://w3id.org/eokg/concept/seaice/"
POLYGON = {"type": "Polygon", "coordinates": [[[10, 74], [30, 74], [30, 80], [10, 80], [10, 74]]]}
GEOJSON = "application/geo+json"


def optical_items(n: int = 12) -> list[dict[str, Any]]:
    """Sentinel-2 items: the validator's filters name ``eo:cloud_cover`` and ``mission``,
    which must be queryables (an unknown one is a 400, as OGC API Features 3 says)."""
    from eokg.data.stac_items import s2_item

    items = [s2_item(5, i) for i in range(n)]
    for item in items:
        item["properties"]["mission"] = "sentinel-2"
    return items


def catalogue_items() -> list[dict[str, Any]]:
    return make_items(40, seed=5) + extension_items() + optical_items()


#: a collection with a real extent (the others are placeholders: the whole world, all
#: time), so collection search has something to tell apart.
PARCELS = {
    "type": "Collection",
    "stac_version": "1.1.0",
    "id": "brittany-parcels",
    "title": "Brittany field parcels",
    "description": "Crop-type field parcels of Brittany, 2024",
    "license": "CC-BY-4.0",
    "keywords": ["crops", "parcels"],
    "extent": {
        "spatial": {"bbox": [[-5.2, 47.2, -1.0, 48.9]]},
        "temporal": {"interval": [["2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"]]},
    },
    "links": [],
}


def fill(index: Any) -> Any:
    index.add_collection(PARCELS)
    report = index.upsert_items(catalogue_items())
    assert report.failed == 0, report.failures[:2]
    return index


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    from eokg.api.app import create_app
    from eokg.catalog.sqlite_index import SqliteIndex

    index = fill(SqliteIndex(None, concepts=ConceptScheme.from_turtle(SKOS_TTL)))
    with TestClient(create_app(settings, catalog=index)) as c:
        yield c


def search(client: TestClient, method: str, **params: Any) -> Any:
    if method == "GET":
        query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
        return client.get("/stac/search", params=query)
    return client.post("/stac/search", json=params)


def first(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["features"][0]


# ---------------------------------------------------------------------- item search


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_limit_above_the_maximum_is_clamped(client, method):
    for limit in (MAX_LIMIT + 1, 1_000_000):
        got = search(client, method, limit=limit)
        assert got.status_code == 200, got.text
        assert got.json()["numberReturned"] == got.json()["numberMatched"]
    assert search(client, method, limit=-1).status_code == 400


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bbox_with_intersects_is_400(client, method):
    bbox = "10,74,30,80" if method == "GET" else [10, 74, 30, 80]
    got = search(client, method, bbox=bbox, intersects=POLYGON)
    assert got.status_code == 400, got.text
    assert got.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "value",
    [
        "1985-04-12",
        "1985-04-12T23:20:50.Z",
        "1985-04-12T23:20:50,Z",
        "1985-04-12T23:20:50,52Z",
        "1985-12-12T23:20:50.52",
        "1937-01-01T12:00:27.87+0100",
        "/1984-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z",
    ],
)
def test_datetime_that_is_not_rfc3339_is_400(client, value):
    for method in ("GET", "POST"):
        got = search(client, method, datetime=value)
        assert got.status_code == 400, (method, got.text)
        assert got.json()["instance"] == "datetime"


@pytest.mark.parametrize(
    "value",
    ["1985-04-12t23:20:50.000z", "1990-12-31T23:59:60Z", "2020-07-23T00:00:00.012345678Z"],
)
def test_rfc3339_edge_forms_are_accepted(client, value):
    assert search(client, "GET", datetime=value).status_code == 200


def test_collections_as_a_comma_list_in_post(client):
    listed = client.post("/stac/search", json={"collections": ["models", "training-data"]})
    comma = client.post("/stac/search", json={"collections": "models,training-data"})
    assert comma.status_code == 200, comma.text
    assert comma.json()["numberMatched"] == listed.json()["numberMatched"] == 2


# ---------------------------------------------------------------------- fields extension


def test_fields_null_lists_mean_the_default_set(client):
    item = first(search(client, "POST", fields={"include": None, "exclude": None}))
    assert {"type", "stac_version", "id", "geometry", "bbox", "links", "assets"} <= set(item)
    assert set(item["properties"]) == {"datetime"}
    assert set(first(search(client, "GET", fields=""))["properties"]) == {"datetime"}
    assert search(client, "POST", fields=None).status_code == 400


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fields_include_is_the_include_plus_a_minimal_set(client, method):
    fields = "geometry" if method == "GET" else {"include": ["geometry"]}
    item = first(search(client, method, fields=fields))
    assert set(item) == {"type", "id", "collection", "links", "geometry"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fields_excluded_identifiers_and_links_are_left_out(client, method):
    names = ["type", "id", "collection", "stac_version", "links"]
    fields = ",".join("-" + n for n in names) if method == "GET" else {"exclude": names}
    item = first(search(client, method, fields=fields))
    assert not set(names) & set(item)
    assert "geometry" in item and "platform" in item["properties"]


def test_fields_empty_include_with_exclude_subtracts_from_the_default_set(client):
    item = first(search(client, "POST", fields={"include": [], "exclude": ["geometry"]}))
    assert "geometry" not in item and "platform" not in item["properties"]
    whole = first(search(client, "POST", fields={"exclude": ["geometry"]}))
    assert "geometry" not in whole and "platform" in whole["properties"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fields_including_a_child_of_an_excluded_parent_keeps_the_child(client, method):
    if method == "GET":
        fields: Any = "-properties,+properties.platform"
    else:
        fields = {"exclude": ["properties"], "include": ["properties.platform"]}
    item = first(search(client, method, fields=fields, collections="sentinel-1-grd"))
    assert list(item["properties"]) == ["platform"]


def test_fields_next_link_keeps_the_default_set(client):
    page = client.get("/stac/search", params={"fields": "", "limit": 2}).json()
    following = next(link for link in page["links"] if link["rel"] == "next")
    assert set(first(client.get(following["href"]))["properties"]) == {"datetime"}
    posted = search(client, "POST", fields={"include": [], "exclude": ["bbox"]}, limit=2).json()
    body = next(link for link in posted["links"] if link["rel"] == "next")["body"]
    second = first(client.post("/stac/search", json=body))
    assert "bbox" not in second and "platform" not in second["properties"]


# ---------------------------------------------------------------------- landing, collections


def test_service_desc_type_is_what_openapi_json_answers(client):
    landing = client.get("/stac").json()
    link = next(link for link in landing["links"] if link["rel"] == "service-desc")
    got = client.get(urlparse(link["href"]).path, headers={"Accept": link["type"]})
    assert got.status_code == 200
    assert got.headers["content-type"] == link["type"]
    assert got.json()["openapi"].startswith(link["type"].rsplit("=", 1)[1])
    assert client.get("/docs").status_code == 200


def test_collection_free_text_q(client):
    conforms = client.get("/stac/conformance").json()["conformsTo"]
    assert any(c.endswith("collection-search#free-text") for c in conforms)
    everything = client.get("/stac/collections").json()["collections"]
    assert len(everything) == 5
    got = client.get("/stac/collections", params={"q": "Sentinel"}).json()
    assert {c["id"] for c in got["collections"]} == {"sentinel-1-grd", "sentinel-2-l2a"}
    assert got["numberMatched"] == 2
    either = client.get("/stac/collections", params={"q": "models,sentinel 2"}).json()
    assert {c["id"] for c in either["collections"]} == {"models", "sentinel-2-l2a"}
    assert client.get("/stac/collections", params={"q": "sent"}).json()["collections"] == []


COLLECTION_SEARCH = [
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/simple-query",
]


def collection_ids(client: TestClient, **params: Any) -> list[str]:
    got = client.get("/stac/collections", params=params)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["numberReturned"] == len(body["collections"])
    return [c["id"] for c in body["collections"]]


def test_collection_search_claimed_on_landing_and_conformance(client):
    for path in ("/stac", "/stac/conformance"):
        assert set(COLLECTION_SEARCH) <= set(client.get(path).json()["conformsTo"])


def test_collection_search_bbox_and_datetime(client):
    placeholders = ["models", "sentinel-1-grd", "sentinel-2-l2a", "training-data"]
    assert collection_ids(client, bbox="-3,48,-2,48.5") == ["brittany-parcels", *placeholders]
    assert collection_ids(client, bbox="10,74,30,80") == placeholders
    assert collection_ids(client, bbox="170,-10,-170,10") == placeholders  # antimeridian
    assert "brittany-parcels" in collection_ids(client, datetime="2024-06-01T00:00:00Z")
    assert "brittany-parcels" in collection_ids(client, datetime="../2024-01-01T00:00:00Z")
    assert "brittany-parcels" not in collection_ids(client, datetime="2025-01-01T00:00:00Z/..")
    both = {"bbox": "-3,48,-2,48.5", "datetime": "2024-03-01T00:00:00Z", "q": "crops"}
    assert collection_ids(client, **both) == ["brittany-parcels"]
    assert (
        collection_ids(
            client,
            bbox="-3,48,-2,48.5",
            q="crops",
            datetime="2023-03-01T00:00:00Z/2023-04-01T00:00:00Z",
        )
        == []
    )


def test_collection_search_pages_with_next_and_prev(client):
    everything = collection_ids(client)
    seen, url = [], "/stac/collections?limit=2&bbox=-180,-90,180,90"
    pages = []
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == len(everything)
        pages.append(body)
        seen += [c["id"] for c in body["collections"]]
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    assert seen == everything and len(pages) == 3
    assert not any(lk["rel"] == "prev" for lk in pages[0]["links"])
    back = next(lk["href"] for lk in pages[-1]["links"] if lk["rel"] == "prev")
    assert "bbox=" in back and "limit=2" in back
    assert client.get(back).json()["collections"] == pages[1]["collections"]


def test_collection_search_limit_is_clamped_and_defaults_to_ten(client):
    assert len(collection_ids(client, limit=MAX_LIMIT + 1)) == 5
    assert len(collection_ids(client, limit=1_000_000)) == 5
    assert len(collection_ids(client, limit=1)) == 1


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "0,60,10,50"}, "bbox"),
        ({"datetime": "2024-01-01"}, "datetime"),
        ({"datetime": "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"}, "datetime"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"token": "not-ours"}, "token"),
        ({"sortby": "id"}, "sortby"),
    ],
)
def test_collection_search_bad_values_are_400_problems(client, params, where):
    got = client.get("/stac/collections", params=params)
    assert got.status_code == 400, got.text
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["instance"] == where


# ---------------------------------------------------------------------- CORS and OPTIONS


def test_cors_on_reads_from_any_origin(client):
    got = client.get("/stac", headers={"Origin": "https://app.example"})
    assert got.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/stac/search",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_cors_never_for_the_api_key(client, header):
    preflight = client.options(
        "/sparql",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": f"content-type,{header}",
        },
    )
    assert not {k for k in preflight.headers if k.startswith("access-control-")}
    keyed = client.get("/stac", headers={"Origin": "https://evil.example", header: "Bearer k"})
    assert "access-control-allow-origin" not in keyed.headers


def test_cors_never_for_sparql_update(client):
    got = client.post(
        "/sparql",
        content="INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        headers={"Origin": "https://evil.example", "Content-Type": "application/sparql-update"},
    )
    assert got.status_code in (401, 403)
    assert "access-control-allow-origin" not in got.headers


def test_cors_origins_come_from_settings(settings):
    from eokg.api.app import create_app
    from eokg.config import CorsSettings

    only = settings.model_copy(update={"cors": CorsSettings(allow_origins=["https://ok.example"])})
    with TestClient(create_app(only)) as c:
        allowed = c.get("/stac/conformance", headers={"Origin": "https://ok.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://ok.example"
        other = c.get("/stac/conformance", headers={"Origin": "https://other.example"})
        assert "access-control-allow-origin" not in other.headers
    off = settings.model_copy(update={"cors": CorsSettings(allow_origins=[])})
    with TestClient(create_app(off)) as c:
        got = c.get("/stac/conformance", headers={"Origin": "https://ok.example"})
        assert "access-control-allow-origin" not in got.headers


def test_cors_settings_refuse_credential_headers():
    from eokg.config import load_settings
    from eokg.errors import ConfigError

    with pytest.raises(ConfigError):
        load_settings(cors={"allow_headers": ["Content-Type", "X-API-Key"]})


def test_plain_options_answers_allow(client):
    got = client.options("/stac/search")
    assert got.status_code == 204
    assert set(got.headers["allow"].split(", ")) >= {"GET", "POST", "OPTIONS"}
    assert client.options("/nowhere").status_code == 404


# ---------------------------------------------------------------------- semantic search

LABELS = f"""
@prefix eo: <https://w3id.org/eokg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://example.org/label/1> a eo:Label ; eo:labelClass <{ICE}nilas> ; rdfs:label "nilas" .
<https://example.org/label/2> a eo:Label ; eo:labelClass <{ICE}new-ice> ; rdfs:label "new" .
"""


@pytest.fixture
def semantic(settings, tmp_path) -> Iterator[TestClient]:
    """The catalogue plus a local graph store only (no federated sources)."""
    from eokg.api.app import create_app
    from eokg.catalog.sqlite_index import SqliteIndex
    from eokg.kg.store import GeoStore

    scheme = ConceptScheme.from_turtle(SKOS_TTL)
    index = SqliteIndex(None, concepts=scheme)
    index.upsert_items(make_items(40, seed=5))
    (tmp_path / "labels.ttl").write_text(LABELS, encoding="utf-8")
    store = GeoStore()
    store.load([tmp_path / "labels.ttl"])
    with TestClient(create_app(settings, store=store, catalog=index, concepts=scheme)) as c:
        yield c


def test_semantic_matched_counts_every_match_not_the_page(semantic):
    every = semantic.get("/search/semantic", params={"concept": ICE + "sea-ice", "limit": 500})
    total = every.json()["matched"]
    assert total == len(every.json()["hits"]) > 10
    page = semantic.get("/search/semantic", params={"concept": ICE + "sea-ice", "limit": 3})
    assert len(page.json()["hits"]) == 3 and page.json()["matched"] == total


def test_semantic_local_graph_hits_are_named_graph_local(semantic):
    params = {"concept": ICE + "new-ice", "limit": 500}
    body = semantic.get("/search/semantic", params=params).json()
    features = [h for h in body["hits"] if h["kind"] == "feature"]
    assert {h["id"] for h in features} == {
        "https://example.org/label/1",
        "https://example.org/label/2",
    }
    assert all(h["sources"] == ["graph:local"] for h in features)
    assert all(w["source"] == "graph:local" for h in features for w in h["why"])
    assert "federation:federation" not in body["sources"]


def test_semantic_bbox_with_intersects_is_400(semantic):
    body = {"q": "ice", "bbox": [10, 74, 30, 80], "intersects": POLYGON}
    assert semantic.post("/search/semantic", json=body).status_code == 400


# ---------------------------------------------------------------------- the validator

CLASSES = [
    "core",
    "collections",
    "features",
    "item-search",
    "filter",
    "item-search#sort",
    "item-search#fields",
    "features#sort",
    "features#fields",
]


def offline_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """stac-validator's fetches: bundled schemas, loopback, and nothing else."""
    import requests
    import stac_validator.utilities as utilities
    from jsonschema.validators import Draft7Validator
    from pystac.validation.local_validator import get_local_schema_cache

    local = get_local_schema_cache()
    local["http://json-schema.org/draft-07/schema"] = Draft7Validator.META_SCHEMA
    fetch = utilities.fetch_and_parse_file

    def offline(path: str, headers: dict[str, str] | None = None) -> Any:
        if path.rstrip("#") in local:
            return local[path.rstrip("#")]
        if urlparse(path).hostname in (None, "127.0.0.1"):
            return fetch(path, headers)
        raise requests.exceptions.ConnectionError(f"no network in tests: {path}")

    monkeypatch.setattr(utilities, "fetch_and_parse_file", offline)


def es_index(flavor: str) -> Any:
    """A search-server index: EOKG_ES_URL (OpenSearch) or EOKG_ELASTICSEARCH_URL, or
    a node of that flavour started for this test (a skip when it cannot host the
    catalogue: ``opensearch_node.catalogue_gap``)."""
    import os
    import uuid

    from eokg.catalog.es_index import EsIndex

    url, node = os.environ.get(opensearch_node.SERVER_ENV[flavor]), None
    if not url:
        reason = opensearch_node.missing_reason(flavor)
        if reason:
            pytest.skip(reason)
        node = opensearch_node.NODES[flavor]().start()
        url = node.url
    gap = opensearch_node.catalogue_gap(url)
    if gap:
        if node is not None:
            node.stop()
        pytest.skip(gap)
    prefix = f"eokg-validator-{uuid.uuid4().hex[:8]}"
    scheme = ConceptScheme.from_turtle(SKOS_TTL)
    return EsIndex(url, prefix=prefix, concepts=scheme, refresh=True), node


@pytest.fixture(
    params=[
        "embedded",
        *(pytest.param(f, marks=pytest.mark.es) for f in opensearch_node.catalogue_flavors()),
    ]
)
def live_stac(request, tmp_path, settings) -> Iterator[str]:
    """uvicorn on a loopback port over the catalogue of the parametrised backend."""
    import uvicorn

    from eokg.api.app import create_app
    from eokg.catalog.sqlite_index import SqliteIndex

    node = None
    if request.param == "embedded":
        scheme = ConceptScheme.from_turtle(SKOS_TTL)
        index: Any = SqliteIndex(tmp_path / "cat.sqlite", concepts=scheme)
    else:
        index, node = es_index(request.param)
    fill(index)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(settings, catalog=index)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/stac"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if hasattr(index, "drop"):
            index.drop()
        index.close()
        if node is not None:
            node.stop()


@pytest.mark.server
@pytest.mark.slow
def test_stac_api_validator_reports_no_errors(live_stac, monkeypatch):
    from stac_api_validator.validations import QueryConfig, validate_api

    offline_schemas(monkeypatch)
    _warnings, errors = validate_api(
        root_url=live_stac,
        ccs_to_validate=CLASSES,
        collection="sentinel-1-grd",
        geometry=json.dumps(POLYGON),
        auth_bearer_token=None,
        auth_query_parameter=None,
        fields_nested_property="properties.platform",
        validate_pagination=True,
        query_config=QueryConfig(*[None] * 13),
        transaction_collection=None,
        headers={},
        open_assets_urls=False,  # s3:// hrefs of the samples; nothing to open offline
    )
    assert errors.as_list() == []
    collection_search_through_pystac_client(live_stac)


def collection_search_through_pystac_client(url: str) -> None:
    """The validator (0.6.8) has no collection-search class; pystac-client does it
    server-side when the class is claimed, and warns (``DoesNotConformTo``) otherwise."""
    import warnings

    from pystac_client import Client

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = Client.open(url)
        found = client.collection_search(
            bbox=[-3, 48, -2, 48.5], datetime="2024-05", q="parcels", limit=1
        )
        assert [c.id for c in found.collections()] == ["brittany-parcels"]
        paged = client.collection_search(bbox=[-180, -90, 180, 90], limit=2)
        ids = [c.id for c in paged.collections()]
        assert ids == sorted(ids) and len(ids) == len(set(ids)) == 5
        assert paged.matched() == 5
