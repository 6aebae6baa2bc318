"""The MetadataIndex contract; runs on every backend (see the ``make_index`` fixture)."""

from __future__ import annotations

from datetime import datetime

import pytest
from shapely.geometry import box, shape

from eokg.catalog.index import FieldsSpec, SearchRequest, SortField
from eokg.errors import InputError, NotFound, QueryError

EOC = "https://w3id.org/eokg/concept/"


def ids(page) -> set[str]:
    return {i["id"] for i in page.items}


def all_pages(index, request: SearchRequest) -> list[dict]:
    out = []
    while True:
        page = index.search(request)
        out.extend(page.items)
        if not page.next_token:
            return out
        request = request.model_copy(update={"token": page.next_token})


def when(item) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00"))


def test_get_and_missing(index, items):
    got = index.get_item("sentinel-1-grd", items[3]["id"])
    assert got["properties"]["platform"] == items[3]["properties"]["platform"]
    with pytest.raises(NotFound):
        index.get_item("sentinel-1-grd", "nope")


def test_collections_include_placeholders(index):
    names = {c["id"] for c in index.collections()}
    assert {"sentinel-1-grd", "training-data", "models"} <= names
    assert index.get_collection("sentinel-1-grd")["license"] == "proprietary"


def test_bbox_exact_geometry(index, items):
    query = box(15, 76, 20, 77.5)
    page = index.search(
        SearchRequest(bbox=[15, 76, 20, 77.5], collections=["sentinel-1-grd"], limit=1000)
    )
    expected = {i["id"] for i in items if shape(i["geometry"]).intersects(query)}
    assert ids(page) == expected
    assert page.matched == len(expected)


def test_intersects_point(index, items):
    point = {"type": "Point", "coordinates": [18.0, 77.0]}
    page = index.search(SearchRequest(intersects=point, limit=1000))
    expected = {i["id"] for i in items if shape(i["geometry"]).intersects(shape(point))}
    expected |= {"ice-labels-2025", "ice-unet-v1"}
    assert ids(page) == expected


def test_datetime_interval_open_ends(index, items):
    page = index.search(
        SearchRequest(
            datetime="2025-06-01T00:00:00Z/..", limit=1000, collections=["sentinel-1-grd"]
        )
    )
    expected = {
        i["id"] for i in items if when(i) >= datetime.fromisoformat("2025-06-01T00:00+00:00")
    }
    assert ids(page) == expected
    page = index.search(SearchRequest(datetime="../2025-03-01T00:00:00Z", limit=1000))
    assert "ice-labels-2025" in ids(page) and "ice-unet-v1" not in ids(page)


def test_pagination_is_complete_and_sorted(index, items):
    request = SearchRequest(limit=7, collections=["sentinel-1-grd"])
    got = all_pages(index, request)
    assert len(got) == len(items) and len({g["id"] for g in got}) == len(items)
    times = [when(g) for g in got]
    assert times == sorted(times, reverse=True)


def test_sortby_property_with_ties(index, items):
    request = SearchRequest(
        limit=9,
        collections=["sentinel-1-grd"],
        sortby=[
            SortField(field="platform", direction="desc"),
            SortField(field="datetime", direction="asc"),
        ],
    )
    got = all_pages(index, request)
    keys = [(g["properties"]["platform"], when(g)) for g in got]
    expected = sorted(keys, key=lambda k: (k[0], -k[1].timestamp()), reverse=True)
    assert keys == expected
    assert len(got) == len(items)


def test_fields_include_exclude(index):
    page = index.search(
        SearchRequest(
            limit=2, fields=FieldsSpec(include=["properties.platform"], exclude=["assets"])
        )
    )
    item = page.items[0]
    assert set(item["properties"]) == {"platform"} or item["collection"] != "sentinel-1-grd"
    assert "assets" not in item and "geometry" not in item and "id" in item
    page = index.search(SearchRequest(limit=2, fields=FieldsSpec(exclude=["geometry"])))
    assert "geometry" not in page.items[0] and "properties" in page.items[0]


