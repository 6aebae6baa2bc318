"""The GeoSPARQL 1.1 function library, as pyoxigraph custom functions.

Oxigraph evaluates some ``geof:`` functions natively, but it reads only CRS84
WKT (a ``<.../EPSG/0/4326>`` literal silently yields no result) and lacks area,
buffer, boundary, transform and non-point distance.  So eokg registers its own
implementation of *every* function under the ``geof:`` IRIs: one table, one
small entry per function, over ``geo:wktLiteral``, ``geo:geoJSONLiteral``,
``geo:gmlLiteral`` and ``geo:kmlLiteral`` in any CRS pyproj knows.  The table
follows the function list and signatures of GeoSPARQL 1.1 (OGC 22-047r1,
"Non-topological Query Functions" and Annex B); GeoSPARQL 1.0's are a subset.

Binary functions compute in the CRS of their first argument (the second is
reprojected), as GeoSPARQL prescribes.  A function returning a geometry writes
it in the serialization of its first geometry argument (GeoSPARQL 1.1,
"Function notes"); a GeoJSON or KML argument whose result is not in CRS84
(``geof:transform``) gets a WKT literal, the only one that can carry the CRS.
Lengths and areas in metres on a geographic CRS are geodesic (WGS 84
ellipsoid).  A function that fails raises a ``GeometryError``/``CRSError``
naming the literal; inside a query Oxigraph turns that into an unbound value,
which is the SPARQL error semantics for filters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eokg.errors import GeometryError, InputError
from eokg.kg.geometry import (
    GEOMETRY_DATATYPES,
    WKT_LITERAL,
    Geom,
    crs_info,
    crs_iri,
    is_geographic,
    parse_literal,
    same_crs,
    short,
    to_geojson,
    to_gml,
    to_kml,
    to_literal,
    to_wkt,
    transform,
)
from eokg.ontologies.namespaces import GEO, GEOF, SF, UOM, XSD

if TYPE_CHECKING:
    import numpy as np

QUDT = "http://qudt.org/vocab/unit/"
METRE = UOM + "metre"
SQUARE_METRE = UOM + "squareMetre"
#: ``geof:concaveHull`` without a ratio and ``geof:aggConcaveHull`` (GeoSPARQL leaves the
#: parameter to the implementation): shapely's ratio, 0 most concave, 1 the convex hull.
DEFAULT_CONCAVE_HULL_RATIO = 0.5

#: Linear units -> metres.
LENGTH_UNITS: dict[str, float] = {
    UOM + "metre": 1.0,
    UOM + "meter": 1.0,
    UOM + "kilometre": 1000.0,
    UOM + "kilometer": 1000.0,
    QUDT + "M": 1.0,
    QUDT + "KiloM": 1000.0,
}
#: Angular units -> degrees.
ANGLE_UNITS: dict[str, float] = {
    UOM + "degree": 1.0,
    UOM + "radian": 180.0 / math.pi,
    QUDT + "DEG": 1.0,
    QUDT + "RAD": 180.0 / math.pi,
}
#: Area units -> square metres.
AREA_UNITS: dict[str, float] = {
    UOM + "squareMetre": 1.0,
    UOM + "squareMeter": 1.0,
    UOM + "squareKilometre": 1e6,
    UOM + "squareKilometer": 1e6,
    UOM + "metre": 1.0,  # lenient: some data write the length unit for areas
    QUDT + "M2": 1.0,
    QUDT + "KiloM2": 1e6,
    QUDT + "HA": 1e4,
}

# --- topological relations ---------------------------------------------------------------

#: Relation -> shapely predicate name, or DE-9IM patterns (any may match), per GeoSPARQL 1.1.
RELATIONS: dict[str, str | tuple[str, ...]] = {
    "sfEquals": "equals",
    "sfDisjoint": "disjoint",
    "sfIntersects": "intersects",
    "sfTouches": "touches",
    "sfCrosses": "crosses",
    "sfWithin": "within",
    "sfContains": "contains",
    "sfOverlaps": "overlaps",
    "ehEquals": ("TFFFTFFFT",),
    "ehDisjoint": ("FF*FF****",),
    "ehMeet": ("FT*******", "F**T*****", "F***T****"),
    "ehOverlap": ("T*T***T**",),
    "ehCovers": ("T*TFT*FF*",),
    "ehCoveredBy": ("TFF*TFT**",),
    "ehInside": ("TFF*FFT**",),
    "ehContains": ("T*TFF*FF*",),
    "rcc8eq": ("TFFFTFFFT",),
    "rcc8dc": ("FFTFFTTTT",),
    "rcc8ec": ("FFTFTTTTT",),
    "rcc8po": ("TTTTTTTTT",),
    "rcc8tppi": ("TTTFTTFFT",),
    "rcc8tpp": ("TFFTTFTTT",),
    "rcc8ntpp": ("TFFTFFTTT",),
    "rcc8ntppi": ("TTTFFTFFT",),
}
#: Relations that can hold between geometries whose bounding boxes do not meet.
DISJOINT_RELATIONS = frozenset({"sfDisjoint", "ehDisjoint", "rcc8dc"})


def relation_holds(name: str, a: Any, b: Any) -> Any:
    """Evaluate relation ``name`` on shapely geometries or equal-length arrays of them.

    Shared by the scalar SPARQL function and the vectorised spatial join, so the
    index path and the plain path agree by construction.
    """
    import numpy as np
    import shapely

    rule = RELATIONS[name]
    if isinstance(rule, str):
        return getattr(shapely, rule)(a, b)
    result: np.ndarray | bool = False
    for pattern in rule:
        result = np.logical_or(result, shapely.relate_pattern(a, b, pattern))
    return result


# --- argument and result conversion ------------------------------------------------------


def geom_arg(term: Any) -> Geom:
    """A pyoxigraph term as a parsed geometry; anything else is a GeometryError naming it."""
    datatype = getattr(getattr(term, "datatype", None), "value", None)
    if datatype not in GEOMETRY_DATATYPES:
        raise GeometryError(
            "expected a geometry literal (geo:wktLiteral, geo:geoJSONLiteral, geo:gmlLiteral"
            " or geo:kmlLiteral)",
            where=short(str(term)),
        )
    return parse_literal(term.value, datatype)


def _iri_arg(term: Any) -> str:
    return str(term.value)


def _num_arg(term: Any) -> float:
    try:
        return float(term.value)
    except (AttributeError, ValueError) as exc:
        raise InputError("expected a number", where=short(str(term))) from exc


def _str_arg(term: Any) -> str:
    return str(term.value)


def length_factor(uom: str) -> tuple[str, float]:
    """``("m", metres per unit)`` or ``("deg", degrees per unit)`` for a distance unit."""
    if uom in LENGTH_UNITS:
        return "m", LENGTH_UNITS[uom]
    if uom in ANGLE_UNITS:
        return "deg", ANGLE_UNITS[uom]
    raise InputError(f"unsupported unit of measure <{uom}>", where=f"<{uom}>")


@lru_cache(maxsize=1)
def _geod() -> Any:
    import pyproj

    return pyproj.Geod(ellps="WGS84")


def _crs_metres(crs: str) -> float:
    """Metres per unit of a projected CRS's axes."""
    axes = crs_info(crs)[0].axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


