# ruff: noqa: E501  (GML literals and SPARQL expressions read better unbroken)
"""GML and KML literals and the GeoSPARQL 1.1 function signatures, through real SPARQL.

Cases come from the requirement text of OGC 11-052r4 (GeoSPARQL 1.0) and
22-047r1 (GeoSPARQL 1.1): the literal examples of clause 8, the "empty literal
is the empty geometry" requirements, the signatures of the Non-topological Query
Functions and Annex B, and
the function note that a constructed geometry keeps the first argument's
serialization and CRS.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pyoxigraph
import pyproj
import pytest
import shapely

from eokg.errors import CRSError, GeometryError
from eokg.kg.functions import FUNCTIONS, custom_aggregates, custom_functions
from eokg.kg.geometry import (
    GEOJSON_LITERAL,
    GEOMETRY_DATATYPES,
    GML_LITERAL,
    KML_LITERAL,
    WKT_LITERAL,
    crs_iri,
    parse_literal,
    to_gml,
    to_kml,
    to_literal,
)
from eokg.ontologies.namespaces import CRS84, GEOF, SF, UOM, XSD

EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
UTM33 = "http://www.opengis.net/def/crs/EPSG/0/32633"
GML32 = "http://www.opengis.net/gml/3.2"

#: The geo:gmlLiteral example of OGC 11-052r4 (section 8.6.1) as printed, namespace and all.
SPEC_GML_POINT = """
<gml:Point
        srsName="http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        xmlns:gml="http://www.opengis.net/ont/gml">
    <gml:pos>-83.38 33.95</gml:pos>
</gml:Point>
"""
#: The geo:kmlLiteral example of OGC 22-047r1.
SPEC_KML_POINT = """
<Point xmlns="http://www.opengis.net/kml/2.2">
    <coordinates>-83.38,33.95</coordinates>
