"""CQL2 / SearchRequest -> Elasticsearch DSL, as pure functions (no server needed)."""

from __future__ import annotations

import pytest

from eokg.catalog import cql2_parse, es_query
from eokg.catalog.index import SearchRequest, SortField
from eokg.catalog.items import prepare_item
from eokg.catalog.samples import make_items
from eokg.errors import QueryError

JAN = 1735689600000  # 2025-01-01T00:00:00Z in epoch millis


def es(text):
    from eokg.catalog.cql2_parse import filter_to_json

    return es_query.cql2_to_es(filter_to_json(text))


def test_comparisons_and_logic():
    assert es("platform = 'sentinel-1a'") == {"term": {"properties.platform": "sentinel-1a"}}
    assert es("orbit >= 3") == {"range": {"properties.orbit": {"gte": 3.0}}}
    assert es("orbit BETWEEN 1 AND 2") == {"range": {"properties.orbit": {"gte": 1.0, "lte": 2.0}}}
    assert es("id IN ('a', 'b')") == {"terms": {"id": ["a", "b"]}}
    assert es("platform IS NULL") == {
        "bool": {"must_not": [{"exists": {"field": "properties.platform"}}]}
    }
    tree = es("platform = 'a' AND (orbit < 1 OR NOT orbit > 5)")
    assert tree["bool"]["filter"][1]["bool"]["minimum_should_match"] == 1
    assert tree["bool"]["filter"][1]["bool"]["should"][1] == {
        "bool": {"must_not": [{"range": {"properties.orbit": {"gt": 5.0}}}]}
    }
    assert es("title LIKE 'S1_%'") == {"wildcard": {"properties.title.raw": {"value": "S1?*"}}}


def test_datetime_is_numeric_interval():
    assert es("datetime > TIMESTAMP('2025-01-01T00:00:00Z')") == {"range": {"t_start": {"gt": JAN}}}
    t = es("T_INTERSECTS(datetime, INTERVAL('2025-01-01T00:00:00Z', '..'))")
    assert t == {
        "bool": {
            "filter": [
                {"range": {"t_start": {"lte": es_query.POS_INF}}},
                {"range": {"t_end": {"gte": JAN}}},
            ]
        }
    }
    assert es("T_BEFORE(datetime, TIMESTAMP('2025-01-01T00:00:00Z'))") == {
        "range": {"t_end": {"lt": JAN}}
    }


def test_spatial_and_arrays():
    s = es("S_WITHIN(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))")
    assert s["geo_shape"]["geometry"]["relation"] == "within"
    assert s["geo_shape"]["geometry"]["shape"]["type"] == "Polygon"
    assert es("A_CONTAINS(label:classes, ('ice', 'water'))") == {
        "bool": {
            "filter": [
                {"term": {"derived.label:classes": "ice"}},
                {"term": {"derived.label:classes": "water"}},
            ]
        }
    }
    assert es("A_OVERLAPS(mlm:tasks, ('a'))") == {"terms": {"properties.mlm:tasks": ["a"]}}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("S_TOUCHES(geometry, POINT(1 1))", "filter"),
        ("geometry = 1", "filter.args[0]"),
        ("CASEI(platform) = 'x'", "filter"),
    ],
)
def test_unsupported_say_where(text, where):
    with pytest.raises(QueryError) as info:
        es(text)
    assert info.value.where == where


def test_search_body_core_semantic_sort_and_page():
    request = SearchRequest(
        bbox=[10, 75, 20, 78],
        datetime="2025-01-01T00:00:00Z/..",
        collections=["s1"],
        q=["sea ice"],
        concepts=["https://w3id.org/eokg/concept/sea-ice"],
        sortby=[SortField(field="orbit", direction="desc")],
        limit=5,
    )
    body = es_query.search_body(
        request,
        concept_iris=["https://w3id.org/eokg/concept/sea-ice", "x:nilas"],
        text_concepts=["x:nilas"],
        search_after=[3, "id-9"],
    )
    filters = body["query"]["bool"]["filter"]
    core = filters[0]["bool"]["filter"]
    assert core[0] == {"terms": {"collection": ["s1"]}}
    assert core[1]["geo_shape"]["geometry"]["shape"] == {
        "type": "envelope",
        "coordinates": [[10.0, 78.0], [20.0, 75.0]],
    }
    assert filters[1] == {
        "terms": {"concepts": ["https://w3id.org/eokg/concept/sea-ice", "x:nilas"]}
    }
    assert filters[2]["bool"]["should"] == [
        {"match_phrase": {"text": "sea ice"}},
        {"terms": {"concepts": ["x:nilas"]}},
    ]
    assert body["sort"] == [
        # unmapped_type: a collection without orbit must not fail its shard
        {"properties.orbit": {"order": "desc", "missing": "_last", "unmapped_type": "keyword"}},
        {"id": {"order": "asc", "missing": "_first"}},
        {"collection": {"order": "asc", "missing": "_first"}},
    ]
    assert body["size"] == 6 and body["search_after"] == [3, "id-9"]


def test_document_and_template():
    p = prepare_item(make_items(1)[0])
    doc = es_query.document(p, "nilas")
    assert doc["t_start"] == doc["t_end"] and doc["concepts"] == p.concepts
    assert doc["text"].endswith("nilas") and doc["item"]["id"] == p.id
    template = es_query.index_template("eokg")
    mapping = template["template"]["mappings"]["properties"]
    assert mapping["geometry"]["type"] == "geo_shape"
    assert template["index_patterns"] == ["eokg-items-*"]


def test_text_literal_on_numeric_field_follows_sqlite_type_order():
    types = {"properties.orbit": frozenset({"integer"})}

    def q(text):
        return es_query.cql2_to_es(cql2_parse.filter_to_json(text, None), types=types)

    none = es_query.MATCH_NONE
    assert q("orbit = 'x'") == none
    assert q("orbit <> 'x'") == {"exists": {"field": "properties.orbit"}}
    assert q("orbit < 'x'") == {"exists": {"field": "properties.orbit"}}
    assert q("orbit > 'x'") == none
    assert q("orbit IN ('x', 3)") == {"terms": {"properties.orbit": [3]}}
    assert q("orbit = 3") == {"term": {"properties.orbit": 3}}
    sort = es_query.sort_clause(SearchRequest(sortby=[{"field": "orbit"}]), types)
    assert sort[0]["properties.orbit"]["unmapped_type"] == "long"


def test_temporal_between_two_literals_is_a_constant():
    def q(text):
        return es_query.cql2_to_es(cql2_parse.filter_to_json(text, None))

    a = "INTERVAL('2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z')"
    b = "INTERVAL('2025-03-01T00:00:00Z', '2025-04-01T00:00:00Z')"
    assert q(f"T_INTERSECTS({a}, {b})") == es_query.MATCH_NONE
    assert q(f"T_BEFORE({a}, {b})") == {"match_all": {}}
