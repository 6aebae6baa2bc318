"""The GeoSPARQL 1.1 function library, as pyoxigraph custom functions.

Oxigraph evaluates some ``geof:`` functions natively, but it reads only CRS84
WKT (a ``<.../EPSG/0/4326>`` literal silently yields no result) and lacks area,
buffer, boundary, transform and non-point distance.  So eokg registers its own
implementation of *every* function under the ``geof:`` IRIs: one table, one
small entry per function, all over ``geo:wktLiteral`` and ``geo:geoJSONLiteral``
in any CRS pyproj knows.

Binary functions compute in the CRS of their first argument (the second is
reprojected), as GeoSPARQL prescribes.  Lengths and areas in metres on a
geographic CRS are geodesic (WGS 84 ellipsoid).  A function that fails raises a
``GeometryError``/``CRSError`` naming the literal; inside a query Oxigraph turns
that into an unbound value, which is the SPARQL error semantics for filters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eokg.errors import GeometryError, InputError
from eokg.kg.geometry import (
    GEOJSON_LITERAL,
    WKT_LITERAL,
    Geom,
    crs_info,
    is_geographic,
    parse_literal,
    same_crs,
    short,
    to_geojson,
    to_wkt,
    transform,
)
from eokg.ontologies.namespaces import GEOF, UOM, XSD

if TYPE_CHECKING:
    import numpy as np

QUDT = "http://qudt.org/vocab/unit/"

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
    """A pyoxigraph term as a parsed geometry; anything else is an InputError naming it."""
    datatype = getattr(getattr(term, "datatype", None), "value", None)
    if datatype not in (WKT_LITERAL, GEOJSON_LITERAL):
        raise GeometryError(
            "expected a geo:wktLiteral or geo:geoJSONLiteral", where=short(str(term))
        )
    return parse_literal(term.value, datatype)


def _iri_arg(term: Any) -> str:
    return str(term.value)


def _num_arg(term: Any) -> float:
    try:
        return float(term.value)
    except (AttributeError, ValueError) as exc:
        raise InputError("expected a number", where=short(str(term))) from exc


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


def area(a: Geom, uom: str) -> float:
    """Area; geodesic square metres on a geographic CRS."""
    if uom not in AREA_UNITS:
        raise InputError(f"unsupported area unit <{uom}>", where=f"<{uom}>")
    if is_geographic(a.crs):
        square_metres = abs(_geod().geometry_area_perimeter(a.shape)[0])
    else:
        square_metres = a.shape.area * _crs_metres(a.crs) ** 2
    return float(square_metres) / AREA_UNITS[uom]


def length(a: Geom, uom: str) -> float:
    """Length of lines, perimeter of polygons; geodesic on a geographic CRS."""
    kind, factor = length_factor(uom)
    if kind == "deg":
        return float(a.shape.length) / factor
    if is_geographic(a.crs):
        return float(_geod().geometry_length(a.shape)) / factor
    return float(a.shape.length) * _crs_metres(a.crs) / factor


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
    """The n-th (1-based, as in Simple Features) member of a collection."""
    import shapely

    count = int(shapely.get_num_geometries(a.shape))
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
    CRS), ``s`` string.  Result kinds: ``bool``, ``double``, ``int``, ``wkt``,
    ``geojson``, ``uri``.
    """

    args: str
    impl: Callable[..., Any]
    returns: str


