# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""Random GeoSPARQL queries: planned with the index, they answer what they answer without it.

``test_planner.py`` enumerates shapes by hand; this file composes them at random
from a small grammar of what users write (geometry paths, geof: relations in
either argument order, distances with units, topology properties, OPTIONAL,
UNION, MINUS, EXISTS, subqueries, GRAPH, BIND, VALUES, boolean mixes with plain
filters, ASK / DISTINCT / COUNT), so combinations nobody thought of get checked.
Each query runs twice, with the index and with ``use_index=False``, and the rows
must be equal as multisets.  A fixed set of seeds runs in the suite;
``EOKG_FUZZ_SEEDS=0-999`` (a range or a comma list) runs others.

The data is ``test_planner.dataset`` at a smaller size, so that the plain
evaluation of a typed join stays a few thousand function calls, plus a second
graph of edge cases random shapes never produce: shared edges (touches),
identical geometries in both graphs (equals), a line, GeoJSON, a feature with two
geometries and a feature with both hasGeometry and hasDefaultGeometry.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import Counter
from collections.abc import Callable

import pytest
from test_planner import GEO, PREFIXES, RELATIONS, WKT, dataset

from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore

GRAPH = "http://ex/g"
GRAPH2 = "http://ex/g2"
GEOJSON = GEO + "geoJSONLiteral"

#: Edge cases, in a second graph.  The cells e0..e3 are a 2x2 grid of unit squares
#: (shared edges and a shared corner), ex:f0 and ex:c0 get twins with their exact
#: geometry, ex:dup has two geometries, ex:both reaches one geometry two ways.
EDGE_DATA = f"""
<http://ex/e0> a <http://ex/Cell> ; <{GEO}hasDefaultGeometry> <http://ex/e0g> .
<http://ex/e0g> <{GEO}asWKT> "POLYGON((10 75, 11 75, 11 76, 10 76, 10 75))"^^<{WKT}> .
<http://ex/e1> a <http://ex/Cell> ; <{GEO}hasDefaultGeometry> <http://ex/e1g> .
<http://ex/e1g> <{GEO}asWKT> "POLYGON((11 75, 12 75, 12 76, 11 76, 11 75))"^^<{WKT}> .
<http://ex/e2> a <http://ex/Cell> ; <{GEO}hasDefaultGeometry> <http://ex/e2g> .
<http://ex/e2g> <{GEO}asWKT> "POLYGON((10 76, 11 76, 11 77, 10 77, 10 76))"^^<{WKT}> .
<http://ex/e3> a <http://ex/Cell> ; <{GEO}hasDefaultGeometry> <http://ex/e3g> .
<http://ex/e3g> <{GEO}asWKT> "POLYGON((11 76, 12 76, 12 77, 11 77, 11 76))"^^<{WKT}> .
<http://ex/ef> a <http://ex/Footprint> ; <http://ex/name> "ef" ; <{GEO}hasGeometry> <http://ex/efg> .
<http://ex/efg> <{GEO}asWKT> "POLYGON((10 75, 12 75, 12 77, 10 77, 10 75))"^^<{WKT}> .
<http://ex/line> a <http://ex/Footprint> ; <http://ex/name> "line" ; <{GEO}hasGeometry> <http://ex/lineg> .
<http://ex/lineg> <{GEO}asWKT> "LINESTRING(9.5 75.5, 12.5 76.5)"^^<{WKT}> .
<http://ex/corner> a <http://ex/Other> ; <{GEO}hasGeometry> <http://ex/cornerg> .
<http://ex/cornerg> <{GEO}asWKT> "POINT(11 76)"^^<{WKT}> .
<http://ex/gj> a <http://ex/Footprint> ; <http://ex/name> "gj" ; <{GEO}hasGeometry> <http://ex/gjg> .
<http://ex/gjg> <{GEO}asGeoJSON> "{{\\"type\\": \\"Polygon\\", \\"coordinates\\": [[[10.5, 75.5], [11.5, 75.5], [11.5, 76.5], [10.5, 76.5], [10.5, 75.5]]]}}"^^<{GEOJSON}> .
<http://ex/dup> a <http://ex/Footprint> ; <http://ex/name> "dup" ; <{GEO}hasGeometry> <http://ex/dupa>, <http://ex/dupb> .
<http://ex/dupa> <{GEO}asWKT> "POINT(10.5 75.5)"^^<{WKT}> .
<http://ex/dupb> <{GEO}asWKT> "POINT(11.5 76.5)"^^<{WKT}> .
<http://ex/both> a <http://ex/Cell> ; <{GEO}hasGeometry> <http://ex/bothg> ; <{GEO}hasDefaultGeometry> <http://ex/bothg> .
<http://ex/bothg> <{GEO}asWKT> "POLYGON((10.2 75.2, 10.8 75.2, 10.8 75.8, 10.2 75.8, 10.2 75.2))"^^<{WKT}> .
<http://ex/twin> a <http://ex/Cell> ; <{GEO}hasDefaultGeometry> <http://ex/twing> .
<http://ex/twing> <{GEO}asWKT> "POLYGON((10 75, 12 75, 12 77, 10 77, 10 75))"^^<{WKT}> .
<http://ex/e0> <{GEO}sfTouches> <http://ex/e1> .
<http://ex/ef> <{GEO}sfContains> <http://ex/e3> .
"""

