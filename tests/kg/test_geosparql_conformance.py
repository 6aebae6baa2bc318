# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""GeoSPARQL 1.0 (OGC 11-052r4) conformance classes, one test per requirement read from the text.

The data is the standard's own running example (Annex B: features my:A .. my:F
with polygon and point geometries), extended where a requirement needs more.
Every test runs the query through ``GeoStore.query``, as the endpoint does.
"""

from __future__ import annotations

import pytest

from eokg.errors import QueryError
from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore

P = """PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX my: <http://example.org/ApplicationSchema#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
# 11-052r4 Annex B.1 example data (WKT), plus a GML twin of my:C and an asserted relation.
DATA = """@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix my: <http://example.org/ApplicationSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
my:PlaceOfInterest a rdfs:Class ; rdfs:subClassOf geo:Feature .
my:hasExactGeometry rdfs:subPropertyOf geo:hasDefaultGeometry .
my:A a my:PlaceOfInterest ; my:hasExactGeometry my:AExactGeom .
my:AExactGeom a geo:Geometry ; geo:asWKT "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Polygon((-83.6 34.1, -83.2 34.1, -83.2 34.5, -83.6 34.5, -83.6 34.1))"^^geo:wktLiteral .
my:B a my:PlaceOfInterest ; my:hasExactGeometry my:BExactGeom .
my:BExactGeom a geo:Geometry ; geo:asWKT "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Polygon((-83.6 34.1, -83.4 34.1, -83.4 34.3, -83.6 34.3, -83.6 34.1))"^^geo:wktLiteral .
my:C a my:PlaceOfInterest ; my:hasExactGeometry my:CExactGeom .
my:CExactGeom a geo:Geometry ; geo:asWKT "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Polygon((-83.2 34.3, -83.0 34.3, -83.0 34.5, -83.2 34.5, -83.2 34.3))"^^geo:wktLiteral .
my:D a my:PlaceOfInterest ; my:hasExactGeometry my:DExactGeom .
my:DExactGeom a geo:Geometry ; geo:asWKT "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Polygon((-83.3 34.0, -83.1 34.0, -83.1 34.2, -83.3 34.2, -83.3 34.0))"^^geo:wktLiteral .
my:E a my:PlaceOfInterest ; my:hasExactGeometry my:EExactGeom .
my:EExactGeom a geo:Geometry ; geo:asWKT "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> LineString(-83.4 34.0, -83.3 34.3)"^^geo:wktLiteral .
my:F a my:PlaceOfInterest ; my:hasExactGeometry my:FExactGeom .
my:FExactGeom a geo:Geometry ; geo:asWKT "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Point(-83.4 34.4)"^^geo:wktLiteral .
my:G a geo:Feature ; geo:hasGeometry my:GGeom .
my:GGeom geo:asGML "<gml:Polygon xmlns:gml='http://www.opengis.net/gml/3.2' srsName='http://www.opengis.net/def/crs/OGC/1.3/CRS84'><gml:exterior><gml:LinearRing><gml:posList>-83.2 34.3 -83.0 34.3 -83.0 34.5 -83.2 34.5 -83.2 34.3</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"^^geo:gmlLiteral .
my:H a geo:Feature ; geo:hasGeometry my:HGeom .
my:HGeom geo:asWKT "POINT(10 10)"^^geo:wktLiteral .
my:H geo:sfWithin my:A .
"""
SMALL = "'Polygon((-83.5 34.2, -83.3 34.2, -83.3 34.4, -83.5 34.4, -83.5 34.2))'^^geo:wktLiteral"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeoStore:
    path = tmp_path_factory.mktemp("ogc") / "example.ttl"
    path.write_text(DATA)
    geo = GeoStore()
    geo.load([path], graph="http://example.org/g")
    return geo


