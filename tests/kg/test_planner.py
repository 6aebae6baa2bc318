# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""The planner: every rewritten query shape answers exactly what it answers with the index off.

Differential: each query runs twice, planned with the index and with
``use_index=False`` (same entailment and property expansion, no index), and the
rows must be equal as multisets.  The shapes are generated from one table of
ways to reach a geometry, of relation families and of places in the query.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from eokg.kg.planner import Plan
from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore

GEO = "http://www.opengis.net/ont/geosparql#"
WKT = GEO + "wktLiteral"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
PREFIXES = (
    f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
    "PREFIX ex: <http://ex/> PREFIX uom: <http://www.opengis.net/def/uom/OGC/1.0/> "
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
)
BOX = "POLYGON((10 74, 20 74, 20 78, 10 78, 10 74))"


def _shape(rnd: random.Random) -> str:
    x, y = rnd.uniform(0, 30), rnd.uniform(70, 82)
    if rnd.random() < 0.4:
        return f"POINT({x:.4f} {y:.4f})"
    w, h = rnd.uniform(0.2, 3), rnd.uniform(0.1, 1.5)
    return f"POLYGON(({x:.4f} {y:.4f}, {x + w:.4f} {y:.4f}, {x + w:.4f} {y + h:.4f}, {x:.4f} {y + h:.4f}, {x:.4f} {y:.4f}))"