# --- the functions (python values in, python values out) ---------------------------------


def distance(a: Geom, b: Geom, uom: str) -> float:
    """Minimum distance; geodesic metres on a geographic CRS.

    For non-point geometries on a geographic CRS the closest pair of points is
    found in lon/lat and measured on the ellipsoid (exact for points, a close
    approximation otherwise).
    """
    import shapely

    a, b = same_crs(a, b)
    kind, factor = length_factor(uom)
    if shapely.is_empty(a.shape) or shapely.is_empty(b.shape):
        raise GeometryError("distance to an empty geometry", where=short(to_wkt(a)))
    if kind == "deg":
        if not is_geographic(a.crs):
            raise InputError("angular unit on a projected CRS", where=f"<{uom}>")
        return float(shapely.distance(a.shape, b.shape)) / factor
    if not is_geographic(a.crs):
        return float(shapely.distance(a.shape, b.shape)) * _crs_metres(a.crs) / factor
    if shapely.intersects(a.shape, b.shape):
        return 0.0
    from shapely.ops import nearest_points

    pa, pb = nearest_points(a.shape, b.shape)
    _, _, metres = _geod().inv(pa.x, pa.y, pb.x, pb.y)
    return float(metres) / factor


def buffer(a: Geom, radius: float, uom: str) -> Geom:
    """Buffer; metres on a geographic CRS go through a local azimuthal equidistant projection."""
    import pyproj
    import shapely

    kind, factor = length_factor(uom)
    if kind == "deg":
        if not is_geographic(a.crs):
            raise InputError("angular unit on a projected CRS", where=f"<{uom}>")
        return Geom(shapely.buffer(a.shape, radius * factor), a.crs)
    metres = radius * factor
    if not is_geographic(a.crs):
        return Geom(shapely.buffer(a.shape, metres / _crs_metres(a.crs)), a.crs)
    centre = shapely.centroid(a.shape)
    local = pyproj.CRS.from_proj4(
        f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m"
    )
    source = crs_info(a.crs)[0]
    fwd = pyproj.Transformer.from_crs(source, local, always_xy=True)
    inv = pyproj.Transformer.from_crs(local, source, always_xy=True)
    projected = shapely.transform(a.shape, lambda c: _apply(fwd, c))
    grown = shapely.buffer(projected, metres)
    return Geom(shapely.transform(grown, lambda c: _apply(inv, c)), a.crs)