def names(store: GeoStore, query: str, **options: object) -> list[str]:
    result = store.query(P + query, QueryOptions(**options))  # type: ignore[arg-type]
    var = result.variables[0].value
    return sorted(str(s[var].value).rsplit("#", 1)[-1] for s in result if s[var] is not None)


# --- Core (Req 1-3) and topology vocabulary (Req 4-6) --------------------------------------


def test_req1_spatial_object_and_feature_classes(store: GeoStore) -> None:
    """Req 1/2: geo:SpatialObject and geo:Feature as classes; features are spatial objects."""
    features = names(store, "SELECT ?f WHERE { ?f a geo:Feature }")
    assert features == ["A", "B", "C", "D", "E", "F", "G", "H"]
    spatial = names(store, "SELECT ?s WHERE { ?s a geo:SpatialObject }")
    assert set(features) <= set(spatial) and "AExactGeom" in spatial and "GGeom" in spatial


def test_req4_asserted_topology_properties_are_queryable(store: GeoStore) -> None:
    asserted = names(store, "SELECT ?f WHERE { ?f geo:sfWithin my:A }", entailment=False)
    assert "H" in asserted


# --- Geometry extension (Req 7-20): Geometry class, WKT and GML ---------------------------


def test_req7_geometry_class_and_has_geometry_hierarchy(store: GeoStore) -> None:
    """hasDefaultGeometry is a subproperty of hasGeometry (and of a user's subproperty)."""
    got = names(store, "SELECT ?g WHERE { my:A geo:hasGeometry ?g }")
    assert got == ["AExactGeom"]
    assert "GGeom" in names(store, "SELECT ?g WHERE { ?g a geo:Geometry }")


def test_req12_wkt_literal_with_crs(store: GeoStore) -> None:
    got = names(
        store, f"SELECT ?g WHERE {{ ?g geo:asWKT ?w FILTER(geof:sfIntersects(?w, {SMALL})) }}"
    )
    assert got == oracle("sfIntersects") and "DExactGeom" in got


def test_req17_gml_literal_is_indexed_and_queryable(store: GeoStore) -> None:
    got = names(
        store,
        "SELECT ?g WHERE { ?g geo:asGML ?w FILTER(geof:sfEquals(?w, '<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Polygon((-83.2 34.3, -83.0 34.3, -83.0 34.5, -83.2 34.5, -83.2 34.3))'^^geo:wktLiteral)) }",
    )
    assert got == ["GGeom"]
    assert store.last_plan is not None and any(s.used_index for s in store.last_plan.steps)


def test_req19_asgml_function(store: GeoStore) -> None:
    result = store.query(P + "SELECT (geof:asGML(?w) AS ?gml) WHERE { my:FExactGeom geo:asWKT ?w }")
    (row,) = list(result)
    assert "Point" in row["gml"].value and row["gml"].datatype.value.endswith("gmlLiteral")


# --- Geometry topology extension (Req 21-24): the function forms --------------------------


def oracle(relation: str) -> list[str]:
    """The geometries for which ``relation(SMALL, g)`` holds, straight from shapely."""
    import re

    import shapely

    from eokg.kg.functions import relation_holds

    small = shapely.from_wkt(SMALL.split("'")[1])
    found = re.findall(r'my:(\w+) a geo:Geometry ; geo:asWKT "<[^>]+> ([^"]+)"', DATA)
    return sorted(n for n, wkt in found if relation_holds(relation, small, shapely.from_wkt(wkt)))


@pytest.mark.parametrize(
    "relation",
    ["sfContains", "sfIntersects", "sfOverlaps", "sfTouches", "ehCovers", "rcc8po", "rcc8ec"],
)
def test_req22_topology_functions(store: GeoStore, relation: str) -> None:
    query = f"SELECT ?g WHERE {{ ?g geo:asWKT ?w FILTER(geof:{relation}({SMALL}, ?w)) }}"
    assert names(store, query) == oracle(relation)


# --- RDFS entailment extension (Req 25-27) ------------------------------------------------