</Point>
"""
SPEC_GEOJSON_POINT = '{"type": "Point", "coordinates": [-83.38,33.95]}'
SPEC_POINT = shapely.Point(-83.38, 33.95)


def gml(body: str, srs: str | None = CRS84, ns: str = GML32, dim: int | None = None) -> str:
    """``body`` with the namespace, srsName and srsDimension set on its root element."""
    attrs = f' xmlns:gml="{ns}"'
    if srs is not None:
        attrs += f' srsName="{srs}"'
    if dim is not None:
        attrs += f' srsDimension="{dim}"'
    root = re.match(r"<[\w:]+", body)
    assert root is not None
    return body[: root.end()] + attrs + body[root.end() :]


def sparql_literal(value: str, datatype: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"^^<{datatype}>'


@pytest.fixture(scope="module")
def store() -> pyoxigraph.Store:
    return pyoxigraph.Store()


@pytest.fixture(scope="module")
def functions() -> dict:
    return custom_functions()


def solutions(store: pyoxigraph.Store, query: str) -> list[Any]:
    result = store.query(
        query, custom_functions=custom_functions(), custom_aggregate_functions=custom_aggregates()
    )
    assert isinstance(result, pyoxigraph.QuerySolutions)
    return list(result)


def run(store: pyoxigraph.Store, functions: dict, expr: str) -> Any:
    """The value of one expression (None when unbound: a SPARQL error)."""
    query = f"PREFIX geof: <{GEOF}> PREFIX uom: <{UOM}> SELECT ({expr} AS ?r) WHERE {{}}"
    result = store.query(query, custom_functions=functions)
    assert isinstance(result, pyoxigraph.QuerySolutions)
    return next(iter(result))["r"]


def shape_of(term: Any) -> Any:
    return parse_literal(term.value, term.datatype.value).shape


# --- the standard's examples ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "datatype"),
    [
        (SPEC_GML_POINT, GML_LITERAL),
        (SPEC_GML_POINT.replace("http://www.opengis.net/ont/gml", GML32), GML_LITERAL),
        (SPEC_KML_POINT, KML_LITERAL),
        (SPEC_GEOJSON_POINT, GEOJSON_LITERAL),
        ("Point(-83.38 33.95)", WKT_LITERAL),
        (f"<{EPSG4326}> Point(33.95 -83.38)", WKT_LITERAL),
    ],
    ids=["gml-1.0-example", "gml-3.2", "kml", "geojson", "wkt", "wkt-epsg4326"],
)
def test_spec_examples_are_the_same_point(value: str, datatype: str) -> None:
    geom = parse_literal(value, datatype)
    assert shapely.equals_exact(geom.shape, SPEC_POINT, 1e-12)
    assert geom.is_wgs84


@pytest.mark.parametrize(
    "srs_name",
    [
        EPSG4326,
        "urn:ogc:def:crs:EPSG::4326",
        "urn:ogc:def:crs:EPSG:6.6:4326",
        "EPSG:4326",
        "https://www.opengis.net/def/crs/EPSG/0/4326",
    ],
)
def test_gml_srs_name_forms_and_axis_order(srs_name: str) -> None:
    """EPSG:4326 is latitude first in every spelling; getSRID answers the OGC IRI."""
    geom = parse_literal(
        gml("<gml:Point><gml:pos>33.95 -83.38</gml:pos></gml:Point>", srs_name), GML_LITERAL
    )
    assert geom.crs == EPSG4326
    assert shapely.equals_exact(geom.shape, SPEC_POINT, 1e-12)
    # written back latitude first, with the srsName
    assert "<gml:pos>33.95 -83.38</gml:pos>" in to_gml(geom)
    assert f'srsName="{EPSG4326}"' in to_gml(geom)


def test_crs_iri_normalisation() -> None:
    assert crs_iri("urn:ogc:def:crs:OGC:1.3:CRS84") == CRS84
    assert crs_iri("CRS:84") == CRS84
    assert crs_iri("epsg:32633") == UTM33
    assert crs_iri("http://www.opengis.net/gml/srs/epsg.xml#32633") == UTM33
    assert crs_iri("http://example.org/my-crs") == "http://example.org/my-crs"


def test_gml_without_srs_name_is_crs84_and_prefix_may_be_undeclared() -> None:
    geom = parse_literal("<gml:Point><gml:pos>1 2</gml:pos></gml:Point>", GML_LITERAL)
    assert geom.crs == CRS84 and shapely.equals(geom.shape, shapely.Point(1, 2))


def test_projected_gml_keeps_its_crs(store: pyoxigraph.Store, functions: dict) -> None:
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform(15, 78)
    lit = gml(f"<gml:Point><gml:pos>{x} {y}</gml:pos></gml:Point>", "EPSG:32633")
    assert run(store, functions, f"geof:getSRID({sparql_literal(lit, GML_LITERAL)})").value == UTM33
    # asGeoJSON reprojects to CRS84 (22-047r1, Function: geof:asGeoJSON)
    out = run(store, functions, f"geof:asGeoJSON({sparql_literal(lit, GML_LITERAL)})")
    point = shapely.from_geojson(out.value)
    assert point.x == pytest.approx(15) and point.y == pytest.approx(78)
    # asKML too (Function: geof:asKML)
    kml = run(store, functions, f"geof:asKML({sparql_literal(lit, GML_LITERAL)})")
    assert shapely.equals_exact(shape_of(kml), shapely.Point(15, 78), 1e-9)


# --- empty literals (Req "gml-literal-empty", "kml-literal-empty", "geojson-literal-empty")


@pytest.mark.parametrize("datatype", GEOMETRY_DATATYPES)
def test_empty_literal_is_the_empty_geometry(
    store: pyoxigraph.Store, functions: dict, datatype: str
) -> None:
    assert parse_literal("", datatype).shape.is_empty
    assert run(store, functions, f'geof:isEmpty(""^^<{datatype}>)').value == "true"


def test_geojson_null_geometry_is_empty() -> None:
    assert parse_literal('{"geometry": null}', GEOJSON_LITERAL).shape.is_empty


# --- GML geometry types ------------------------------------------------------------------

GML_CASES = [
    (
        "<gml:LineString><gml:posList>0 0 1 1 2 0</gml:posList></gml:LineString>",
        "LINESTRING (0 0, 1 1, 2 0)",
    ),
    (
        "<gml:LineString><gml:pos>0 0</gml:pos><gml:pos>1 1</gml:pos></gml:LineString>",
        "LINESTRING (0 0, 1 1)",
    ),
    (
        "<gml:LineString><gml:coordinates>0,0 1,1</gml:coordinates></gml:LineString>",
        "LINESTRING (0 0, 1 1)",
    ),
    (
        '<gml:LineString><gml:coordinates decimal="," cs=";" ts="|">0,5;0|1;1,5</gml:coordinates></gml:LineString>',
        "LINESTRING (0.5 0, 1 1.5)",
    ),
    (
        "<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 4 0 4 4 0 4 0 0</gml:posList>"
        "</gml:LinearRing></gml:exterior><gml:interior><gml:LinearRing>"
        "<gml:pos>1 1</gml:pos><gml:pos>2 1</gml:pos><gml:pos>2 2</gml:pos><gml:pos>1 1</gml:pos>"
        "</gml:LinearRing></gml:interior></gml:Polygon>",
        "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
    ),
    (
        "<gml:Polygon><gml:outerBoundaryIs><gml:LinearRing><gml:coordinates>0,0 1,0 1,1 0,0"
        "</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs></gml:Polygon>",
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    ),
    (
        "<gml:MultiPoint><gml:pointMember><gml:Point><gml:pos>1 2</gml:pos></gml:Point></gml:pointMember>"
        "<gml:pointMembers><gml:Point><gml:pos>3 4</gml:pos></gml:Point><gml:Point><gml:pos>5 6</gml:pos>"
        "</gml:Point></gml:pointMembers></gml:MultiPoint>",
        "MULTIPOINT ((1 2), (3 4), (5 6))",
    ),
    (
        "<gml:MultiCurve><gml:curveMember><gml:LineString><gml:posList>0 0 1 1</gml:posList>"
        "</gml:LineString></gml:curveMember><gml:curveMember><gml:Curve><gml:segments>"
        "<gml:LineStringSegment><gml:posList>2 2 3 3</gml:posList></gml:LineStringSegment>"
        "<gml:LineStringSegment><gml:posList>3 3 4 2</gml:posList></gml:LineStringSegment>"
        "</gml:segments></gml:Curve></gml:curveMember></gml:MultiCurve>",
        "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3, 4 2))",
    ),
    (
        "<gml:MultiLineString><gml:lineStringMember><gml:LineString><gml:coordinates>0,0 1,1"
        "</gml:coordinates></gml:LineString></gml:lineStringMember></gml:MultiLineString>",
        "MULTILINESTRING ((0 0, 1 1))",
    ),
    (
        "<gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>"
        "<gml:posList>0 0 1 0 1 1 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
        "</gml:surfaceMember><gml:surfaceMember><gml:Surface><gml:patches><gml:PolygonPatch>"
        "<gml:exterior><gml:LinearRing><gml:posList>5 5 6 5 6 6 5 5</gml:posList></gml:LinearRing>"
        "</gml:exterior></gml:PolygonPatch></gml:patches></gml:Surface></gml:surfaceMember>"
        "</gml:MultiSurface>",
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
    ),
    (
        "<gml:MultiPolygon><gml:polygonMember><gml:Polygon><gml:outerBoundaryIs><gml:LinearRing>"
        "<gml:coordinates>0,0 1,0 1,1 0,0</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs>"
        "</gml:Polygon></gml:polygonMember></gml:MultiPolygon>",
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
    ),
    (
        "<gml:MultiGeometry><gml:geometryMember><gml:Point><gml:pos>1 2</gml:pos></gml:Point>"
        "</gml:geometryMember><gml:geometryMember><gml:LineString><gml:posList>0 0 1 1</gml:posList>"
        "</gml:LineString></gml:geometryMember></gml:MultiGeometry>",
        "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
    ),
    (
        "<gml:Envelope><gml:lowerCorner>0 1</gml:lowerCorner><gml:upperCorner>2 3</gml:upperCorner></gml:Envelope>",
        "POLYGON ((0 1, 2 1, 2 3, 0 3, 0 1))",
    ),
    (
        "<gml:Box><gml:coord><gml:X>0</gml:X><gml:Y>1</gml:Y></gml:coord><gml:coord><gml:X>2</gml:X>"
        "<gml:Y>3</gml:Y></gml:coord></gml:Box>",
        "POLYGON ((0 1, 2 1, 2 3, 0 3, 0 1))",
    ),
    (
        "<gml:Polygon><gml:exterior><gml:Ring><gml:curveMember><gml:LineString><gml:posList>"
        "0 0 1 0 1 1</gml:posList></gml:LineString></gml:curveMember><gml:curveMember><gml:LineString>"
        "<gml:posList>1 1 0 0</gml:posList></gml:LineString></gml:curveMember></gml:Ring></gml:exterior>"
        "</gml:Polygon>",
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    ),
    ("<gml:Point/>", "POINT EMPTY"),
    ("<gml:MultiSurface/>", "MULTIPOLYGON EMPTY"),
]


@pytest.mark.parametrize(("body", "wkt"), GML_CASES, ids=[w.split(" ")[0] for _, w in GML_CASES])
@pytest.mark.parametrize(
    "namespace", [GML32, "http://www.opengis.net/gml", "http://www.opengis.net/ont/gml"]
)
def test_gml_geometry_types(body: str, wkt: str, namespace: str) -> None:
    geom = parse_literal(gml(body, ns=namespace), GML_LITERAL)
    want = shapely.from_wkt(wkt)
    assert geom.shape.geom_type == want.geom_type
    assert shapely.equals_exact(geom.shape, want, 1e-12) or (geom.shape.is_empty and want.is_empty)


def test_gml_srs_dimension_3() -> None:
    body = "<gml:LineString><gml:posList>0 0 10 1 1 20</gml:posList></gml:LineString>"
    geom = parse_literal(gml(body, dim=3), GML_LITERAL)
    assert shapely.equals_exact(geom.shape, shapely.from_wkt("LINESTRING Z (0 0 10, 1 1 20)"), 0)
    assert 'srsDimension="3"' in to_gml(geom) and "0 0 10 1 1 20" in to_gml(geom)
    # a 3D EPSG:4326 point keeps its height when the axes are swapped
    latlon = gml("<gml:Point><gml:pos>60 10 100</gml:pos></gml:Point>", "EPSG:4326")
    assert parse_literal(latlon, GML_LITERAL).shape.equals_exact(shapely.Point(10, 60, 100), 0)


ROUND_TRIP = [
    "POINT (1.5 -2.25)",
    "POINT Z (1 2 3)",
    "LINESTRING (0 0, 1 1, 2 0)",
    "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
    "MULTIPOINT ((1 2), (3 4))",
    "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
    "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
    "POINT EMPTY",
    "GEOMETRYCOLLECTION EMPTY",
]


@pytest.mark.parametrize("wkt", ROUND_TRIP)
@pytest.mark.parametrize("version", ["3.2", "3.1.1", "2.1.2"])
@pytest.mark.parametrize("crs", [CRS84, EPSG4326, UTM33])
def test_gml_round_trip(wkt: str, version: str, crs: str) -> None:
    prefix = "" if crs == CRS84 else f"<{crs}> "
    geom = parse_literal(prefix + wkt, WKT_LITERAL)
    back = parse_literal(to_gml(geom, version), GML_LITERAL)
    assert back.crs == crs
    assert back.shape.geom_type == geom.shape.geom_type
    assert shapely.equals_exact(back.shape, geom.shape, 0) or (
        back.shape.is_empty and geom.shape.is_empty
    )


@pytest.mark.parametrize("wkt", ROUND_TRIP)
def test_kml_round_trip(wkt: str) -> None:
    geom = parse_literal(wkt, WKT_LITERAL)
    text = to_kml(geom)
    assert text.startswith("<") and 'xmlns="http://www.opengis.net/kml/2.2"' in text
    back = parse_literal(text, KML_LITERAL)
    assert back.crs == CRS84
    assert shapely.equals_exact(back.shape, geom.shape, 0) or (
        back.shape.is_empty and geom.shape.is_empty
    )


def test_kml_is_always_crs84() -> None:
    geom = parse_literal(f"<{EPSG4326}> POINT(60 10)", WKT_LITERAL)  # lat 60, lon 10
    assert "<coordinates>10,60</coordinates>" in to_kml(geom)
    polygon = """<Polygon><outerBoundaryIs><LinearRing><coordinates>
        0,0,5 1,0,5 1,1,5 0,0,5</coordinates></LinearRing></outerBoundaryIs></Polygon>"""
    shape = parse_literal(polygon, KML_LITERAL).shape
    assert shape.has_z and shape.equals(
        shapely.from_wkt("POLYGON Z ((0 0 5, 1 0 5, 1 1 5, 0 0 5))")
    )


# --- malformed literals name themselves -------------------------------------------------

MALFORMED = [
    ("<gml:Point><gml:pos>1 2</gml:Point>", GML_LITERAL, "not well-formed"),
    ("<gml:Point><gml:pos>1 oops</gml:pos></gml:Point>", GML_LITERAL, "not a number"),
    (
        "<gml:LineString><gml:posList>0 0 1</gml:posList></gml:LineString>",
        GML_LITERAL,
        "multiple of 2",
    ),
    ("<gml:Arc><gml:posList>0 0 1 1 2 0</gml:posList></gml:Arc>", GML_LITERAL, "unsupported"),
    (SPEC_KML_POINT, GML_LITERAL, "not a GML namespace"),
    ("<gml:Point/><gml:Point/>", GML_LITERAL, "exactly one"),
    ("POINT(1 2)", GML_LITERAL, "exactly one"),
    ("<Point><coordinates>1</coordinates></Point>", KML_LITERAL, "ordinates"),
    ("<Track><coord>1 2 3</coord></Track>", KML_LITERAL, "unsupported"),
]


@pytest.mark.parametrize(("value", "datatype", "reason"), MALFORMED)
def test_malformed_literal_errors_name_the_literal(value: str, datatype: str, reason: str) -> None:
    with pytest.raises(GeometryError) as err:
        parse_literal(value, datatype)
    assert reason in str(err.value)
    assert value.strip()[:40] in str(err.value)


def test_long_malformed_literal_is_shortened() -> None:
    body = " ".join(["1 2"] * 2000) + " 3"
    value = f"<gml:LineString><gml:posList>{body}</gml:posList></gml:LineString>"
    with pytest.raises(GeometryError) as err:
        parse_literal(value, GML_LITERAL)
    assert err.value.where is not None and len(err.value.where) < 100
    assert err.value.where.startswith('"<gml:LineString>')


@pytest.mark.parametrize(
    "value",
    [
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<gml:Point><gml:pos>&lol2; 1</gml:pos></gml:Point>",
        '<?xml version="1.0"?><!DOCTYPE p SYSTEM "file:///etc/passwd"><gml:Point/>',
        "<gml:Point><gml:pos>&xxe; 1</gml:pos></gml:Point>",
    ],
    ids=["entity-expansion", "external-dtd", "undeclared-entity"],
)
@pytest.mark.parametrize("datatype", [GML_LITERAL, KML_LITERAL])
def test_xml_entities_are_never_resolved(value: str, datatype: str) -> None:
    with pytest.raises(GeometryError):
        parse_literal(value, datatype)


def test_unknown_srs_name_is_a_crs_error() -> None:
    with pytest.raises(CRSError) as err:
        parse_literal(
            gml("<gml:Point><gml:pos>1 2</gml:pos></gml:Point>", "EPSG:99999999"), GML_LITERAL
        )
    assert "99999999" in str(err.value)


def test_malformed_literal_in_a_query_is_unbound(store: pyoxigraph.Store, functions: dict) -> None:
    bad = sparql_literal("<gml:Point><gml:pos>1</gml:pos>", GML_LITERAL)
    assert run(store, functions, f"geof:isEmpty({bad})") is None


# --- function signatures (22-047r1 Non-topological Query Functions and Annex B) -------

POLY = "POLYGON((10 70, 12 70, 12 72, 10 72, 10 70))"
OTHER = "POLYGON((11 71, 13 71, 13 73, 11 73, 11 71))"
G = sparql_literal(POLY, WKT_LITERAL)
H = sparql_literal(OTHER, WKT_LITERAL)
GEOM = "geometry"  # placeholder: "the datatype of the first argument"
SIGNATURES: dict[str, tuple[str, str]] = {
    "relate": (f'geof:relate({G}, {H}, "T*T***T**")', XSD + "boolean"),
    "distance": (f"geof:distance({G}, {H}, uom:metre)", XSD + "double"),
    "metricDistance": (f"geof:metricDistance({G}, {H})", XSD + "double"),
    "area": (f"geof:area({G}, uom:squareMetre)", XSD + "double"),
    "metricArea": (f"geof:metricArea({G})", XSD + "double"),
    "length": (f"geof:length({G}, uom:metre)", XSD + "double"),
    "metricLength": (f"geof:metricLength({G})", XSD + "double"),
    "perimeter": (f"geof:perimeter({G}, uom:metre)", XSD + "double"),
    "metricPerimeter": (f"geof:metricPerimeter({G})", XSD + "double"),
    "buffer": (f"geof:buffer({G}, 100, uom:metre)", GEOM),
    "metricBuffer": (f"geof:metricBuffer({G}, 100)", GEOM),
    "envelope": (f"geof:envelope({G})", GEOM),
    "convexHull": (f"geof:convexHull({G})", GEOM),
    "concaveHull": (f"geof:concaveHull({G})", GEOM),
    "boundingCircle": (f"geof:boundingCircle({G})", GEOM),
    "boundary": (f"geof:boundary({G})", GEOM),
    "centroid": (f"geof:centroid({G})", GEOM),
    "intersection": (f"geof:intersection({G}, {H})", GEOM),
    "union": (f"geof:union({G}, {H})", GEOM),
    "difference": (f"geof:difference({G}, {H})", GEOM),
    "symDifference": (f"geof:symDifference({G}, {H})", GEOM),
    "transform": (f"geof:transform({G}, <{CRS84}>)", GEOM),
    "geometryN": (f"geof:geometryN({G}, 1)", GEOM),
    "asWKT": (f"geof:asWKT({G})", WKT_LITERAL),
    "asGeoJSON": (f"geof:asGeoJSON({G})", GEOJSON_LITERAL),
    "asGML": (f'geof:asGML({G}, "3.2")', GML_LITERAL),
    "asKML": (f"geof:asKML({G})", KML_LITERAL),
    "getSRID": (f"geof:getSRID({G})", XSD + "anyURI"),
    "geometryType": (f"geof:geometryType({G})", XSD + "anyURI"),
    "isEmpty": (f"geof:isEmpty({G})", XSD + "boolean"),
    "isSimple": (f"geof:isSimple({G})", XSD + "boolean"),
    "is3D": (f"geof:is3D({G})", XSD + "boolean"),
    "isMeasured": (f"geof:isMeasured({G})", XSD + "boolean"),
    "dimension": (f"geof:dimension({G})", XSD + "integer"),
    "coordinateDimension": (f"geof:coordinateDimension({G})", XSD + "integer"),
    "spatialDimension": (f"geof:spatialDimension({G})", XSD + "integer"),
    "numGeometries": (f"geof:numGeometries({G})", XSD + "integer"),
    **{name: (f"geof:{name}({G})", XSD + "double") for name in ("minX", "maxX", "minY", "maxY")},
    **{
        name: (f"geof:{name}({sparql_literal('POINT Z (1 2 3)', WKT_LITERAL)})", XSD + "double")
        for name in ("minZ", "maxZ")
    },
}


def test_every_registered_function_has_a_signature_case() -> None:
    relations = {
        name
        for name in FUNCTIONS
        if FUNCTIONS[name].args == "gg" and FUNCTIONS[name].returns == "bool"
    }
    assert set(FUNCTIONS) - relations == set(SIGNATURES)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
@pytest.mark.parametrize("datatype", GEOMETRY_DATATYPES)
def test_result_types_for_every_serialization(
    store: pyoxigraph.Store, functions: dict, name: str, datatype: str
) -> None:
    """Each function takes every literal type and answers the 1.1 result type; a geometry
    result keeps the first argument's serialization."""
    expr, result = SIGNATURES[name]
    for wkt in (POLY, OTHER, "POINT Z (1 2 3)"):
        lexical, _ = to_literal(parse_literal(wkt, WKT_LITERAL), datatype)
        expr = expr.replace(sparql_literal(wkt, WKT_LITERAL), sparql_literal(lexical, datatype))
    term = run(store, functions, expr)
    assert term is not None, expr
    assert term.datatype.value == (datatype if result == GEOM else result)