FEATURE_PATHS = {
    "path": "?{f} geo:hasGeometry/geo:asWKT ?{w} .",
    "explicit": "?{f} geo:hasGeometry ?{g} . ?{g} geo:asWKT ?{w} .",
    "full-iri": "?{f} <http://www.opengis.net/ont/geosparql#hasGeometry>/<http://www.opengis.net/ont/geosparql#asWKT> ?{w} .",
    "either": "?{f} (geo:hasGeometry|geo:hasDefaultGeometry)/(geo:asWKT|geo:asGeoJSON) ?{w} .",
    "bnode": "?{f} geo:hasGeometry [ geo:asWKT ?{w} ] .",
    "serialization": "?{f} geo:hasGeometry/geo:hasSerialization ?{w} .",
}
CELL_PATHS = {
    "default": "?{f} geo:hasDefaultGeometry/geo:asWKT ?{w} .",
    "explicit-default": "?{f} geo:hasDefaultGeometry ?{g} . ?{g} geo:asWKT ?{w} .",
    "either": FEATURE_PATHS["either"],
    # hasDefaultGeometry is a subproperty of hasGeometry: entailment reaches cells
    "entailed": FEATURE_PATHS["path"],
}
CLASSES = {
    "Footprint": FEATURE_PATHS,
    "Cell": CELL_PATHS,
    "Other": FEATURE_PATHS,
    "Mercator": FEATURE_PATHS,
}
ALL_RELATIONS = [
    *RELATIONS,
    "sfEquals",
    "sfCrosses",
    "sfDisjoint",
    "ehEquals",
    "ehMeet",
    "ehOverlap",
    "ehCovers",
    "ehInside",
    "ehContains",
    "ehDisjoint",
    "rcc8eq",
    "rcc8ec",
    "rcc8dc",
    "rcc8tpp",
    "rcc8ntpp",
    "rcc8tppi",
    "rcc8ntppi",
]
PROPERTY_RELATIONS = [
    "sfIntersects",
    "sfContains",
    "sfWithin",
    "sfTouches",
    "sfOverlaps",
    "sfEquals",
    "ehCoveredBy",
    "ehMeet",
    "rcc8po",
    "rcc8ec",
    "rcc8ntpp",
]
UNITS = {
    "uom:metre": (20_000, 200_000),
    "<http://qudt.org/vocab/unit/KiloM>": (20, 200),
    "uom:degree": (0.2, 2.0),
    "uom:radian": (0.004, 0.04),
}