def test_req25_subclass_instances_and_switch(store: GeoStore) -> None:
    assert "A" in names(store, "SELECT ?f WHERE { ?f a geo:Feature }")
    plain = names(store, "SELECT ?f WHERE { ?f a geo:Feature }", entailment=False)
    assert plain == ["G", "H"]


def test_req26_subproperty_chain_of_has_geometry(store: GeoStore) -> None:
    """my:hasExactGeometry ⊑ geo:hasDefaultGeometry ⊑ geo:hasGeometry, declared in the data."""
    got = names(store, "SELECT ?f WHERE { ?f geo:hasGeometry ?g }")
    assert got == ["A", "B", "C", "D", "E", "F", "G", "H"]
    assert names(store, "SELECT ?f WHERE { ?f geo:hasGeometry ?g }", entailment=False) == ["G", "H"]


# --- Query rewrite extension (Req 28-30) --------------------------------------------------


def test_req28_feature_relations_are_computed_and_asserted(store: GeoStore) -> None:
    """The spec's example B.2.1 style query: features within my:A, via default geometries."""
    got = names(store, "SELECT ?f WHERE { ?f a geo:Feature ; geo:sfWithin my:A }")
    # A (within itself), B, F computed from the geometries; H asserted only (its point is far away)
    assert got == ["A", "B", "F", "H"]  # each once: asserted and computed do not double up


def test_req29_geometry_and_literal_forms(store: GeoStore) -> None:
    within_a = names(store, "SELECT ?g WHERE { ?g geo:sfWithin my:AExactGeom . ?g a geo:Geometry }")
    assert within_a == ["AExactGeom", "BExactGeom", "FExactGeom"]
    assert names(
        store, f"SELECT ?f WHERE {{ ?f a my:PlaceOfInterest ; geo:sfContains {SMALL} }}"
    ) == ["A"]


# --- dataset clauses and bad input ---------------------------------------------------------


def test_from_replaces_the_union_default_graph(store: GeoStore) -> None:
    count = "SELECT (COUNT(*) AS ?n) FROM <http://nowhere/> WHERE { ?s ?p ?o }"
    (row,) = list(store.query(count))
    assert int(row["n"].value) == 0
    (row,) = list(store.query(count.replace("http://nowhere/", "http://example.org/g")))
    assert int(row["n"].value) > 30
    named = "SELECT DISTINCT ?g WHERE { GRAPH ?g { my:A ?p ?o } }"
    assert names(
        store,
        named.replace("SELECT DISTINCT ?g", "SELECT DISTINCT ?g FROM NAMED <http://example.org/g>"),
    ) == ["http://example.org/g"]


def test_protocol_default_graph_uri(store: GeoStore) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    (row,) = list(store.query(query, QueryOptions(default_graph_uris=["http://nowhere/"])))
    assert int(row["n"].value) == 0


def test_deep_nesting_is_refused_before_parsing(store: GeoStore) -> None:
    deep = "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }"
    with pytest.raises(QueryError, match="nested"):
        store.query(deep)


# --- Rewrite rules, entailed hierarchies: a second, smaller dataset -----------------------

# my:P has a polygon as default geometry (with a GML twin) and a point as another
# geometry; my:Q's default geometry is that same point; my:R's lies strictly inside P's.
REWRITE_DATA = """@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix sf: <http://www.opengis.net/ont/sf#> .
@prefix gml: <http://www.opengis.net/ont/gml#> .
@prefix my: <http://example.org/ApplicationSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
gml:Polygon rdfs:subClassOf gml:Surface .
my:P a geo:Feature ; geo:hasDefaultGeometry my:PGeom ; geo:hasGeometry my:PPoint .
my:PGeom a sf:Polygon, gml:Polygon ; geo:asWKT "POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))"^^geo:wktLiteral ;
  geo:asGML "<gml:Polygon xmlns:gml='http://www.opengis.net/gml/3.2'><gml:exterior><gml:LinearRing><gml:posList>0 0 4 0 4 4 0 4 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"^^geo:gmlLiteral .
my:PPoint a sf:Point ; geo:asWKT "POINT(2 2)"^^geo:wktLiteral .
my:Q a geo:Feature ; geo:hasDefaultGeometry my:QGeom .
my:QGeom geo:asWKT "POINT(2 2)"^^geo:wktLiteral .
my:R a geo:Feature ; geo:hasDefaultGeometry my:RGeom .
my:RGeom a sf:Polygon ; geo:asWKT "POLYGON((1 1, 3 1, 3 3, 1 3, 1 1))"^^geo:wktLiteral .
"""