def _apply(transformer: Any, coords: np.ndarray) -> np.ndarray:
    import numpy as np

    x, y = transformer.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def _polygons(shape: Any) -> list[Any]:
    """The polygons in a geometry, collections unpacked: the only parts that have area."""
    if shape.geom_type == "Polygon":
        return [] if shape.is_empty else [shape]
    if shape.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [p for part in shape.geoms for p in _polygons(part)]
    return []


def area(a: Geom, uom: str) -> float:
    """Area of the polygonal parts (zero for anything else); geodesic on a geographic CRS."""
    from shapely.geometry.polygon import orient

    if uom not in AREA_UNITS:
        raise InputError(f"unsupported area unit <{uom}>", where=f"<{uom}>")
    polygons = _polygons(a.shape)
    if is_geographic(a.crs):
        # pyproj signs a ring's area by its orientation: orient shells CCW, holes CW.
        geod = _geod()
        square_metres = sum(geod.geometry_area_perimeter(orient(p, 1.0))[0] for p in polygons)
    else:
        square_metres = sum(p.area for p in polygons) * _crs_metres(a.crs) ** 2
    return float(square_metres) / AREA_UNITS[uom]


def length(a: Geom, uom: str) -> float:
    """Length of lines, perimeter of polygons; geodesic on a geographic CRS.

    GeoSPARQL 1.1 defines ``geof:perimeter`` as the boundary length of areal
    geometries and the length of anything else, which is this same measure.
    """
    kind, factor = length_factor(uom)
    if kind == "deg":
        if not is_geographic(a.crs):
            raise InputError("angular unit on a projected CRS", where=f"<{uom}>")
        return float(a.shape.length) / factor
    if is_geographic(a.crs):
        return float(_geod().geometry_length(a.shape)) / factor
    return float(a.shape.length) * _crs_metres(a.crs) / factor


def concave_hull(a: Geom, ratio: float = DEFAULT_CONCAVE_HULL_RATIO) -> Geom:
    """Concave hull; ``ratio`` in [0, 1] as shapely reads it, or a percentage above 1."""
    import shapely

    if ratio > 1:
        ratio /= 100.0
    if not 0 <= ratio <= 1:
        raise InputError(f"concave hull ratio {ratio} outside 0..1", where=short(to_wkt(a)))
    return Geom(shapely.concave_hull(a.shape, ratio=ratio), a.crs)