@pytest.mark.parametrize("name", sorted(n for n, (_, r) in SIGNATURES.items() if r != GEOM))
def test_values_agree_across_serializations(
    store: pyoxigraph.Store, functions: dict, name: str
) -> None:
    expr, _ = SIGNATURES[name]
    answers = set()
    for datatype in GEOMETRY_DATATYPES:
        converted = expr
        for wkt in (POLY, OTHER, "POINT Z (1 2 3)"):
            lexical, _ = to_literal(parse_literal(wkt, WKT_LITERAL), datatype)
            converted = converted.replace(
                sparql_literal(wkt, WKT_LITERAL), sparql_literal(lexical, datatype)
            )
        term = run(store, functions, converted)
        value = term.value
        if term.datatype.value == XSD + "double":
            value = f"{float(value):.6g}"
        elif term.datatype.value in GEOMETRY_DATATYPES:
            value = shapely.to_wkt(shape_of(term), rounding_precision=6)
        answers.add(value)
    assert len(answers) == 1, answers


def test_values_match_the_definitions(store: pyoxigraph.Store, functions: dict) -> None:
    geod = pyproj.Geod(ellps="WGS84")
    poly = shapely.from_wkt(POLY)
    assert float(run(store, functions, SIGNATURES["metricArea"][0]).value) == pytest.approx(
        abs(geod.geometry_area_perimeter(poly)[0])
    )
    assert float(run(store, functions, SIGNATURES["perimeter"][0]).value) == pytest.approx(
        geod.geometry_length(poly)
    )
    assert run(store, functions, SIGNATURES["dimension"][0]).value == "2"
    assert run(store, functions, SIGNATURES["geometryType"][0]).value == SF + "Polygon"
    assert run(store, functions, SIGNATURES["getSRID"][0]).value == CRS84
    line = sparql_literal("LINESTRING(0 0, 1 0, 1 1)", WKT_LITERAL)
    assert float(run(store, functions, f"geof:metricArea({line})").value) == 0.0  # only polygons
    assert (
        run(
            store,
            functions,
            f"geof:spatialDimension({sparql_literal('POINT M (1 2 3)', WKT_LITERAL)})",
        ).value
        == "2"
    )
    assert (
        run(
            store,
            functions,
            f"geof:coordinateDimension({sparql_literal('POINT M (1 2 3)', WKT_LITERAL)})",
        ).value
        == "3"
    )
    assert (
        run(
            store, functions, f"geof:isMeasured({sparql_literal('POINT M (1 2 3)', WKT_LITERAL)})"
        ).value
        == "true"
    )
    # a polygon with a hole: the hole is not area, whatever the rings' orientation
    holed = "POLYGON((0 0, 0 2, 2 2, 2 0, 0 0), (0.5 0.5, 0.5 1, 1 1, 1 0.5, 0.5 0.5))"
    outer = "POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))"
    hole = "POLYGON((0.5 0.5, 1 0.5, 1 1, 0.5 1, 0.5 0.5))"
    areas = [
        float(run(store, functions, f"geof:metricArea({sparql_literal(w, WKT_LITERAL)})").value)
        for w in (holed, outer, hole)
    ]
    assert areas[0] == pytest.approx(areas[1] - areas[2])