def _table() -> dict[str, Function]:
    table: dict[str, Function] = {
        name: Function("gg", _relation(name), "bool") for name in RELATIONS
    }
    table.update(
        {
            "relate": Function("ggs", relate, "bool"),
            "distance": Function("ggu", distance, "double"),
            "buffer": Function("gnu", buffer, "wkt"),
            "area": Function("gu", area, "double"),
            "length": Function("gu", length, "double"),
            "envelope": Function("g", _unary("envelope"), "wkt"),
            "convexHull": Function("g", _unary("convex_hull"), "wkt"),
            "concaveHull": Function("gn", lambda a, r: _unary("concave_hull", ratio=r)(a), "wkt"),
            "boundingCircle": Function("g", _unary("minimum_bounding_circle"), "wkt"),
            "boundary": Function("g", _unary("boundary"), "wkt"),
            "centroid": Function("g", _unary("centroid"), "wkt"),
            "intersection": Function("gg", _binary("intersection"), "wkt"),
            "union": Function("gg", _binary("union"), "wkt"),
            "difference": Function("gg", _binary("difference"), "wkt"),
            "symDifference": Function("gg", _binary("symmetric_difference"), "wkt"),
            "transform": Function("gu", transform, "wkt"),
            "asWKT": Function("g", lambda a: a, "wkt"),
            "asGeoJSON": Function("g", lambda a: a, "geojson"),
            "getSRID": Function("g", lambda a: a.crs, "uri"),
            "isEmpty": Function("g", _measure("is_empty"), "bool"),
            "isSimple": Function("g", _measure("is_simple"), "bool"),
            "is3D": Function("g", _measure("has_z"), "bool"),
            "isMeasured": Function("g", lambda a: False, "bool"),
            "dimension": Function("g", _measure("get_dimensions"), "int"),
            "coordinateDimension": Function("g", _measure("get_coordinate_dimension"), "int"),
            "spatialDimension": Function("g", _measure("get_coordinate_dimension"), "int"),
            "numGeometries": Function("g", _measure("get_num_geometries"), "int"),
            "geometryN": Function("gn", geometry_n, "wkt"),
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
    "s": lambda term: str(term.value),
}


def call(name: str, *terms: Any) -> Any:
    """Call ``geof:name`` on pyoxigraph terms and return a pyoxigraph term.

    Raises ``InputError`` subclasses naming the bad argument; pyoxigraph treats
    any exception as an unbound result.
    """
    fn = FUNCTIONS[name]
    if len(terms) != len(fn.args):
        raise InputError(f"geof:{name} takes {len(fn.args)} arguments", where=f"geof:{name}")
    values = [_CONVERT[kind](term) for kind, term in zip(fn.args, terms, strict=True)]
    return _to_term(fn.impl(*values), fn.returns)


@lru_cache(maxsize=16)
def _datatype(iri: str) -> Any:
    import pyoxigraph

    return pyoxigraph.NamedNode(iri)


def _to_term(value: Any, kind: str) -> Any:
    import pyoxigraph

    if kind == "bool":
        return pyoxigraph.Literal("true" if value else "false", datatype=_datatype(XSD + "boolean"))
    if kind == "double":
        return pyoxigraph.Literal(repr(float(value)), datatype=_datatype(XSD + "double"))
    if kind == "int":
        return pyoxigraph.Literal(str(int(value)), datatype=_datatype(XSD + "integer"))
    if kind == "wkt":
        return pyoxigraph.Literal(to_wkt(value), datatype=_datatype(WKT_LITERAL))
    if kind == "geojson":
        return pyoxigraph.Literal(to_geojson(value), datatype=_datatype(GEOJSON_LITERAL))
    if kind == "uri":
        return pyoxigraph.Literal(value, datatype=_datatype(XSD + "anyURI"))
    raise ValueError(kind)


# --- aggregates (GeoSPARQL 1.1 geof:agg*) ------------------------------------------------


class _GeometryAggregate:
    """Accumulates geometries (in the CRS of the first one) and combines them at the end."""

    def __init__(self, finish: Callable[[Sequence[Any]], Any]) -> None:
        self._shapes: list[Any] = []
        self._crs: str | None = None
        self._finish = finish

    def accumulate(self, term: Any) -> None:
        geom = geom_arg(term)
        if self._crs is None:
            self._crs = geom.crs
        self._shapes.append(transform(geom, self._crs).shape)

    def finish(self) -> Any:
        import shapely

        if not self._shapes or self._crs is None:
            return None
        collection = shapely.geometrycollections(self._shapes)
        return _to_term(Geom(self._finish(collection), self._crs), "wkt")


def _aggregates() -> dict[str, Callable[[Any], Any]]:
    import shapely

    return {
        "aggUnion": lambda c: shapely.union_all(c),
        "aggConvexHull": shapely.convex_hull,
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
        pyoxigraph.NamedNode(GEOF + name): factory(finish)
        for name, finish in _aggregates().items()
    }
