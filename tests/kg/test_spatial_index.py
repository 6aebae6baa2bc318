# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""The spatial index stays fresh, and indexed answers equal unindexed ones."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore
from eokg.ontologies.namespaces import sparql_prefixes

P = sparql_prefixes()
WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"
BOX = '"POLYGON((10 74, 20 74, 20 78, 10 78, 10 74))"^^geo:wktLiteral'


def random_nt(n: int, seed: int = 7, prefix: str = "f") -> str:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        x, y = rnd.uniform(0, 40), rnd.uniform(70, 82)
        if i % 3 == 0:
            wkt = f"POINT({x:.4f} {y:.4f})"
        else:
            w, h = rnd.uniform(0.2, 2.5), rnd.uniform(0.1, 1.0)
            wkt = f"POLYGON(({x:.4f} {y:.4f}, {x + w:.4f} {y:.4f}, {x + w:.4f} {y + h:.4f}, {x:.4f} {y:.4f}))"
        lines.append(
            f"<http://ex/{prefix}{i}> <http://www.opengis.net/ont/geosparql#hasGeometry> <http://ex/{prefix}{i}g> .\n"
            f'<http://ex/{prefix}{i}g> <http://www.opengis.net/ont/geosparql#asWKT> "{wkt}"^^<{WKT}> .\n'
        )
    return "".join(lines)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeoStore:
    path = tmp_path_factory.mktemp("sp") / "data.nt"
    path.write_text(random_nt(300))
    geo = GeoStore()
    geo.load([path], graph="http://ex/g")
    return geo


class _Counts:
    """Step counts of a plan, by kind."""

    def __init__(self, plan) -> None:
        steps = plan.steps if plan is not None else []
        self.selections = sum(s.kind in ("selection", "distance") for s in steps)
        self.joins = sum(s.kind == "join" for s in steps)
        self.expanded_properties = sum(s.kind == "property" for s in steps)
        self.dropped_conjuncts = sum(s.dropped_filter for s in steps)


def both(store: GeoStore, query: str) -> tuple[list, list]:
    indexed = sorted(tuple(str(t) for t in row) for row in store.query(query))
    report = _Counts(store.last_plan)
    plain = sorted(
        tuple(str(t) for t in row) for row in store.query(query, QueryOptions(use_index=False))
    )
    return indexed, plain, report


@pytest.mark.parametrize(
    "relation", ["sfIntersects", "sfWithin", "sfContains", "ehCoveredBy", "rcc8po"]
)
def test_selection_equals_plain(store: GeoStore, relation: str) -> None:
    q = (
        P
        + f"""SELECT ?f WHERE {{ GRAPH ?x {{ ?f geo:hasGeometry ?g . ?g geo:asWKT ?w }}
        FILTER(geof:{relation}(?w, {BOX})) }}"""
    )
    indexed, plain, report = both(store, q)
    assert indexed == plain
    assert report.selections == 1 and report.dropped_conjuncts == 1
    if relation == "sfIntersects":
        assert len(plain) > 10


def test_join_equals_plain(store: GeoStore) -> None:
    q = (
        P
        + """SELECT ?a ?b WHERE { GRAPH <http://ex/g> { ?a geo:hasGeometry ?ga . ?ga geo:asWKT ?wa .
        ?b geo:hasGeometry ?gb . ?gb geo:asWKT ?wb . }
        FILTER(geof:sfIntersects(?wa, ?wb) && ?a != ?b) }"""
    )
    indexed, plain, report = both(store, q)
    assert report.joins == 1
    assert indexed == plain and len(plain) > 20


def test_join_with_selection_and_relation_property(tmp_path: Path) -> None:
    path = tmp_path / "d.nt"
    path.write_text(random_nt(200, seed=3))
    store = GeoStore()
    store.load([path])  # default graph
    q = (
        P
        + f"""SELECT ?a ?b WHERE {{ ?a geo:sfOverlaps ?b .
        ?a geo:hasGeometry ?g . ?g geo:asWKT ?w FILTER(geof:sfIntersects(?w, {BOX})) }}"""
    )
    indexed, plain, report = both(store, q)
    assert report.expanded_properties == 1 and report.joins == 1 and report.selections == 1
    assert indexed == plain and plain