class QueryGenerator:
    """A seeded grammar of GeoSPARQL queries over the fuzz data, nested up to ``depth``.

    Every pattern the grammar builds binds the feature variable it is given and
    types each feature it joins, so the plain evaluation stays bounded by the
    class sizes however the pieces nest.
    """

    def __init__(self, seed: int, depth: int = 3) -> None:
        self.rnd = random.Random(seed)
        self.depth = depth
        self._names = itertools.count()

    def fresh(self, base: str) -> str:
        return f"{base}{next(self._names)}"

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    # --- terms ----------------------------------------------------------------------------

    def constant(self) -> str:
        """A geometry literal: a box or point around the data, sometimes in another CRS."""
        rnd = self.rnd
        if self.chance(0.25):  # on the edge-case grid
            x, y = rnd.choice([10, 10.5, 11, 12]), rnd.choice([75, 75.5, 76, 77])
        else:
            x, y = round(rnd.uniform(0, 28), 2), round(rnd.uniform(70, 80), 2)
        kind = rnd.random()
        if kind < 0.25:
            shape = f"POINT({x} {y})"
        elif kind < 0.35:
            shape = f"LINESTRING({x} {y}, {x + 1.5} {y + 0.7})"
        else:
            w, h = rnd.choice([1, 2, 5, 10]), rnd.choice([1, 2, 4])
            shape = f"POLYGON(({x} {y}, {x + w} {y}, {x + w} {y + h}, {x} {y + h}, {x} {y}))"
        crs = rnd.random()
        if crs < 0.1:  # EPSG:4326 writes latitude first
            return f"'<http://www.opengis.net/def/crs/EPSG/0/4326> {_swap_axes(shape)}'^^geo:wktLiteral"
        if crs < 0.15:
            return f"'<http://www.opengis.net/def/crs/OGC/1.3/CRS84> {shape}'^^geo:wktLiteral"
        return f"'{shape}'^^geo:wktLiteral"

    def geometry(self, f: str, cls: str) -> tuple[str, str]:
        """``?f a CLS`` and a path from it to a fresh literal variable."""
        w, g = self.fresh("w"), self.fresh("g")
        paths = CLASSES[cls]
        path = paths[self.rnd.choice(list(paths))].format(f=f, w=w, g=g)
        typed = f"?{f} a ex:{cls} . " if self.chance(0.9) or cls in ("Other", "Mercator") else ""
        return typed + path, w

    def relation_call(self, relation: str, a: str, b: str) -> str:
        if self.chance(0.1):
            return f"<http://www.opengis.net/def/function/geosparql/{relation}>({a}, {b})"
        return f"geof:{relation}({a}, {b})"

    def spatial_test(self, w: str) -> str:
        """A relation against a constant (either order) or a distance bound."""
        if self.chance(0.7):
            relation = self.rnd.choice(ALL_RELATIONS)
            args = [f"?{w}", self.constant()]
            if self.chance(0.4):
                args.reverse()
            return self.relation_call(relation, *args)
        unit, (low, high) = self.rnd.choice(list(UNITS.items()))
        limit = round(self.rnd.uniform(low, high), 4)
        args = [f"?{w}", self.constant()]
        if self.chance(0.3):
            args.reverse()
        call = f"geof:distance({args[0]}, {args[1]}, {unit})"
        return self.rnd.choice(
            [f"{call} < {limit}", f"{call} <= {limit}", f"{limit} > {call}", f"{call} > {limit}"]
        )

    def plain_test(self, f: str) -> str:
        return self.rnd.choice(
            [
                f"isIRI(?{f})",
                f"STRSTARTS(STR(?{f}), 'http://ex/f1')",
                f"!STRENDS(STR(?{f}), '7')",
                f"STRLEN(STR(?{f})) > 13",
                f"?{f} != ex:c2",
            ]
        )

    def condition(self, w: str, f: str) -> str:
        """A spatial test, alone or mixed with plain ones by ``&&``, ``||``, ``!``."""
        test = self.spatial_test(w)
        mix = self.rnd.random()
        if mix < 0.45:
            return test
        if mix < 0.65:
            return f"{test} && {self.plain_test(f)}"
        if mix < 0.75:
            return f"{self.plain_test(f)} && ({test})"
        if mix < 0.85:
            return f"{test} || {self.plain_test(f)}"
        if mix < 0.92:
            return f"!({test})"
        return f"{test} && {self.spatial_test(w)}"

    # --- patterns binding ?f --------------------------------------------------------------

    def before(self, w: str) -> str:
        """Sometimes a part that evaluates against what precedes it, naming ``?w``
        before the triple that binds it (or a harmless one)."""
        if self.chance(0.6):
            return ""
        x = self.fresh("x")
        return self.rnd.choice(
            [
                f"BIND(STR(?{w}) AS ?{x})",
                f"OPTIONAL {{ ?{x} a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?{w} }}",
                f"MINUS {{ ?{x} a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?{w} }}",
                f"OPTIONAL {{ ex:f1 ex:name ?{self.fresh('n')} }}",
                f"VALUES ?{x} {{ 1 2 }}",
            ]
        )

    def side(self, pattern: str) -> str:
        """A join side written in the group, a nested group or a GRAPH."""
        return self.rnd.choice(
            [
                pattern,
                pattern,
                f"{{ {pattern} }}",
                f"GRAPH ?{self.fresh('gr')} {{ {pattern} }}",
                f"GRAPH <{self.rnd.choice([GRAPH, GRAPH2])}> {{ {pattern} }}",
            ]
        )

    def selection(self, f: str) -> str:
        cls = self.rnd.choice(["Footprint", "Footprint", "Cell", "Other", "Mercator"])
        pattern, w = self.geometry(f, cls)
        flt = f"FILTER({self.condition(w, f)})"
        if self.chance(0.1):  # the literal only optionally bound
            return f"?{f} a ex:{cls} OPTIONAL {{ {pattern} }} {flt}"
        pattern = f"{self.before(w)} {self.side(pattern) if self.chance(0.3) else pattern}"
        if self.chance(0.2):  # the filter written first: its scope is still the group
            return f"{flt} {pattern}"
        return f"{pattern} {flt}"

    def join(self, f: str) -> str:
        """Two typed sets joined by a relation between their literals."""
        left, w1 = self.geometry(f, "Footprint")
        c = self.fresh("c")
        right, w2 = self.geometry(c, self.rnd.choice(["Cell", "Cell", "Other", "Mercator"]))
        relation = self.rnd.choice(
            [r for r in ALL_RELATIONS if "isjoint" not in r and r != "rcc8dc"]
        )
        args = [f"?{w1}", f"?{w2}"]
        if self.chance(0.4):
            args.reverse()
        test = self.relation_call(relation, *args)
        if self.chance(0.3):
            test = self.rnd.choice(
                [
                    f"{test} && {self.spatial_test(w2)}",
                    f"{test} && {self.plain_test(c)}",
                    f"{test} || {self.plain_test(f)}",
                ]
            )
        parts = [self.side(left), self.side(right)]
        if self.chance(0.3):
            parts.reverse()
        parts.insert(0, self.before(self.rnd.choice([w1, w2])))
        if self.chance(0.2):
            parts.append(f"OPTIONAL {{ ?{f} ex:name ?{self.fresh('n')} }}")
        return " ".join(parts) + f" FILTER({test})"

    def topology(self, f: str) -> str:
        """``?a geo:sfX ?b`` in its feature, geometry and constant forms."""
        relation = self.rnd.choice(PROPERTY_RELATIONS)
        c = self.fresh("c")
        form = self.rnd.random()
        if form < 0.35:
            subject = f"?{f}"
            if self.chance(0.4):  # the geometry form
                g = self.fresh("g")
                return f"?{f} a ex:Footprint ; geo:hasGeometry ?{g} . ?{c} a ex:Cell . ?{g} geo:{relation} ?{c} ."
            pair = [subject, f"?{c}"]
            if self.chance(0.4):
                pair.reverse()
            return f"?{f} a ex:Footprint . ?{c} a ex:Cell . {pair[0]} geo:{relation} {pair[1]} ."
        if form < 0.7:
            cls = self.rnd.choice(["Footprint", "Cell"])
            if self.chance(0.3):
                return f"?{f} a ex:{cls} . {self.constant()} geo:{relation} ?{f} ."
            return f"?{f} a ex:{cls} . ?{f} geo:{relation} {self.constant()} ."
        other = self.rnd.choice(["ex:c2", "ex:e0", "ex:e3", "ex:ef", "ex:f1", "ex:c7g", "ex:dup"])
        cls = self.rnd.choice(["Footprint", "Cell"])
        if self.chance(0.3):
            return f"?{f} a ex:{cls} . {other} geo:{relation} ?{f} ."
        return f"?{f} a ex:{cls} . ?{f} geo:{relation} {other} ."

    def base(self, f: str, correlated: bool) -> str:
        """A selection, a join or a topology property; only selections under EXISTS,
        whose plain evaluation reruns a join or a property's expansion per outer row."""
        kind = self.rnd.random()
        if kind < 0.5 or correlated:
            return self.selection(f)
        if kind < 0.75:
            return self.join(f)
        return self.topology(f)

    def pattern(self, f: str, depth: int, correlated: bool = False) -> str:
        """A group body binding ``?f``: a base pattern, or one wrapped around others."""
        if depth >= self.depth or self.chance(0.3):
            return self.base(f, correlated)
        inner: Callable[[], str] = lambda: self.pattern(f, depth + 1, correlated)  # noqa: E731
        exists: Callable[[], str] = lambda: self.pattern(f, depth + 1, True)  # noqa: E731
        cls = self.rnd.choice(["Footprint", "Cell"])
        wrappers: list[Callable[[], str]] = [
            lambda: f"?{f} a ex:{cls} OPTIONAL {{ {inner()} }}",
            lambda: f"{{ {inner()} }} UNION {{ {inner()} }}",
            lambda: f"?{f} a ex:{cls} MINUS {{ {inner()} }}",
            lambda: f"?{f} a ex:{cls} FILTER EXISTS {{ {exists()} }}",
            lambda: f"?{f} a ex:{cls} FILTER NOT EXISTS {{ {exists()} }}",
            lambda: self.subquery(f, inner()),
            lambda: f"GRAPH ?{self.fresh('gr')} {{ {inner()} }}",
            lambda: f"GRAPH <{self.rnd.choice([GRAPH, GRAPH2])}> {{ {inner()} }}",
            lambda: f"{inner()} BIND(STRLEN(STR(?{f})) AS ?{self.fresh('len')})",
            lambda: f"BIND(STR(?{f}) AS ?{self.fresh('s')}) {inner()}",
            lambda: self.values(f) + " " + inner(),
            lambda: inner() + " " + self.values(f),
            # a second, cheap pattern on the same feature (two joins or a property
            # and a join in one group multiply in the plain evaluation)
            lambda: f"{inner()} {self.selection(f)}",
            lambda: f"{{ {inner()} }}",
            lambda: f"{inner()} FILTER({self.plain_test(f)})",
        ]
        return self.rnd.choice(wrappers)()

    def values(self, f: str) -> str:
        names = self.rnd.sample(
            [
                "ex:f1",
                "ex:f2",
                "ex:f3",
                "ex:f10",
                "ex:c2",
                "ex:c5",
                "ex:e0",
                "ex:e3",
                "ex:ef",
                "ex:dup",
                "ex:o4",
                "ex:line",
                "ex:gj",
                "ex:both",
            ],
            k=self.rnd.randint(1, 6),
        )
        return f"VALUES ?{f} {{ {' '.join(names)} }}"

    def subquery(self, f: str, body: str) -> str:
        head = "DISTINCT " if self.chance(0.5) else ""
        tail = ""
        if self.chance(0.5):
            # ORDER BY the only projected variable keeps LIMIT deterministic
            order = self.rnd.choice([f"?{f}", f"DESC(?{f})"])
            tail = f" ORDER BY {order} LIMIT {self.rnd.randint(1, 30)}"
        elif self.chance(0.3):
            tail = " LIMIT 100000"
        return f"{{ SELECT {head}?{f} WHERE {{ {body} }}{tail} }}"

    # --- whole queries --------------------------------------------------------------------

    def query(self) -> str:
        body = self.pattern("f", 0)
        form = self.rnd.random()
        if form < 0.08:
            return f"ASK {{ {body} }}"
        if form < 0.2:
            return f"SELECT (COUNT(*) AS ?n) WHERE {{ {body} }}"
        if form < 0.28:
            return f"SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE {{ {body} }}"
        if form < 0.68:  # every variable: differences in any binding show
            return f"SELECT * WHERE {{ {body} }}"
        if form < 0.84:
            return f"SELECT DISTINCT ?f WHERE {{ {body} }}"
        return f"SELECT ?f WHERE {{ {body} }}"


