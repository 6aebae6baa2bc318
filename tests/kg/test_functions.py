# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""The geof: library against shapely/pyproj truth, through real SPARQL queries."""

from __future__ import annotations

import math

import pyproj
import pytest
import shapely

from eokg.errors import CRSError, GeometryError
from eokg.kg.functions import RELATIONS, call, distance, relation_holds
from eokg.kg.geometry import parse_literal, to_wkt
from eokg.kg.store import GeoStore
from eokg.ontologies.namespaces import GEO, GEOF, UOM

WKT = GEO + "wktLiteral"
EPSG4326 = "<http://www.opengis.net/def/crs/EPSG/0/4326>"
A = "POLYGON((10 70, 12 70, 12 72, 10 72, 10 70))"
B = "POLYGON((11 71, 13 71, 13 73, 11 73, 11 71))"
INSIDE = "POLYGON((10.5 70.5, 11 70.5, 11 71, 10.5 71, 10.5 70.5))"
FAR = "POINT(30 80)"
LINE = "LINESTRING(9 71, 13 71)"
SHAPES = [A, B, INSIDE, FAR, LINE, "POINT(11 71)", "POINT(10 70)"]


@pytest.fixture(scope="module")
def store() -> GeoStore:
    return GeoStore()


def lit(wkt: str) -> str:
    return f'"{wkt}"^^<{WKT}>'


def scalar(store: GeoStore, expr: str):
    rows = list(store.query(f"SELECT ({expr} AS ?r) WHERE {{}}"))
    term = rows[0]["r"]
    return None if term is None else term.value


@pytest.mark.parametrize("name", sorted(RELATIONS))
def test_relations_match_shapely(store: GeoStore, name: str) -> None:
    for left in SHAPES:
        for right in SHAPES:
            got = scalar(store, f"<{GEOF}{name}>({lit(left)}, {lit(right)})")
            want = bool(relation_holds(name, shapely.from_wkt(left), shapely.from_wkt(right)))
            assert got == ("true" if want else "false"), (name, left, right)


def test_sf_relations_are_shapely_predicates() -> None:
    a, b = shapely.from_wkt(A), shapely.from_wkt(INSIDE)
    assert relation_holds("sfContains", a, b) and relation_holds("ehContains", a, b)
    assert relation_holds("rcc8ntppi", a, b) and not relation_holds("rcc8tppi", a, b)
    assert relation_holds("sfWithin", b, a) and relation_holds("rcc8ntpp", b, a)


def test_relate_and_constructive(store: GeoStore) -> None:
    a, b = shapely.from_wkt(A), shapely.from_wkt(B)
    pattern = shapely.relate(a, b)
    assert scalar(store, f'<{GEOF}relate>({lit(A)}, {lit(B)}, "{pattern}")') == "true"
    for name, op in [
        ("intersection", shapely.intersection),
        ("union", shapely.union),
        ("difference", shapely.difference),
        ("symDifference", shapely.symmetric_difference),
    ]:
        got = shapely.from_wkt(scalar(store, f"<{GEOF}{name}>({lit(A)}, {lit(B)})"))
        assert shapely.equals(got, op(a, b)), name
    for name, op in [
        ("envelope", shapely.envelope),
        ("convexHull", shapely.convex_hull),
        ("boundary", shapely.boundary),
        ("centroid", shapely.centroid),
    ]:
        got = shapely.from_wkt(scalar(store, f"<{GEOF}{name}>({lit(LINE)})"))
        assert shapely.equals_exact(got, op(shapely.from_wkt(LINE)), 1e-9), name


def test_accessors(store: GeoStore) -> None:
    multi = "MULTIPOINT((1 2), (3 4), (5 6))"
    assert scalar(store, f"<{GEOF}numGeometries>({lit(multi)})") == "3"
    assert scalar(store, f"<{GEOF}geometryN>({lit(multi)}, 2)") == "POINT (3 4)"
    assert scalar(store, f"<{GEOF}dimension>({lit(A)})") == "2"
    assert scalar(store, f"<{GEOF}coordinateDimension>({lit('POINT Z(1 2 3)')})") == "3"
    assert scalar(store, f"<{GEOF}isEmpty>({lit('POINT EMPTY')})") == "true"
    assert scalar(store, f"<{GEOF}isSimple>({lit('LINESTRING(0 0, 2 2, 0 2, 2 0)')})") == "false"
    assert float(scalar(store, f"<{GEOF}minX>({lit(A)})")) == 10.0
    assert float(scalar(store, f"<{GEOF}maxY>({lit(B)})")) == 73.0
    assert (
        scalar(store, f"<{GEOF}getSRID>({lit(A)})")
        == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    )
    gj = scalar(store, f"<{GEOF}asGeoJSON>({lit('POINT(1 2)')})")
    assert shapely.equals(shapely.from_geojson(gj), shapely.Point(1, 2))
    geojson = (
        '"{\\"type\\": \\"Point\\", \\"coordinates\\": [11, 71]}"' + f"^^<{GEO}geoJSONLiteral>"
    )
    assert scalar(store, f"<{GEOF}sfWithin>({geojson}, {lit(A)})") == "true"