@pytest.fixture(scope="module")
def rewrite_store(tmp_path_factory: pytest.TempPathFactory) -> GeoStore:
    path = tmp_path_factory.mktemp("rewrite") / "rewrite.ttl"
    path.write_text(REWRITE_DATA)
    geo = GeoStore()
    geo.load([path])
    return geo


def all_names(store: GeoStore, query: str) -> list[str]:
    """Like ``names``, duplicates kept: a derived triple must match once."""
    result = store.query(P + query)
    var = result.variables[0].value
    return sorted(str(s[var].value).rsplit("#", 1)[-1] for s in result)


def test_req28_rewrite_reaches_the_default_geometry_only(rewrite_store: GeoStore) -> None:
    """geor:sfEquals (11-052r4 clause 12) joins features through geo:hasDefaultGeometry.

    P's other geometry (the point) equals Q's default one, which makes neither P
    equal to Q nor P equal to QGeom; PGeom matches once though it has WKT and GML.
    """
    assert all_names(rewrite_store, "SELECT ?x WHERE { my:P geo:sfEquals ?x }") == ["P", "PGeom"]
    contained = all_names(rewrite_store, "SELECT ?x WHERE { my:P geo:sfContains ?x }")
    assert contained == ["P", "PGeom", "PPoint", "Q", "QGeom", "R", "RGeom"]


def test_req30_rcc8_properties_relate_regions_only(rewrite_store: GeoStore) -> None:
    """Table 3: every RCC8 relation applies to area/area pairs ("AA"), not to a point."""
    got = all_names(rewrite_store, "SELECT ?x WHERE { my:P geo:rcc8ntppi ?x }")
    assert got == ["R", "RGeom"]


def test_req25_declared_subproperty_of_has_default_geometry(store: GeoStore) -> None:
    """my:hasExactGeometry ⊑ geo:hasDefaultGeometry: its triples answer the super property."""
    got = names(store, "SELECT ?f WHERE { ?f geo:hasDefaultGeometry ?g }")
    assert got == ["A", "B", "C", "D", "E", "F"]
    assert names(store, "SELECT ?f WHERE { ?f geo:hasDefaultGeometry ?g }", entailment=False) == []


def test_req26_simple_features_type_hierarchy(rewrite_store: GeoStore) -> None:
    """Req 26: sf:Polygon ⊑ sf:Surface ⊑ sf:Geometry, known without being declared."""
    sf = "PREFIX sf: <http://www.opengis.net/ont/sf#> "
    assert names(rewrite_store, sf + "SELECT ?g WHERE { ?g a sf:Surface }") == ["PGeom", "RGeom"]
    every = names(rewrite_store, sf + "SELECT ?g WHERE { ?g a sf:Geometry }")
    assert every == ["PGeom", "PPoint", "RGeom"]
    assert names(rewrite_store, sf + "SELECT ?g WHERE { ?g a sf:Surface }", entailment=False) == []


def test_req27_gml_type_hierarchy_declared_in_the_data(rewrite_store: GeoStore) -> None:
    gml = "PREFIX gml: <http://www.opengis.net/ont/gml#> "
    assert names(rewrite_store, gml + "SELECT ?g WHERE { ?g a gml:Surface }") == ["PGeom"]