def dataset(n_foot: int = 120, n_cell: int = 400, n_other: int = 300, seed: int = 3) -> str:
    """Footprints (hasGeometry), cells (hasDefaultGeometry), other points, odd literals."""
    rnd = random.Random(seed)
    out = [
        "<http://ex/Footprint> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://www.opengis.net/ont/geosparql#Feature> ."
    ]
    for i in range(n_foot):
        out += [
            f'<http://ex/f{i}> a <http://ex/Footprint> ; <http://ex/name> "f{i}" ; <{GEO}hasGeometry> <http://ex/f{i}g> .',
            f'<http://ex/f{i}g> <{GEO}asWKT> "{_shape(rnd)}"^^<{WKT}> .',
        ]
    for i in range(n_cell):
        out += [
            f"<http://ex/c{i}> a <http://ex/Cell> ; <{GEO}hasDefaultGeometry> <http://ex/c{i}g> .",
            f'<http://ex/c{i}g> <{GEO}asWKT> "{_shape(rnd)}"^^<{WKT}> .',
        ]
    for i in range(n_other):
        x, y = rnd.uniform(0, 30), rnd.uniform(70, 82)
        out += [
            f"<http://ex/o{i}> a <http://ex/Other> ; <{GEO}hasGeometry> <http://ex/o{i}g> .",
            # EPSG:4326 writes latitude first
            f'<http://ex/o{i}g> <{GEO}asWKT> "<{EPSG4326}> POINT({y:.4f} {x:.4f})"^^<{WKT}> .',
        ]
    for i in range(40):  # Web Mercator: index shapes are reprojections, not exact
        lon, lat = rnd.uniform(0, 30), rnd.uniform(70, 82)
        x = lon * 20037508.34 / 180
        y = math.log(math.tan((90 + lat) * math.pi / 360)) / (math.pi / 180) * 20037508.34 / 180
        out += [
            f"<http://ex/m{i}> a <http://ex/Mercator> ; <{GEO}hasGeometry> <http://ex/m{i}g> .",
            f'<http://ex/m{i}g> <{GEO}asWKT> "<http://www.opengis.net/def/crs/EPSG/0/3857> POINT({x:.1f} {y:.1f})"^^<{WKT}> .',
        ]
    out += [
        f'<http://ex/bad> a <http://ex/Footprint> ; <{GEO}hasGeometry> <http://ex/badg> . <http://ex/badg> <{GEO}asWKT> "POLYGON((broken"^^<{WKT}> .',
        f"<http://ex/f1> <{GEO}sfContains> <http://ex/c2> .",  # asserted, maybe not computed
    ]
    return (
        "\n".join(out).replace(" a <", " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <")
        + "\n"
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeoStore:
    path = tmp_path_factory.mktemp("planner") / "data.ttl"
    path.write_text(dataset())
    geo = GeoStore()
    geo.load([path], graph="http://ex/g")
    return geo


def rows(store: GeoStore, query: str, **options: object) -> Counter[tuple[str, ...]] | bool:
    result = store.query(PREFIXES + query, QueryOptions(**options))  # type: ignore[arg-type]
    if isinstance(result, bool) or type(result).__name__ == "QueryBoolean":
        return bool(result)
    names = [v.value for v in result.variables]
    return Counter(tuple(str(s[v]) for v in names) for s in result)


def check(store: GeoStore, query: str, kinds: set[str]) -> Plan:
    indexed = rows(store, query)
    plan = store.last_plan
    assert plan is not None
    used = {s.kind for s in plan.steps if s.used_index}
    plain = rows(store, query, use_index=False)
    assert indexed == plain, plan.text[:3000]
    assert kinds <= used, (kinds, used, plan.to_json())
    return plan


GEOMETRY_PATHS = {
    "path": "?{f} geo:hasGeometry/geo:asWKT ?{w} .",
    "explicit": "?{f} geo:hasGeometry ?{f}g . ?{f}g geo:asWKT ?{w} .",
    "full-iri": "?{f} <http://www.opengis.net/ont/geosparql#hasGeometry>/<http://www.opengis.net/ont/geosparql#asWKT> ?{w} .",
    "default": "?{f} geo:hasDefaultGeometry/geo:asWKT ?{w} .",
    "either": "?{f} (geo:hasGeometry|geo:hasDefaultGeometry)/(geo:asWKT|geo:asGeoJSON) ?{w} .",
    "bnode": "?{f} geo:hasGeometry [ geo:asWKT ?{w} ] .",
}
RELATIONS = [
    "sfIntersects",
    "sfWithin",
    "sfContains",
    "sfOverlaps",
    "ehCoveredBy",
    "rcc8po",
    "sfTouches",
]


@pytest.mark.parametrize(("path", "relation"), list(itertools.product(GEOMETRY_PATHS, RELATIONS)))
def test_selection_any_path_any_relation(store: GeoStore, path: str, relation: str) -> None:
    pattern = GEOMETRY_PATHS[path].format(f="f", w="w")
    query = f'SELECT ?f WHERE {{ {pattern} FILTER(geof:{relation}(?w, "{BOX}"^^geo:wktLiteral)) }}'
    check(store, query, {"selection"})


PLACES = {
    "top": "SELECT ?f WHERE {{ {body} }}",
    "list": "SELECT ?f ?n WHERE {{ ?f ex:name ?n ; {rest} }}",
    "optional": "SELECT ?f ?w WHERE {{ ?f a ex:Footprint OPTIONAL {{ {body} }} }}",
    "union": "SELECT ?f WHERE {{ {{ {body} }} UNION {{ ?f a ex:Cell }} }}",
    "minus": "SELECT ?f WHERE {{ ?f a ex:Footprint MINUS {{ {body} }} }}",
    "subquery": "SELECT ?f WHERE {{ {{ SELECT ?f WHERE {{ {body} }} LIMIT 1000 }} }}",
    "graph": "SELECT ?f WHERE {{ GRAPH ?g {{ {body} }} }}",
    "exists": "SELECT ?f WHERE {{ ?f a ex:Footprint FILTER EXISTS {{ {body} }} }}",
    "not-exists": "SELECT ?f WHERE {{ ?f a ex:Footprint FILTER NOT EXISTS {{ {body} }} }}",
    "star": "SELECT * WHERE {{ {body} }}",
    "ask": "ASK {{ {body} }}",
    "count": "SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE {{ {body} }}",
}


@pytest.mark.parametrize("place", PLACES)
def test_selection_at_any_depth(store: GeoStore, place: str) -> None:
    flt = f'FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral) && STRLEN(STR(?f)) > 3)'
    body = f"?f geo:hasGeometry/geo:asWKT ?w . {flt}"
    rest = f"geo:hasGeometry/geo:asWKT ?w . {flt}"
    query = PLACES[place].format(body=body, rest=rest)
    check(store, query, {"selection"})


@pytest.mark.parametrize(
    "relation", ["sfIntersects", "sfContains", "sfWithin", "ehCovers", "rcc8ntpp", "sfEquals"]
)
@pytest.mark.parametrize("path", ["path", "explicit", "default", "bnode"])
def test_typed_join_uses_only_the_two_sets(store: GeoStore, relation: str, path: str) -> None:
    left = GEOMETRY_PATHS["path"].format(f="f", w="w1")
    right = GEOMETRY_PATHS[path].format(f="c", w="w2")
    query = f"SELECT ?f ?c WHERE {{ ?f a ex:Footprint . {left} ?c a ex:Cell . {right} FILTER(geof:{relation}(?w1, ?w2)) }}"
    plan = check(store, query, {"join"})
    join = next(s for s in plan.steps if s.kind == "join")
    # sides are the query's own sets (121 footprints incl. the broken one, 400 cells), not the store
    assert join.candidates["w1"] == 121 and join.candidates["w2"] <= 400
    assert join.invalid_literals == 1


def test_join_with_selection_and_constant_first(store: GeoStore) -> None:
    query = (
        "SELECT ?f ?c WHERE { ?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 . ?c a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?w2 . "
        f'FILTER(geof:sfIntersects(?w1, ?w2) && geof:sfWithin(?w2, "{BOX}"^^geo:wktLiteral)) }}'
    )
    check(store, query, {"join", "selection"})
    query = f'SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfContains("{BOX}"^^geo:wktLiteral, ?w)) }}'
    check(store, query, {"selection"})


def test_join_in_one_connected_pattern(store: GeoStore) -> None:
    query = "SELECT ?f ?g WHERE { ?f geo:hasGeometry ?g ; geo:hasGeometry/geo:asWKT ?w1 . ?g geo:asWKT ?w2 FILTER(geof:sfEquals(?w1, ?w2)) }"
    check(store, query, {"join"})


@pytest.mark.parametrize(("cls", "exact"), [("ex:Other", True), ("ex:Mercator", False)])
def test_join_across_crs(store: GeoStore, cls: str, exact: bool) -> None:
    """EPSG:4326 (lat/lon) is exact once axes are swapped; EPSG:3857 keeps the final filter."""
    query = f"SELECT ?f ?o WHERE {{ ?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 . ?o a {cls} ; geo:hasGeometry/geo:asWKT ?w2 FILTER(geof:sfContains(?w1, ?w2)) }}"
    plan = check(store, query, {"join"})
    join = next(s for s in plan.steps if s.kind == "join")
    assert join.dropped_filter is exact and join.pairs


BIND_JOIN = "sides fetched once; their rows replace their patterns"
JOIN_SIDES = "?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 . ?c a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?w2 ."


@pytest.mark.parametrize(
    ("query", "replaced"),
    [
        (f"SELECT ?f ?c WHERE {{ {JOIN_SIDES} FILTER(geof:sfIntersects(?w1, ?w2)) }}", True),
        (f"SELECT * WHERE {{ {JOIN_SIDES} ?f ex:name ?n FILTER(geof:sfIntersects(?w1, ?w2)) }}", True),
        (f"SELECT ?f ?c ?n WHERE {{ {JOIN_SIDES} OPTIONAL {{ ?c ex:name ?n }} FILTER(geof:sfOverlaps(?w1, ?w2)) }}", True),
        (f"SELECT ?f (COUNT(?c) AS ?n) WHERE {{ {JOIN_SIDES} FILTER(geof:sfIntersects(?w1, ?w2)) }} GROUP BY ?f", True),
        # BIND evaluates in order against what precedes it: the patterns stay
        (f"SELECT ?f ?c ?x WHERE {{ {JOIN_SIDES} BIND(STR(?f) AS ?x) FILTER(geof:sfIntersects(?w1, ?w2)) }}", False),
        # another active graph, or another dataset, than the one the sides were fetched from
        (f"SELECT ?f ?c WHERE {{ GRAPH ?g {{ {JOIN_SIDES} FILTER(geof:sfIntersects(?w1, ?w2)) }} }}", False),
        (f"SELECT ?f ?c FROM <http://ex/g> WHERE {{ {JOIN_SIDES} FILTER(geof:sfIntersects(?w1, ?w2)) }}", False),
        (f"ASK {{ ?x a ex:Other FILTER EXISTS {{ {JOIN_SIDES} FILTER(geof:sfIntersects(?w1, ?w2)) }} }}", False),
    ],
)
def test_join_rows_replace_the_side_patterns_only_where_that_keeps_the_meaning(
    store: GeoStore, query: str, replaced: bool
) -> None:
    plan = check(store, query, {"join"})
    notes = [s.note for s in plan.steps if s.kind == "join"]
    assert (BIND_JOIN in notes) is replaced, notes


def test_selection_exactness_is_per_literal(tmp_path: Path) -> None:
    """One reprojected literal in the store keeps the FILTER only where it is a candidate."""
    mercator = "<http://www.opengis.net/def/crs/EPSG/0/3857> POINT(2226389.8 12932243.1)"  # 20E 75N
    data = tmp_path / "mixed.ttl"
    data.write_text(
        f"@prefix geo: <{GEO}> . @prefix ex: <http://ex/> .\n"
        'ex:a geo:hasGeometry ex:ag . ex:ag geo:asWKT "POLYGON((0 70, 2 70, 2 72, 0 72, 0 70))"^^geo:wktLiteral .\n'
        'ex:b geo:hasGeometry ex:bg . ex:bg geo:asWKT "POINT(20.5 75.2)"^^geo:wktLiteral .\n'
        f'ex:m geo:hasGeometry ex:mg . ex:mg geo:asWKT "{mercator}"^^geo:wktLiteral .\n'
    )
    geo = GeoStore()
    geo.load([data])
    assert not geo._index.exact
    far = 'SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, "POLYGON((-1 69, 3 69, 3 73, -1 73, -1 69))"^^geo:wktLiteral)) }'
    near = 'SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, "POLYGON((19 74, 21 74, 21 76, 19 76, 19 74))"^^geo:wktLiteral)) }'
    for query, dropped, found in ((far, True, {"<http://ex/a>"}), (near, False, {"<http://ex/b>", "<http://ex/m>"})):
        plan = check(geo, query, {"selection"})
        assert [s.dropped_filter for s in plan.steps if s.kind == "selection"] == [dropped]
        assert {row[0] for row in rows(geo, query)} == found  # type: ignore[union-attr]


def test_join_rows_keep_multiplicity_and_refuse_blank_nodes(tmp_path: Path) -> None:
    """Rows are fetched as a bag (a feature with two names joins twice); a blank-node
    subject cannot go into VALUES, so that join keeps its patterns."""
    data = tmp_path / "bag.ttl"
    data.write_text(
        f"@prefix geo: <{GEO}> . @prefix ex: <http://ex/> .\n"
        f'ex:a a ex:Footprint ; ex:name "a", "alpha" ; geo:hasGeometry ex:ag . ex:ag geo:asWKT "POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))"^^geo:wktLiteral .\n'
        f'_:b a ex:Footprint ; ex:name "b" ; geo:hasGeometry ex:bg . ex:bg geo:asWKT "POLYGON((5 5, 6 5, 6 6, 5 6, 5 5))"^^geo:wktLiteral .\n'
        f'ex:c a ex:Cell ; geo:hasGeometry ex:cg . ex:cg geo:asWKT "POINT(1 1)"^^geo:wktLiteral .\n'
        f'ex:d a ex:Cell ; geo:hasGeometry ex:dg . ex:dg geo:asWKT "POINT(5.5 5.5)"^^geo:wktLiteral .\n'
    )
    geo = GeoStore()
    geo.load([data], graph="http://ex/bag")
    named = "SELECT ?n ?c WHERE { ex:a ex:name ?n . ?f ex:name ?n ; geo:hasGeometry/geo:asWKT ?w1 . ?c a ex:Cell ; geo:hasGeometry/geo:asWKT ?w2 FILTER(geof:sfContains(?w1, ?w2)) }"
    plan = check(geo, named, {"join"})
    assert rows(geo, named) == Counter({('"a"', "<http://ex/c>"): 1, ('"alpha"', "<http://ex/c>"): 1})
    assert [s.note for s in plan.steps if s.kind == "join"] == [BIND_JOIN]
    blank = "SELECT ?f ?c WHERE { ?f a ex:Footprint ; ex:name ?n ; geo:hasGeometry/geo:asWKT ?w1 . ?c a ex:Cell ; geo:hasGeometry/geo:asWKT ?w2 FILTER(geof:sfContains(?w1, ?w2)) }"
    plan = check(geo, blank, {"join"})
    assert sum(rows(geo, blank).values()) == 3  # type: ignore[union-attr]
    assert BIND_JOIN not in [s.note for s in plan.steps if s.kind == "join"]


@pytest.mark.parametrize(
    "bound",
    [
        "geof:distance(?w, 'POINT(15 76)'^^geo:wktLiteral, uom:metre) < 80000",
        "geof:distance(?w, 'POINT(15 76)'^^geo:wktLiteral, <http://qudt.org/vocab/unit/KiloM>) <= 80",
        "1.5 > geof:distance('POINT(15 76)'^^geo:wktLiteral, ?w, uom:degree)",
    ],
)
def test_distance_with_units(store: GeoStore, bound: str) -> None:
    check(
        store,
        f"SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w FILTER({bound}) }}",
        {"distance"},
    )


@pytest.mark.parametrize(
    "query",
    [
        f'SELECT ?c WHERE {{ ?c a ex:Cell ; geo:sfWithin "{BOX}"^^geo:wktLiteral }}',
        "SELECT ?f ?c WHERE { ?f a ex:Footprint . ?c a ex:Cell . ?f geo:sfContains ?c }",
        "SELECT ?f ?c WHERE { ?f a ex:Footprint ; geo:hasGeometry ?g . ?c a ex:Cell . ?g geo:sfIntersects ?c }",
    ],
)
def test_topology_properties(store: GeoStore, query: str) -> None:
    plan = check(store, query, set())
    assert any(s.kind == "property" for s in plan.steps)


def test_property_form_returns_asserted_and_computed_once(store: GeoStore) -> None:
    got = rows(store, "SELECT ?c WHERE { ex:f1 geo:sfContains ?c }")
    assert isinstance(got, Counter)
    assert got[("<http://ex/c2>",)] == 1  # asserted in the data
    assert all(n == 1 for n in got.values())


def test_unplannable_queries_run_as_written(store: GeoStore) -> None:
    # sfDisjoint has no index answer; OR is not a conjunct; a variable constant
    for query in (
        f'SELECT ?f WHERE {{ ?f a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?w FILTER(geof:sfDisjoint(?w, "{BOX}"^^geo:wktLiteral)) }}',
        f'SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral) || STRENDS(STR(?f), "7")) }}',
        "SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w BIND(?w AS ?v) FILTER(geof:sfIntersects(?w, ?v)) }",
    ):
        assert rows(store, query) == rows(store, query, use_index=False)


def test_bad_constant_is_left_to_the_function_library(store: GeoStore) -> None:
    query = "SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, 'POLYGON((1 2'^^geo:wktLiteral)) }"
    assert rows(store, query) == Counter()


def test_explain_shows_steps(store: GeoStore) -> None:
    report = store.explain(
        PREFIXES
        + f'SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral)) }}'
    )
    assert report["rewritten"] and report["rows"] > 0
    (step,) = [s for s in report["steps"] if s["kind"] != "entailment"]
    assert step["kind"] == "selection"
    assert step["used_index"] and step["candidates"]["w"] > 0
    assert set(report["seconds"]) == {"plan", "evaluate", "total"}


def test_non_spatial_queries_are_not_parsed(store: GeoStore) -> None:
    store.query("SELECT ?s WHERE { ?s a <http://ex/Cell> } LIMIT 1")
    assert store.last_plan is not None and not store.last_plan.parsed


def test_generated_queries_differential(store: GeoStore) -> None:
    """Random combinations of path, relation, place and extra conjuncts."""
    rnd = random.Random(11)
    for _ in range(40):
        path = rnd.choice(list(GEOMETRY_PATHS))
        relation = rnd.choice(RELATIONS)
        place = rnd.choice([p for p in PLACES if p not in ("list", "star")])
        x, y = rnd.uniform(0, 25), rnd.uniform(70, 80)
        box = f"POLYGON(({x:.2f} {y:.2f}, {x + 5:.2f} {y:.2f}, {x + 5:.2f} {y + 2:.2f}, {x:.2f} {y + 2:.2f}, {x:.2f} {y:.2f}))"
        extra = rnd.choice(["", " && isIRI(?f)", " && !STRSTARTS(STR(?f), 'http://ex/c1')"])
        body = (
            GEOMETRY_PATHS[path].format(f="f", w="w")
            + f' FILTER(geof:{relation}(?w, "{box}"^^geo:wktLiteral){extra})'
        )
        query = PLACES[place].format(body=body, rest="")
        assert rows(store, query) == rows(store, query, use_index=False), query


def test_queries_from_files_are_planned_once(store: GeoStore, tmp_path: Path) -> None:
    plan = store.plan(
        PREFIXES
        + f'SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral)) }}'
    )
    assert plan.parsed and plan.rewritten
    # the planned text is plain SPARQL that needs no further planning
    assert "VALUES ?w" in plan.text


# --- entailment through step sequences -----------------------------------------------------

SUB_DATA = f"""
<http://x/myGeom> <http://www.w3.org/2000/01/rdf-schema#subPropertyOf> <{GEO}hasGeometry> .
<http://x/f1> <{GEO}hasDefaultGeometry> <http://x/g1> .
<http://x/f1> <{GEO}hasGeometry> <http://x/g1> .
<http://x/g1> <{GEO}asWKT> "POINT(1 1)"^^<{GEO}wktLiteral> .
<http://x/f2> <http://x/myGeom> <http://x/g2> .
<http://x/g2> <{GEO}asGeoJSON> "{{\\"type\\": \\"Point\\", \\"coordinates\\": [2, 2]}}"^^<{GEO}geoJSONLiteral> .
<http://x/f3> <{GEO}hasGeometry> <http://x/g3> .
<http://x/g3> <{GEO}asWKT> "POINT(30 30)"^^<{GEO}wktLiteral> .
"""


@pytest.fixture(scope="module")
def sub_store(tmp_path_factory: pytest.TempPathFactory) -> GeoStore:
    data = tmp_path_factory.mktemp("sub") / "data.nt"
    data.write_text(SUB_DATA, encoding="utf-8")
    store = GeoStore()
    store.load([data])
    return store


def _features(store: GeoStore, query: str, **options: object) -> list[str]:
    return sorted(str(r["f"]) for r in store.query(query, QueryOptions(**options)))  # type: ignore[arg-type]


def test_path_steps_get_subproperty_entailment(sub_store: GeoStore) -> None:
    query = f"SELECT ?f WHERE {{ ?f <{GEO}hasGeometry>/<{GEO}hasSerialization> ?w }}"
    assert _features(sub_store, query) == ["<http://x/f1>", "<http://x/f2>", "<http://x/f3>"]
    assert _features(sub_store, query, entailment=False) == []  # hasSerialization: never asserted


def test_path_entailment_keeps_set_semantics_and_projection(sub_store: GeoStore) -> None:
    """f1 reaches g1 by two subproperties of hasGeometry: one entailed triple, one row."""
    result = sub_store.query(
        f"SELECT * WHERE {{ <http://x/f1> <{GEO}hasGeometry>/<{GEO}asWKT> ?w }}"
    )
    assert [v.value for v in result.variables] == ["w"]  # no fresh variable leaks
    assert len(list(result)) == 1


def test_path_form_selection_uses_the_index_with_entailment(sub_store: GeoStore) -> None:
    query = (
        f"SELECT ?f WHERE {{ ?f <{GEO}hasGeometry>/<{GEO}hasSerialization> ?w "
        "FILTER(<http://www.opengis.net/def/function/geosparql/sfIntersects>(?w, "
        f'"POLYGON((0 0, 5 0, 5 5, 0 5, 0 0))"^^<{GEO}wktLiteral>)) }}'
    )
    assert _features(sub_store, query) == ["<http://x/f1>", "<http://x/f2>"]
    assert _features(sub_store, query, use_index=False) == ["<http://x/f1>", "<http://x/f2>"]


def test_large_candidate_sets_are_injected_in_chunks(
    store: GeoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oxigraph turns quadratic on VALUES blocks past ~1,000 rows: a UNION of chunks."""
    import eokg.kg.planner as planner

    query = (
        PREFIXES
        + f'SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral)) }}'
    )
    whole = rows(store, query)
    monkeypatch.setattr(planner, "VALUES_CHUNK", 3)
    chunked = rows(store, query)
    assert store.last_plan is not None and store.last_plan.text.count("VALUES") > 1
    assert " UNION " in store.last_plan.text
    assert chunked == whole and whole