def as_gml(a: Geom, profile: str = "") -> str:
    """``geof:asGML``: GML 3.2 by default; the profile string picks 3.1.1 or 2.1.2."""
    from eokg.kg.xml_geometry import gml_version

    try:
        version = gml_version(profile)
    except ValueError as exc:
        raise InputError(str(exc), where=f'"{short(profile)}"') from exc
    return to_gml(a, version)


def geometry_type(a: Geom) -> str:
    """The Simple Features class IRI of the geometry (``sf:Polygon``, ...)."""
    return SF + a.shape.geom_type


def _binary(op: str) -> Callable[[Geom, Geom], Geom]:
    def run(a: Geom, b: Geom) -> Geom:
        import shapely

        a, b = same_crs(a, b)
        return Geom(getattr(shapely, op)(a.shape, b.shape), a.crs)

    run.__name__ = op
    return run


def _unary(op: str, **kwargs: Any) -> Callable[[Geom], Geom]:
    def run(a: Geom) -> Geom:
        import shapely

        return Geom(getattr(shapely, op)(a.shape, **kwargs), a.crs)

    run.__name__ = op
    return run


def _measure(op: str) -> Callable[[Geom], Any]:
    def run(a: Geom) -> Any:
        import shapely

        return getattr(shapely, op)(a.shape)

    run.__name__ = op
    return run


def _bound(index: int, lowest: bool) -> Callable[[Geom], float]:
    def run(a: Geom) -> float:
        import numpy as np
        import shapely

        coords = shapely.get_coordinates(a.shape, include_z=index == 2)
        if coords.size == 0 or (index == 2 and np.isnan(coords[:, 2]).all()):
            raise GeometryError("no coordinates", where=short(to_wkt(a)))
        column = coords[:, index]
        return float(np.nanmin(column) if lowest else np.nanmax(column))

    return run


def geometry_n(a: Geom, n: float) -> Geom:
    """The n-th (1-based, as in Simple Features) member of a collection; a single geometry is
    its own first member."""
    import shapely

    count = int(shapely.get_num_geometries(a.shape))
    if not float(n).is_integer():
        raise InputError(f"geometryN index {n} is not an integer", where=short(to_wkt(a)))
    index = int(n)
    if not 1 <= index <= count:
        raise InputError(f"geometryN index {index} outside 1..{count}", where=short(to_wkt(a)))
    return Geom(shapely.get_geometry(a.shape, index - 1), a.crs)


def relate(a: Geom, b: Geom, pattern: str) -> bool:
    import shapely

    a, b = same_crs(a, b)
    return bool(shapely.relate_pattern(a.shape, b.shape, pattern))


def _relation(name: str) -> Callable[[Geom, Geom], bool]:
    def run(a: Geom, b: Geom) -> bool:
        a, b = same_crs(a, b)
        return bool(relation_holds(name, a.shape, b.shape))

    run.__name__ = name
    return run


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """One ``geof:`` function: argument kinds, implementation, result kind.

    Argument kinds: ``g`` geometry literal, ``n`` number, ``u`` IRI (unit or
    CRS, as an IRI or an ``xsd:anyURI``/string literal), ``s`` string;
    ``optional`` lists trailing arguments that may be left out.  Result kinds:
    ``bool``, ``double``, ``int``, ``uri`` (``xsd:anyURI``), ``geom`` (a
    ``Geom`` written in the first argument's serialization), or a literal
    datatype's local name (``wktLiteral``, ...) for a lexical form.
    """

    args: str
    impl: Callable[..., Any]
    returns: str
    optional: str = ""