CQL_CASES = [
    ("platform = 'sentinel-1a'", lambda p: p.get("platform") == "sentinel-1a"),
    (
        "orbit < 20 AND platform <> 'sentinel-1a'",
        lambda p: p.get("orbit", 999) < 20 and p.get("platform") != "sentinel-1a",
    ),
    ("orbit BETWEEN 10 AND 30", lambda p: 10 <= p.get("orbit", -1) <= 30),
    ("orbit IN (1, 2, 3, 4, 5)", lambda p: p.get("orbit") in (1, 2, 3, 4, 5)),
    ("title LIKE '%scene 1%'", lambda p: "scene 1" in p.get("title", "")),
    (
        "NOT (sar:instrument_mode = 'EW') AND platform IS NOT NULL",
        lambda p: p.get("sar:instrument_mode") != "EW" and "platform" in p,
    ),
    ("platform IS NULL", lambda p: "platform" not in p),
    (
        "datetime > TIMESTAMP('2025-10-01T00:00:00Z')",
        lambda p: p["datetime"] > "2025-10-01T00:00:00Z",
    ),
    (
        "T_INTERSECTS(datetime, INTERVAL('2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z'))",
        lambda p: "2025-02-01T00:00:00Z" <= p["datetime"] <= "2025-03-01T00:00:00Z",
    ),
    (
        "T_BEFORE(datetime, TIMESTAMP('2025-02-01T00:00:00Z'))",
        lambda p: p["datetime"] < "2025-02-01T00:00:00Z",
    ),
    (
        "T_AFTER(datetime, TIMESTAMP('2025-11-01T00:00:00Z'))",
        lambda p: p["datetime"] > "2025-11-01T00:00:00Z",
    ),
    (
        "A_CONTAINS(sar:polarizations, ('HH', 'HV'))",
        lambda p: {"HH", "HV"} <= set(p.get("sar:polarizations", [])),
    ),
    (
        "A_OVERLAPS(sar:polarizations, ('VV', 'XX'))",
        lambda p: "VV" in p.get("sar:polarizations", []),
    ),
    ("A_CONTAINS(label:classes, ('sea-ice'))", lambda p: "label:classes" in p),
    (
        "mlm:architecture = 'U-Net' AND A_CONTAINS(mlm:tasks, ('semantic-segmentation'))",
        lambda p: p.get("mlm:architecture") == "U-Net",
    ),
]


@pytest.mark.parametrize(("text", "predicate"), CQL_CASES, ids=[c[0] for c in CQL_CASES])
def test_cql2_text(index, everything, text, predicate):
    expected = {i["id"] for i in everything if predicate(i["properties"])}
    page = index.search(SearchRequest(filter=text, limit=1000))
    assert ids(page) == expected
    assert page.matched == len(expected)


def test_cql2_json_and_spatial_ops(index, everything):
    poly = {"type": "Polygon", "coordinates": [[[5, 74], [35, 74], [35, 77], [5, 77], [5, 74]]]}
    tree = {
        "op": "and",
        "args": [
            {"op": "s_within", "args": [{"property": "geometry"}, poly]},
            {"op": "=", "args": [{"property": "collection"}, "sentinel-1-grd"]},
        ],
    }
    page = index.search(SearchRequest(filter=tree, limit=1000))
    expected = {
        i["id"]
        for i in everything
        if i["collection"] == "sentinel-1-grd" and shape(i["geometry"]).within(shape(poly))
    }
    assert ids(page) == expected and expected
    page = index.search(
        SearchRequest(
            filter="S_DISJOINT(geometry, POLYGON((5 74, 35 74, 35 77, 5 77, 5 74)))", limit=1000
        )
    )
    assert ids(page) == {i["id"] for i in everything if shape(i["geometry"]).disjoint(shape(poly))}


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ("platform = = 3", "line 1, column 12"),
        ({"op": "frobnicate", "args": []}, "filter"),
        (
            {"op": "and", "args": [{"op": "=", "args": [{"property": "geometry"}, 1]}]},
            "filter.args[0].args[0]",
        ),
    ],
)
def test_cql2_errors_say_where(index, bad, where):
    with pytest.raises(QueryError) as info:
        index.search(SearchRequest(filter=bad))
    assert where in (info.value.where or "")


def test_bad_token_is_input_error(index):
    with pytest.raises(InputError) as info:
        index.search(SearchRequest(token="garbage!"))
    assert info.value.where == "token"