def test_geometry_n_is_one_based(store: pyoxigraph.Store, functions: dict) -> None:
    multi = sparql_literal("MULTIPOINT((1 2), (3 4))", WKT_LITERAL)
    assert shape_of(run(store, functions, f"geof:geometryN({multi}, 1)")).equals(
        shapely.Point(1, 2)
    )
    assert shape_of(run(store, functions, f"geof:geometryN({multi}, 2)")).equals(
        shapely.Point(3, 4)
    )
    assert run(store, functions, f"geof:geometryN({multi}, 0)") is None
    assert run(store, functions, f"geof:geometryN({multi}, 3)") is None


def test_as_gml_profiles(store: pyoxigraph.Store, functions: dict) -> None:
    point = sparql_literal("POINT(1 2)", WKT_LITERAL)
    default = run(store, functions, f"geof:asGML({point})").value
    assert f'xmlns:gml="{GML32}"' in default and "<gml:pos>1 2</gml:pos>" in default
    gml311 = run(store, functions, f'geof:asGML({point}, "GML 3.1.1")').value
    assert 'xmlns:gml="http://www.opengis.net/gml"' in gml311
    gml2 = run(store, functions, f'geof:asGML({point}, "2.1.2")').value
    assert "<gml:coordinates>1,2</gml:coordinates>" in gml2
    assert run(store, functions, f'geof:asGML({point}, "9.9")') is None