def _table() -> dict[str, Function]:
    table: dict[str, Function] = {
        name: Function("gg", _relation(name), "bool") for name in RELATIONS
    }
    table.update(
        {
            "relate": Function("ggs", relate, "bool"),
            # measures
            "distance": Function("ggu", distance, "double"),
            "metricDistance": Function("gg", lambda a, b: distance(a, b, METRE), "double"),
            "area": Function("gu", area, "double"),
            "metricArea": Function("g", lambda a: area(a, SQUARE_METRE), "double"),
            "length": Function("gu", length, "double"),
            "metricLength": Function("g", lambda a: length(a, METRE), "double"),
            "perimeter": Function("gu", length, "double"),
            "metricPerimeter": Function("g", lambda a: length(a, METRE), "double"),
            # constructors
            "buffer": Function("gnu", buffer, "geom"),
            "metricBuffer": Function("gn", lambda a, r: buffer(a, r, METRE), "geom"),
            "envelope": Function("g", _unary("envelope"), "geom"),
            "convexHull": Function("g", _unary("convex_hull"), "geom"),
            "concaveHull": Function("g", concave_hull, "geom", optional="n"),
            "boundingCircle": Function("g", _unary("minimum_bounding_circle"), "geom"),
            "boundary": Function("g", _unary("boundary"), "geom"),
            "centroid": Function("g", _unary("centroid"), "geom"),
            "intersection": Function("gg", _binary("intersection"), "geom"),
            "union": Function("gg", _binary("union"), "geom"),
            "difference": Function("gg", _binary("difference"), "geom"),
            "symDifference": Function("gg", _binary("symmetric_difference"), "geom"),
            "transform": Function("gu", lambda a, crs: transform(a, crs_iri(crs)), "geom"),
            "geometryN": Function("gn", geometry_n, "geom"),
            # serializations
            "asWKT": Function("g", to_wkt, "wktLiteral"),
            "asGeoJSON": Function("g", to_geojson, "geoJSONLiteral"),
            "asGML": Function("g", as_gml, "gmlLiteral", optional="s"),
            "asKML": Function("g", to_kml, "kmlLiteral"),
            # accessors
            "getSRID": Function("g", lambda a: a.crs, "uri"),
            "geometryType": Function("g", geometry_type, "uri"),
            "isEmpty": Function("g", _measure("is_empty"), "bool"),
            "isSimple": Function("g", _measure("is_simple"), "bool"),
            "is3D": Function("g", _measure("has_z"), "bool"),
            "isMeasured": Function("g", lambda a: getattr(a.shape, "has_m", False), "bool"),
            "dimension": Function("g", _measure("get_dimensions"), "int"),
            "coordinateDimension": Function("g", _measure("get_coordinate_dimension"), "int"),
            "spatialDimension": Function("g", lambda a: 3 if a.shape.has_z else 2, "int"),
            "numGeometries": Function("g", _measure("get_num_geometries"), "int"),
            "minX": Function("g", _bound(0, True), "double"),
            "maxX": Function("g", _bound(0, False), "double"),
            "minY": Function("g", _bound(1, True), "double"),
            "maxY": Function("g", _bound(1, False), "double"),
            "minZ": Function("g", _bound(2, True), "double"),
            "maxZ": Function("g", _bound(2, False), "double"),
        }
    )
    return table


FUNCTIONS: dict[str, Function] = _table()

_CONVERT: dict[str, Callable[[Any], Any]] = {
    "g": geom_arg,
    "n": _num_arg,
    "u": _iri_arg,
    "s": _str_arg,
}


def call(name: str, *terms: Any) -> Any:
    """Call ``geof:name`` on pyoxigraph terms and return a pyoxigraph term.

    Raises ``InputError`` subclasses naming the bad argument; pyoxigraph treats
    any exception as an unbound result.
    """
    fn = FUNCTIONS[name]
    least, most = len(fn.args), len(fn.args) + len(fn.optional)
    if not least <= len(terms) <= most:
        count = str(least) if least == most else f"{least} to {most}"
        raise InputError(f"geof:{name} takes {count} arguments", where=f"geof:{name}")
    kinds = (fn.args + fn.optional)[: len(terms)]
    values = [_CONVERT[kind](term) for kind, term in zip(kinds, terms, strict=True)]
    serialization = terms[0].datatype.value if fn.args.startswith("g") else WKT_LITERAL
    return _to_term(fn.impl(*values), fn.returns, serialization)