def test_concept_search_expands_narrower(index, everything):
    page = index.search(SearchRequest(concepts=[EOC + "seaice/new-ice"], limit=1000))
    tagged = {EOC + "seaice/new-ice", EOC + "seaice/nilas"}
    expected = {
        i["id"] for i in everything if tagged & set(i["properties"].get("eokg:concepts", []))
    }
    assert ids(page) == expected and expected
    vias = {m.via for reasons in page.why.values() for m in reasons}
    assert vias == tagged
    hit = page.items[0]
    assert hit["properties"]["eokg:matched"][0]["query"] == EOC + "seaice/new-ice"


def test_free_text_matches_labels_in_any_language(index, everything):
    # "Meereis" is the German prefLabel of sea-ice: everything tagged under it matches.
    page = index.search(SearchRequest(q=["Meereis"], limit=1000))
    ice = {EOC + "seaice/new-ice", EOC + "seaice/nilas", EOC + "seaice/first-year-ice"}
    expected = {i["id"] for i in everything if ice & set(i["properties"].get("eokg:concepts", []))}
    assert ids(page) == expected
    assert all(m.kind == "concept" for r in page.why.values() for m in r)
    page = index.search(SearchRequest(q=["glace de premiere annee"], limit=1000))
    assert ids(page) == {
        i["id"]
        for i in everything
        if EOC + "seaice/first-year-ice" in i["properties"].get("eokg:concepts", [])
    }


def test_free_text_matches_title_and_says_so(index, everything):
    page = index.search(SearchRequest(q=["segmentation model", "ice chart"], limit=1000))
    expected = {
        i["id"] for i in everything if "Ice chart" in i["properties"].get("description", "")
    } | {"ice-unet-v1"}
    assert ids(page) == expected
    reasons = page.why["ice-unet-v1"]
    assert reasons[0].kind == "text" and reasons[0].via == "properties.title"


def test_aggregations(index, everything):
    out = {
        a["name"]: a
        for a in index.aggregate(
            SearchRequest(),
            [
                "total_count",
                "collection_frequency",
                "datetime_frequency",
                "concept_frequency",
                "datetime_min",
            ],
            interval="month",
        )
    }
    assert out["total_count"]["value"] == len(everything)
    by_coll = {b["key"]: b["frequency"] for b in out["collection_frequency"]["buckets"]}
    assert by_coll == {"sentinel-1-grd": len(everything) - 2, "training-data": 1, "models": 1}
    months = {b["key"]: b["frequency"] for b in out["datetime_frequency"]["buckets"]}
    assert sum(months.values()) == len(everything) and all(k.startswith("2025-") for k in months)
    concepts = {b["key"]: b["frequency"] for b in out["concept_frequency"]["buckets"]}
    assert sum(concepts.values()) == len(everything) - 2
    assert out["datetime_min"]["value"].startswith("2025-01")
    with pytest.raises(InputError):
        index.aggregate(SearchRequest(), ["nope"])


def test_invalid_items_reported_good_kept(make_index, items):
    idx = make_index()
    bad_geom = dict(items[0], id="bad-geom", geometry={"type": "Polygon", "coordinates": "x"})
    no_time = dict(items[1], id="no-time", properties={"platform": "x"})
    far = dict(items[2], id="far", geometry={"type": "Point", "coordinates": [500, 10]})
    report = idx.upsert_items([items[3], bad_geom, "not an item", no_time, far, items[4]])
    assert report.indexed == 2
    reasons = {f.item_id: f for f in report.failures}
    assert set(reasons) == {"bad-geom", None, "no-time", "far"}
    assert reasons["bad-geom"].field == "geometry"
    assert "datetime" in reasons["no-time"].reason
    assert "range" in reasons["far"].reason
    assert idx.get_item("sentinel-1-grd", items[4]["id"])["id"] == items[4]["id"]