def test_results_follow_first_argument(store: pyoxigraph.Store, functions: dict) -> None:
    """Computed in the first argument's CRS and written in its serialization."""
    latlon = gml(
        "<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>70 10 70 12 72 12 72 10 70 10"
        "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>",
        "urn:ogc:def:crs:EPSG::4326",
    )
    result = run(store, functions, f"geof:intersection({sparql_literal(latlon, GML_LITERAL)}, {H})")
    assert result.datatype.value == GML_LITERAL
    assert f'srsName="{EPSG4326}"' in result.value
    geom = parse_literal(result.value, GML_LITERAL)
    assert shapely.equals(geom.shape, shapely.box(11, 71, 12, 72))
    assert "71 11" in result.value or "71 12" in result.value  # written latitude first
    # GeoJSON cannot carry UTM: transform's result falls back to WKT with the CRS IRI
    geojson = sparql_literal('{"type": "Point", "coordinates": [15, 78]}', GEOJSON_LITERAL)
    moved = run(store, functions, f"geof:transform({geojson}, <{UTM33}>)")
    assert moved.datatype.value == WKT_LITERAL and moved.value.startswith(f"<{UTM33}>")
    # a CRS given as an xsd:anyURI literal or an EPSG code works too
    moved = run(store, functions, f'geof:transform({geojson}, "EPSG:32633"^^<{XSD}anyURI>)')
    assert moved.value.startswith(f"<{UTM33}>")


def test_aggregates_keep_serialization(store: pyoxigraph.Store) -> None:
    values = " ".join(
        sparql_literal(to_gml(parse_literal(w, WKT_LITERAL)), GML_LITERAL) for w in (POLY, OTHER)
    )
    aggregates = (
        "aggUnion",
        "aggBoundingBox",
        "aggConvexHull",
        "aggConcaveHull",
        "aggCentroid",
        "aggBoundingCircle",
    )
    for name in aggregates:
        query = f"SELECT (<{GEOF}{name}>(?g) AS ?r) WHERE {{ VALUES ?g {{ {values} }} }}"
        term = solutions(store, query)[0]["r"]
        assert term is not None and term.datatype.value == GML_LITERAL, name
        if name != "aggBoundingCircle":
            assert shape_of(term).within(shapely.box(10, 70, 13, 73).buffer(1e-9)), name
    query = f"SELECT (<{GEOF}aggBoundingBox>(?g) AS ?r) WHERE {{ VALUES ?g {{ {values} }} }}"
    assert math.isclose(shape_of(solutions(store, query)[0]["r"]).area, 9.0)