@lru_cache(maxsize=16)
def _datatype(iri: str) -> Any:
    import pyoxigraph

    return pyoxigraph.NamedNode(iri)


_LEXICAL = frozenset(dt[len(GEO) :] for dt in GEOMETRY_DATATYPES)


def _to_term(value: Any, kind: str, serialization: str = WKT_LITERAL) -> Any:
    import pyoxigraph

    if kind == "bool":
        return pyoxigraph.Literal("true" if value else "false", datatype=_datatype(XSD + "boolean"))
    if kind == "double":
        return pyoxigraph.Literal(repr(float(value)), datatype=_datatype(XSD + "double"))
    if kind == "int":
        return pyoxigraph.Literal(str(int(value)), datatype=_datatype(XSD + "integer"))
    if kind == "geom":
        text, datatype = to_literal(value, serialization)
        return pyoxigraph.Literal(text, datatype=_datatype(datatype))
    if kind in _LEXICAL:
        return pyoxigraph.Literal(value, datatype=_datatype(GEO + kind))
    if kind == "uri":
        return pyoxigraph.Literal(value, datatype=_datatype(XSD + "anyURI"))
    raise ValueError(kind)


# --- aggregates (GeoSPARQL 1.1 geof:agg*) ------------------------------------------------


class _GeometryAggregate:
    """Accumulates geometries (in the CRS of the first one) and combines them at the end.

    The result is written in the first geometry's serialization, as scalar
    functions are.  GeoSPARQL 1.1 gives ``aggConcaveHull`` a second argument,
    but a SPARQL custom aggregate takes one expression: it uses
    ``DEFAULT_CONCAVE_HULL_RATIO`` (``geof:concaveHull(geof:aggUnion(?g), r)``
    gives any other ratio).
    """

    def __init__(self, finish: Callable[[Any], Any]) -> None:
        self._shapes: list[Any] = []
        self._crs: str | None = None
        self._serialization = WKT_LITERAL
        self._finish = finish

    def accumulate(self, term: Any) -> None:
        geom = geom_arg(term)
        if self._crs is None:
            self._crs = geom.crs
            self._serialization = term.datatype.value
        self._shapes.append(transform(geom, self._crs).shape)

    def finish(self) -> Any:
        import shapely

        if not self._shapes or self._crs is None:
            return None
        collection = shapely.geometrycollections(self._shapes)
        return _to_term(Geom(self._finish(collection), self._crs), "geom", self._serialization)


def _aggregates() -> dict[str, Callable[[Any], Any]]:
    import shapely

    return {
        "aggUnion": lambda c: shapely.union_all(c),
        "aggConvexHull": shapely.convex_hull,
        "aggConcaveHull": lambda c: shapely.concave_hull(c, ratio=DEFAULT_CONCAVE_HULL_RATIO),
        "aggBoundingBox": shapely.envelope,
        "aggBoundingCircle": shapely.minimum_bounding_circle,
        "aggCentroid": shapely.centroid,
    }


def custom_functions() -> dict[Any, Callable[..., Any]]:
    """``{NamedNode(geof:name): callable}`` for ``Store.query(custom_functions=...)``."""
    import pyoxigraph

    def bind(name: str) -> Callable[..., Any]:
        def run(*terms: Any) -> Any:
            return call(name, *terms)

        run.__name__ = name
        return run

    return {pyoxigraph.NamedNode(GEOF + name): bind(name) for name in FUNCTIONS}


def custom_aggregates() -> dict[Any, Callable[[], Any]]:
    """``{NamedNode(geof:aggX): factory}`` for ``custom_aggregate_functions``."""
    import pyoxigraph

    def factory(finish: Callable[[Any], Any]) -> Callable[[], Any]:
        return lambda: _GeometryAggregate(finish)

    return {
        pyoxigraph.NamedNode(GEOF + name): factory(finish) for name, finish in _aggregates().items()
    }