def test_upsert_replaces_and_delete(make_index, items):
    idx = make_index()
    idx.upsert_items(items[:3])
    changed = dict(
        items[0], properties=dict(items[0]["properties"], platform="sentinel-1d", title="replaced")
    )
    idx.upsert_items([changed])
    assert idx.get_item("sentinel-1-grd", items[0]["id"])["properties"]["platform"] == "sentinel-1d"
    assert idx.search(SearchRequest(q=["replaced"])).matched == 1
    assert idx.search(SearchRequest()).matched == 3
    idx.delete_item("sentinel-1-grd", items[0]["id"])
    assert idx.search(SearchRequest()).matched == 2
    assert idx.search(SearchRequest(q=["replaced"])).matched == 0
    with pytest.raises(NotFound):
        idx.delete_item("sentinel-1-grd", items[0]["id"])


def test_queryables_include_extension_fields(index):
    doc = index.queryables()
    for name in ("platform", "label:classes", "mlm:name", "mlm:architecture", "mlm:tasks"):
        assert name in doc["properties"], name
    assert "mlm:name" not in index.queryables("sentinel-1-grd")["properties"]
    with pytest.raises(NotFound):
        index.queryables("nope")


def test_spatial_fast_path_agrees_with_sql_path(index, everything):
    """A top-level S_INTERSECTS takes the vectorised path; inside OR it goes through SQL."""
    poly = "POLYGON((12 75, 22 76, 20 78.5, 11 77, 12 75))"
    fast = f"S_INTERSECTS(geometry, {poly})"
    slow = f"S_INTERSECTS(geometry, {poly}) OR id = 'no-such-item'"
    expected = {
        i["id"]
        for i in everything
        if shape(i["geometry"]).intersects(
            shape(
                {
                    "type": "Polygon",
                    "coordinates": [[[12, 75], [22, 76], [20, 78.5], [11, 77], [12, 75]]],
                }
            )
        )
    }
    for text in (fast, slow):
        got = all_pages(
            index,
            SearchRequest(
                filter=text, limit=4, sortby=[SortField(field="orbit", direction="desc")]
            ),
        )
        assert [g["id"] for g in got if g["id"] in expected] == [g["id"] for g in got]
        assert {g["id"] for g in got} == expected
        orbits = [g["properties"].get("orbit", -1) for g in got]
        assert orbits == sorted(orbits, reverse=True)


def test_bbox_and_datetime_paging_with_token(index, items):
    request = SearchRequest(
        bbox=[5, 74, 35, 81],
        datetime="2025-03-01T00:00:00Z/2025-09-01T00:00:00Z",
        limit=3,
        collections=["sentinel-1-grd"],
    )
    got = all_pages(index, request)
    expected = [
        i
        for i in items
        if "2025-03-01T00:00:00Z" <= i["properties"]["datetime"] <= "2025-09-01T00:00:00Z"
    ]
    assert sorted(g["id"] for g in got) == sorted(i["id"] for i in expected)
    assert index.search(request).matched == len(expected)


def test_long_intervals_found_by_datetime(make_index, items):
    """An item spanning months intersects a query window inside it (duration bound)."""
    idx = make_index()
    long = dict(
        items[0],
        id="season",
        properties={
            "datetime": None,
            "start_datetime": "2024-12-01T00:00:00Z",
            "end_datetime": "2025-02-01T00:00:00Z",
        },
    )
    idx.upsert_items([long, *items[1:5]])
    for window in ("2025-01-15T00:00:00Z/2025-01-20T00:00:00Z", "2025-01-16T00:00:00Z"):
        assert "season" in ids(idx.search(SearchRequest(datetime=window, limit=100)))
    page = idx.search(SearchRequest(datetime=window, bbox=[5, 74, 35, 81], limit=100))
    assert "season" in ids(page)
    assert "season" not in ids(idx.search(SearchRequest(datetime="2025-02-02T00:00:00Z/..")))


def test_large_match_plan_gives_same_pages(index, monkeypatch, everything):
    """Many matches switch to probing the rowid sets; pages must not change."""
    request = SearchRequest(q=["Meereis", "segmentation model"], limit=4)
    before = [i["id"] for i in all_pages(index, request)]
    if type(index).__name__ == "SqliteIndex":
        import eokg.catalog.sqlite_index as module

        monkeypatch.setattr(module, "LARGE_MATCH", 0)
    after = [i["id"] for i in all_pages(index, request)]
    assert before == after and len(before) == index.search(request).matched