def _swap_axes(shape: str) -> str:
    """A WKT shape with each coordinate pair written ``y x`` (EPSG:4326 order)."""
    import re

    return re.sub(r"(-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)", r"\2 \1", shape)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeoStore:
    folder = tmp_path_factory.mktemp("fuzz")
    main, edges = folder / "data.ttl", folder / "edges.ttl"
    main.write_text(dataset(n_foot=50, n_cell=150, n_other=80, seed=5))
    edges.write_text(EDGE_DATA)
    geo = GeoStore()
    geo.load([main], graph=GRAPH)
    geo.load([edges], graph=GRAPH2)
    return geo


Solutions = tuple[frozenset[str], Counter[tuple[str, ...]]] | bool


def solutions(store: GeoStore, query: str, **options: object) -> Solutions:
    """The answer as a bag of rows with columns in name order, and the variable set.

    ``SELECT *`` leaves the order of its columns to the engine (SPARQL 1.1, 18.2.1
    gives the in-scope variables as a set), so only names and values count.
    """
    result = store.query(PREFIXES + query, QueryOptions(**options))  # type: ignore[arg-type]
    if isinstance(result, bool) or type(result).__name__ == "QueryBoolean":
        return bool(result)
    names = sorted(v.value for v in result.variables)
    bag = Counter(tuple(str(s[v]) for v in names) for s in result)
    return frozenset(names), bag


