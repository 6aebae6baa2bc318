"""STAC API routes over the embedded catalogue, through FastAPI's test client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.samples import SKOS_TTL, extension_items, make_items
from eokg.catalog.sqlite_index import SqliteIndex

EOC = "https://w3id.org/eokg/concept/"
ITEMS = make_items(40, seed=11)


@pytest.fixture
def client(settings):
    from eokg.api.app import create_app

    index = SqliteIndex(None, concepts=ConceptScheme.from_turtle(SKOS_TTL))
    index.upsert_items(ITEMS + extension_items())
    app = create_app(settings, catalog=index)
    with TestClient(app) as c:
        yield c


def rel(doc, name, method=None):
    return [
        link
        for link in doc["links"]
        if link["rel"] == name and (method is None or link.get("method") == method)
    ]


def test_landing_and_conformance(client):
    doc = client.get("/stac").json()
    assert doc["type"] == "Catalog"
    for name in ("self", "root", "conformance", "data", "search", "service-desc"):
        assert rel(doc, name), name
    assert rel(doc, "search", "POST")
    assert len(rel(doc, "child")) == 3
    classes = client.get("/stac/conformance").json()["conformsTo"]
    for suffix in (
        "core",
        "item-search",
        "#filter",
        "#sort",
        "#fields",
        "#free-text",
        "cql2-text",
        "cql2-json",
        "aggregation",
        "collections",
    ):
        assert any(c.endswith(suffix) for c in classes), suffix


def test_collections_and_items(client):
    doc = client.get("/stac/collections").json()
    assert {c["id"] for c in doc["collections"]} == {"sentinel-1-grd", "training-data", "models"}
    coll = client.get("/stac/collections/sentinel-1-grd").json()
    assert rel(coll, "items")[0]["href"].endswith("/stac/collections/sentinel-1-grd/items")
    r = client.get("/stac/collections/sentinel-1-grd/items", params={"limit": 15})
    assert r.headers["content-type"].startswith("application/geo+json")
    page = r.json()
    assert page["numberMatched"] == 40 and page["numberReturned"] == 15
    seen = [f["id"] for f in page["features"]]
    while rel(page, "next"):
        href = rel(page, "next")[0]["href"]
        assert "collections=" not in href
        page = client.get(href).json()
        seen += [f["id"] for f in page["features"]]
    assert sorted(seen) == sorted(i["id"] for i in ITEMS)
    one = client.get(f"/stac/collections/sentinel-1-grd/items/{ITEMS[0]['id']}").json()
    assert rel(one, "self")[0]["href"].endswith(f"/items/{ITEMS[0]['id']}")
    assert rel(one, "parent") and rel(one, "root")
    missing = client.get("/stac/collections/sentinel-1-grd/items/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.get("/stac/collections/nope/items").status_code == 404


def test_search_get_bbox_datetime_paging(client):
    params = {
        "bbox": "10,75,25,78",
        "datetime": "2025-03-01T00:00:00Z/..",
        "limit": "4",
        "collections": "sentinel-1-grd",
    }
    expected = {
        i["id"]
        for i in ITEMS
        if shape(i["geometry"]).intersects(box(10, 75, 25, 78))
        and i["properties"]["datetime"] >= "2025-03-01T00:00:00Z"
    }
    page = client.get("/stac/search", params=params).json()
    assert page["numberMatched"] == len(expected)
    got = [f["id"] for f in page["features"]]
    while rel(page, "next"):
        page = client.get(rel(page, "next")[0]["href"]).json()
        got += [f["id"] for f in page["features"]]
    assert set(got) == expected and len(got) == len(expected)


def test_search_post_filter_sort_fields_and_next_body(client):
    body = {
        "filter": {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]},
        "filter-lang": "cql2-json",
        "sortby": [{"field": "orbit", "direction": "asc"}],
        "fields": {"include": ["properties.orbit"]},
        "limit": 5,
    }
    page = client.post("/stac/search", json=body).json()
    assert page["numberMatched"] == 20
    nxt = rel(page, "next")[0]
    assert nxt["method"] == "POST" and nxt["body"]["token"]
    orbits = [f["properties"]["orbit"] for f in page["features"]]
    page2 = client.post("/stac/search", json=nxt["body"]).json()
    orbits += [f["properties"]["orbit"] for f in page2["features"]]
    assert orbits == sorted(orbits)
    assert set(page["features"][0]["properties"]) == {"orbit"}


def test_search_get_text_filter_and_free_text(client):
    page = client.get("/stac/search", params={"filter": "orbit < 10", "limit": 100}).json()
    assert {f["id"] for f in page["features"]} == {
        i["id"] for i in ITEMS if i["properties"]["orbit"] < 10
    }
    page = client.get("/stac/search", params={"q": "nilas", "limit": 100}).json()
    assert page["features"]
    for feature in page["features"]:
        matched = feature["properties"]["eokg:matched"]
        assert matched[0]["via"] == EOC + "seaice/nilas"
    page = client.get(
        "/stac/search", params={"concepts": EOC + "seaice/sea-ice", "limit": 100}
    ).json()
    assert page["numberMatched"] == 30


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"bbox": "1,2,x,4"}, "bbox"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"limit": "0"}, "limit"),
        ({"filter": "platform = = 1"}, "filter at line 1, column 12"),
        ({"token": "zzz"}, "token"),
        ({"sortby": "+a'b"}, "sortby"),
        ({"frobnicate": "1"}, "frobnicate"),
    ],
)
def test_bad_parameters_are_400_naming_them(client, params, where):
    r = client.get("/stac/search", params=params)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["instance"].startswith(where), problem


def test_queryables_and_aggregate(client):
    doc = client.get("/stac/queryables").json()
    for name in ("label:classes", "mlm:name", "mlm:architecture", "mlm:tasks", "platform"):
        assert name in doc["properties"]
    r = client.get("/stac/collections/models/queryables")
    assert r.headers["content-type"].startswith("application/schema+json")
    agg = client.get(
        "/stac/aggregate",
        params={
            "aggregations": "total_count,collection_frequency,datetime_frequency",
            "datetime_frequency_interval": "year",
        },
    ).json()
    by_name = {a["name"]: a for a in agg["aggregations"]}
    assert by_name["total_count"]["value"] == 42
    assert by_name["datetime_frequency"]["buckets"] == [
        {"key": "2025", "data_type": "datetime", "frequency": 42}
    ]
    agg = client.post(
        "/stac/aggregate",
        json={"aggregations": ["concept_frequency"], "collections": ["sentinel-1-grd"]},
    ).json()
    assert sum(b["frequency"] for b in agg["aggregations"][0]["buckets"]) == 40
    bad = client.get("/stac/aggregate", params={"aggregations": "nope"})
    assert bad.status_code == 400 and bad.json()["instance"] == "aggregations"


def test_label_and_mlm_items_queryable(client):
    page = client.post(
        "/stac/search",
        json={
            "filter": "mlm:architecture = 'U-Net' OR A_CONTAINS(label:classes, ('open-water'))",
        },
    ).json()
    assert {f["id"] for f in page["features"]} == {"ice-unet-v1", "ice-labels-2025"}


def test_oversized_body_is_413(settings):
    from eokg.api.app import create_app

    small = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_request_bytes": 50})}
    )
    app = create_app(small, catalog=SqliteIndex(None))
    with TestClient(app) as c:
        r = c.post("/stac/search", json={"ids": ["x" * 100]})
    assert r.status_code == 413


def test_setup_opens_catalog_from_settings(settings, tmp_path):
    from eokg.api.app import create_app

    configured = settings.model_copy(
        update={"catalog": settings.catalog.model_copy(update={"path": tmp_path / "c.sqlite"})}
    )
    app = create_app(configured)
    app.state.catalog.upsert_items(ITEMS[:2])
    with TestClient(app) as c:
        assert c.get("/stac/search").json()["numberMatched"] == 2