def test_distance_units(store: GeoStore) -> None:
    geod = pyproj.Geod(ellps="WGS84")
    want = geod.inv(10, 70, 30, 80)[2]
    got = float(scalar(store, f"<{GEOF}distance>({lit('POINT(10 70)')}, {lit(FAR)}, <{UOM}metre>)"))
    assert got == pytest.approx(want, rel=1e-9)
    km = float(
        scalar(store, f"<{GEOF}distance>({lit('POINT(10 70)')}, {lit(FAR)}, <{UOM}kilometre>)")
    )
    assert km == pytest.approx(want / 1000)
    deg = float(
        scalar(store, f"<{GEOF}distance>({lit('POINT(10 70)')}, {lit(FAR)}, <{UOM}degree>)")
    )
    assert deg == pytest.approx(math.hypot(20, 10))
    rad = float(
        scalar(store, f"<{GEOF}distance>({lit('POINT(10 70)')}, {lit(FAR)}, <{UOM}radian>)")
    )
    assert rad == pytest.approx(math.radians(math.hypot(20, 10)))
    assert float(scalar(store, f"<{GEOF}distance>({lit(A)}, {lit(INSIDE)}, <{UOM}metre>)")) == 0.0


def test_area_length_buffer(store: GeoStore) -> None:
    geod = pyproj.Geod(ellps="WGS84")
    poly = shapely.from_wkt(A)
    area = float(scalar(store, f"<{GEOF}area>({lit(A)}, <{UOM}squareMetre>)"))
    assert area == pytest.approx(abs(geod.geometry_area_perimeter(poly)[0]))
    length = float(scalar(store, f"<{GEOF}length>({lit(LINE)}, <{UOM}metre>)"))
    assert length == pytest.approx(geod.geometry_length(shapely.from_wkt(LINE)))
    ring = shapely.from_wkt(
        scalar(store, f"<{GEOF}buffer>({lit('POINT(15 78)')}, 1000, <{UOM}metre>)")
    )
    # every vertex of a 1 km buffer is 1 km (geodesic) from the centre
    xs, ys = shapely.get_coordinates(ring).T
    dists = geod.inv([15.0] * len(xs), [78.0] * len(xs), xs, ys)[2]
    assert min(dists) == pytest.approx(1000, rel=2e-3) and max(dists) == pytest.approx(
        1000, rel=2e-3
    )
    deg = shapely.from_wkt(scalar(store, f"<{GEOF}buffer>({lit('POINT(0 0)')}, 1, <{UOM}degree>)"))
    assert deg.area == pytest.approx(shapely.buffer(shapely.Point(0, 0), 1).area)


def test_epsg4326_axis_order(store: GeoStore) -> None:
    latlon = f"{EPSG4326} POINT(71 11)"
    assert scalar(store, f"<{GEOF}sfWithin>({lit(latlon)}, {lit(A)})") == "true"
    assert (
        scalar(store, f"<{GEOF}sfWithin>({lit(f'{EPSG4326} POINT(11 71)')}, {lit(A)})") == "false"
    )
    # results come back in the first argument's CRS and axis order
    env = scalar(store, f"<{GEOF}envelope>({lit(f'{EPSG4326} LINESTRING(70 10, 72 12)')})")
    assert env.startswith(EPSG4326)
    assert shapely.equals(shapely.from_wkt(env[len(EPSG4326) :]), shapely.box(70, 10, 72, 12))


def test_projected_crs_and_transform(store: GeoStore) -> None:
    utm = "http://www.opengis.net/def/crs/EPSG/0/32633"
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    x, y = tr.transform(15.0, 78.0)
    point = f"<{utm}> POINT({x} {y})"
    got = scalar(
        store, f"<{GEOF}transform>({lit(point)}, <http://www.opengis.net/def/crs/OGC/1.3/CRS84>)"
    )
    p = shapely.from_wkt(got)
    assert p.x == pytest.approx(15.0) and p.y == pytest.approx(78.0)
    # planar metres on a projected CRS
    other = f"<{utm}> POINT({x + 300} {y + 400})"
    assert float(
        scalar(store, f"<{GEOF}distance>({lit(point)}, {lit(other)}, <{UOM}metre>)")
    ) == pytest.approx(500)
    # mixed CRSs: the second argument is reprojected
    assert (
        scalar(
            store,
            f"<{GEOF}sfIntersects>({lit('POLYGON((14 77, 16 77, 16 79, 14 79, 14 77))')}, {lit(point)})",
        )
        == "true"
    )


def test_errors_name_the_literal() -> None:
    with pytest.raises(GeometryError) as bad:
        parse_literal("POLYGON((1 2, oops))", WKT)
    assert "POLYGON((1 2, oops))" in str(bad.value)
    with pytest.raises(CRSError) as crs:
        parse_literal("<http://www.opengis.net/def/crs/EPSG/0/99999999> POINT(1 2)", WKT)
    assert "99999999" in str(crs.value)
    with pytest.raises(GeometryError):
        parse_literal('{"type": "Nope"}', GEO + "geoJSONLiteral")
    # inside a query an error is an unbound value (SPARQL semantics)
    assert scalar(GeoStore(), f"<{GEOF}sfIntersects>({lit('POINT(1')}, {lit(A)})") is None


def test_direct_call_and_round_trip() -> None:
    import pyoxigraph

    term = pyoxigraph.Literal(f"{EPSG4326} POINT(71 11)", datatype=pyoxigraph.NamedNode(WKT))
    assert call("getSRID", term).value.endswith("/4326")
    geom = parse_literal(f"{EPSG4326} POINT(71 11)", WKT)
    assert to_wkt(geom) == f"{EPSG4326} POINT (71 11)"
    assert distance(geom, parse_literal("POINT(11 71)", WKT), UOM + "metre") == 0.0


def test_aggregates(store: GeoStore) -> None:
    rows = list(
        store.query(
            f"SELECT (<{GEOF}aggBoundingBox>(?w) AS ?box) WHERE {{ VALUES ?w {{ {lit(A)} {lit(B)} }} }}"
        )
    )
    assert shapely.equals(shapely.from_wkt(rows[0]["box"].value), shapely.box(10, 70, 13, 73))