def differ(store: GeoStore, query: str) -> str | None:
    """None when both evaluations agree; otherwise a report with the query and the plan."""
    try:
        indexed = solutions(store, query)
    except Exception as exc:
        plain_error: object
        try:
            solutions(store, query, use_index=False)
            plain_error = None
        except Exception as other:
            plain_error = other
        if plain_error is not None:
            return None  # both refuse it: the generator wrote something invalid
        plan = store.last_plan.text if store.last_plan else ""
        return f"indexed raised {exc!r}\n{query}\n--- plan:\n{plan[:4000]}"
    plan = store.last_plan.text if store.last_plan else ""
    plain = solutions(store, query, use_index=False)
    if indexed == plain:
        return None
    if isinstance(indexed, tuple) and isinstance(plain, tuple):
        extra, missing = indexed[1] - plain[1], plain[1] - indexed[1]
        detail = f"only indexed: {list(extra.items())[:5]}\nonly plain: {list(missing.items())[:5]}"
    else:
        detail = f"indexed {indexed!r} plain {plain!r}"
    return f"{query}\n{detail}\n--- plan:\n{plan[:4000]}"


EDGE_BOX = "'POLYGON((10 75, 12 75, 12 77, 10 77, 10 75))'^^geo:wktLiteral"
CELL_W = "?x a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?w"
JOIN = "?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 . ?c a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?w2"