def test_distance_selection(store: GeoStore) -> None:
    q = (
        P
        + """SELECT ?g WHERE { GRAPH ?x { ?g geo:asWKT ?w }
        FILTER(geof:distance(?w, "POINT(20 76)"^^geo:wktLiteral, uom:metre) < 150000) }"""
    )
    indexed, plain, report = both(store, q)
    assert report.selections == 1 and indexed == plain and plain


def test_unsafe_patterns_are_not_rewritten(store: GeoStore) -> None:
    q = (
        P
        + f"""SELECT ?f WHERE {{ GRAPH ?x {{ ?f geo:hasGeometry ?g }}
        OPTIONAL {{ GRAPH ?x {{ ?g geo:asWKT ?w }} }} FILTER(geof:sfIntersects(?w, {BOX}) || false) }}"""
    )
    indexed, plain, report = both(store, q)
    assert report.selections == 0 and indexed == plain


def count(store: GeoStore, box: str = BOX) -> int:
    q = (
        P
        + f"SELECT ?w WHERE {{ GRAPH ?x {{ ?g geo:asWKT ?w }} FILTER(geof:sfIntersects(?w, {box})) }}"
    )
    return len(list(store.query(q)))


def test_index_follows_writes(tmp_path: Path) -> None:
    path = tmp_path / "d.nt"
    path.write_text(random_nt(60))
    store = GeoStore(tmp_path / "db")
    store.load([path], graph="http://ex/g")
    base = count(store)
    assert store.geometry_count() == 60
    here = '"POINT(15 76)"^^geo:wktLiteral'
    store.update(
        P + f"INSERT DATA {{ GRAPH <http://ex/g> {{ <http://ex/new> geo:asWKT {here} }} }}"
    )
    assert count(store) == base + 1
    store.update(
        P + f"DELETE DATA {{ GRAPH <http://ex/g> {{ <http://ex/new> geo:asWKT {here} }} }}"
    )
    assert count(store) == base
    # DELETE/INSERT WHERE moving every geometry far away
    store.update(
        P
        + """DELETE { GRAPH ?x { ?g geo:asWKT ?w } } INSERT { GRAPH ?x { ?g geo:asWKT "POINT(-100 0)"^^geo:wktLiteral } }
        WHERE { GRAPH ?x { ?g geo:asWKT ?w } FILTER(geof:sfIntersects(?w, """
        + BOX
        + """)) }"""
    )
    assert count(store) == 0
    assert count(store, '"POINT(-100 0)"^^geo:wktLiteral') == base  # one literal, shared
    assert store.spatial_extent("http://ex/g")[0] == -100
    # a second load is indexed incrementally
    more = tmp_path / "more.nt"
    more.write_text(random_nt(30, seed=99, prefix="m"))
    store.load([more], graph="http://ex/h")
    assert store.spatial_extent("http://ex/nothing") is None
    h = store.spatial_extent("http://ex/h")
    assert h is not None and h[0] >= 0 and h[3] <= 84
    after = count(store)
    store.update("CLEAR GRAPH <http://ex/h>")
    assert store.spatial_extent("http://ex/h") is None
    store.update(
        P + f"INSERT DATA {{ GRAPH <http://ex/g> {{ <http://ex/new2> geo:asWKT {here} }} }}"
    )
    total = store.geometry_count()
    store.flush()
    del store
    gc.collect()  # rdflib's parser leaves cycles through the store's frames; free the lock
    reopened = GeoStore(tmp_path / "db")
    assert reopened._index.resyncs == 0  # read from disk, not rebuilt
    assert reopened.geometry_count() == total
    assert count(reopened) == 1
    assert after >= 1