@pytest.mark.parametrize(
    "query",
    [
        # A join side in a nested group or GRAPH: the path gets subproperty entailment when
        # evaluated (cells reach geometries by hasDefaultGeometry), so the side fetched for
        # the join must not be the raw path (it found only ex:both).
        "SELECT ?f ?c WHERE { { ?f a ex:Footprint . ?f geo:hasGeometry/geo:asWKT ?w1 } { ?c a ex:Cell . ?c geo:hasGeometry/geo:asWKT ?w2 } FILTER(geof:sfIntersects(?w1, ?w2)) }",
        "SELECT ?f ?c WHERE { ?f a ex:Footprint . ?f geo:hasGeometry/geo:asWKT ?w1 . GRAPH ?g { ?c a ex:Cell . ?c geo:hasGeometry/geo:asWKT ?w2 } FILTER(geof:ehCovers(?w1, ?w2)) }",
        # VALUES at the group's front is seen by a BIND, OPTIONAL or MINUS written before
        # the triple binding ?w: they evaluate against what precedes them.
        f"SELECT ?f ?x WHERE {{ BIND(STR(?w) AS ?x) ?f a ex:Footprint . ?f geo:hasGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, {EDGE_BOX})) }}",
        f"SELECT ?f WHERE {{ MINUS {{ {CELL_W} }} ?f a ex:Cell . ?f geo:hasDefaultGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, {EDGE_BOX})) }}",
        f"SELECT ?f ?x WHERE {{ OPTIONAL {{ ?x a ex:Other ; geo:hasGeometry/geo:asWKT ?w }} ?f a ex:Cell . ?f geo:hasDefaultGeometry/geo:asWKT ?w FILTER(geof:sfIntersects(?w, {EDGE_BOX})) }}",
        f"SELECT * WHERE {{ FILTER(geof:distance(?w, 'POLYGON((24 74.8, 29 74.8, 29 75.8, 24 75.8, 24 74.8))'^^geo:wktLiteral, uom:metre) < 81000) OPTIONAL {{ {CELL_W} }} ?f a ex:Mercator ; geo:hasGeometry/geo:asWKT ?w }}",
        f"SELECT (COUNT(*) AS ?n) WHERE {{ OPTIONAL {{ {CELL_W} }} GRAPH <{GRAPH2}> {{ ?c a ex:Cell . ?c geo:hasGeometry/geo:asWKT ?w }} ?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 FILTER(geof:sfEquals(?w, ?w1)) }}",
        # a join's rows replacing its sides' patterns go to the front: not past an
        # OPTIONAL or MINUS that sees the side variables
        f"SELECT * WHERE {{ OPTIONAL {{ ?c ex:name ?n }} {JOIN} FILTER(geof:sfIntersects(?w1, ?w2)) }}",
        "SELECT * WHERE { ?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 . OPTIONAL { ?c ex:name ?n } ?c a ex:Cell ; geo:hasDefaultGeometry/geo:asWKT ?w2 FILTER(geof:sfIntersects(?w1, ?w2)) }",
        f"SELECT * WHERE {{ MINUS {{ ?c a ex:Cell }} {JOIN} FILTER(geof:sfIntersects(?w1, ?w2)) }}",
    ],
)
def test_regressions_found_by_fuzzing(store: GeoStore, query: str) -> None:
    report = differ(store, query)
    assert report is None, report
    plan = store.plan(PREFIXES + query)
    assert any(s.used_index for s in plan.steps), plan.to_json()  # still accelerated


def _seeds() -> list[int]:
    spec = os.environ.get("EOKG_FUZZ_SEEDS", "")
    if not spec:
        return list(range(24))
    out: list[int] = []
    for item in spec.split(","):
        low, _, high = item.partition("-")
        out += list(range(int(low), int(high or low) + 1))
    return out


QUERIES_PER_SEED = 20


@pytest.mark.parametrize("seed", _seeds())
def test_random_queries_agree(store: GeoStore, seed: int) -> None:
    gen = QueryGenerator(seed)
    failures = []
    for _ in range(QUERIES_PER_SEED):
        query = gen.query()
        report = differ(store, query)
        if report is not None:
            failures.append(report)
    assert not failures, f"{len(failures)} disagreement(s), seed {seed}:\n\n" + "\n\n".join(
        failures[:3]
    )
