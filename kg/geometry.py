"""Geometry literals: parse and write WKT, GeoJSON, GML and KML literals, handle their CRS.

``parse_literal`` reads every datatype in ``GEOMETRY_DATATYPES``; ``to_literal``
writes one back (GML and KML syntax live in :mod:`eokg.kg.xml_geometry`).
GeoJSON and KML are CRS84 by definition; WKT names its CRS in a ``<IRI>``
prefix and GML in ``srsName`` (URN, ``EPSG:n`` and OGC IRI forms are all
normalised to the OGC IRI).  An empty literal of any type is the empty
geometry, as GeoSPARQL requires.

Every geometry is held internally in the "x = east, y = north" axis order of its
CRS (pyproj's ``always_xy``), so that ``<.../EPSG/0/4326> POINT(lat lon)`` and
``POINT(lon lat)`` in CRS84 become the same shapely object and only the CRS IRI
tells them apart.  Literals are written back in the axis order their CRS
declares.  Parsing is cached per lexical form because a spatial join re-reads
the same literal thousands of times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eokg.errors import CRSError, GeometryError
from eokg.ontologies.namespaces import CRS84, GEO

if TYPE_CHECKING:
    import pyproj
    from shapely.geometry.base import BaseGeometry

WKT_LITERAL = GEO + "wktLiteral"
GEOJSON_LITERAL = GEO + "geoJSONLiteral"
GML_LITERAL = GEO + "gmlLiteral"
KML_LITERAL = GEO + "kmlLiteral"
#: Every geometry literal datatype ``parse_literal`` reads and ``to_literal`` writes.
GEOMETRY_DATATYPES = (WKT_LITERAL, GEOJSON_LITERAL, GML_LITERAL, KML_LITERAL)
#: GeoSPARQL serialization properties (subproperties of geo:hasSerialization).
SERIALIZATIONS = ("asWKT", "asGeoJSON", "asGML", "asKML")
#: Their IRIs: the predicates whose literal objects the spatial index holds.
GEOMETRY_PREDICATES = frozenset(GEO + name for name in SERIALIZATIONS)
EPSG_PREFIX = "http://www.opengis.net/def/crs/EPSG/0/"
#: CRS IRIs that mean plain lon/lat on WGS 84.
CRS84_ALIASES = frozenset({CRS84, "http://www.opengis.net/def/crs/OGC/1.3/CRS84/"})
#: CRS IRIs whose coordinates, once in x=east order, equal CRS84 ones.
WGS84_LONLAT = CRS84_ALIASES | {EPSG_PREFIX + "4326"}

_CRS_PREFIX = re.compile(r"^\s*<([^>]*)>\s*")
#: ``urn:ogc:def:crs:EPSG::4326``, ``EPSG:4326``, ``.../def/crs/EPSG/9.9/4326``, GML 2's
#: ``.../gml/srs/epsg.xml#4326``: all name EPSG code 4326.
_EPSG_FORMS = re.compile(
    r"^(?:urn:(?:x-)?ogc:def:crs:EPSG:[^:]*:|EPSG:+|https?://www\.opengis\.net/def/crs/EPSG/[^/]+/"
    r"|https?://www\.opengis\.net/gml/srs/epsg\.xml#)(\d+)$",
    re.IGNORECASE,
)
_CRS84_FORMS = frozenset(
    {
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "urn:ogc:def:crs:ogc::crs84",
        "urn:ogc:def:crs:ogc:2:84",
        "crs:84",
        "ogc:crs84",
        "https://www.opengis.net/def/crs/ogc/1.3/crs84",
    }
)
_PARSE_CACHE_SIZE = 65_536
#: Deepest bracket nesting of a WKT or GeoJSON literal.  GEOS's readers recurse once
#: per level: some 30,000 nested GEOMETRYCOLLECTIONs (a 600 kB literal in a query)
#: overflow the C stack and kill the whole server with SIGSEGV.  Real geometries nest
#: a few levels (a collection of multipolygons is 4).
MAX_NESTING = 64
_BRACKETS = re.compile(r"[\[\](){}]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Geom:
    """A parsed geometry literal: shapely geometry (x=east, y=north) plus its CRS IRI."""

    shape: BaseGeometry
    crs: str = CRS84

    @property
    def is_crs84(self) -> bool:
        return self.crs in CRS84_ALIASES

    @property
    def is_wgs84(self) -> bool:
        """CRS84 or EPSG:4326: the same numbers once axes are in x=east order."""
        return self.crs in WGS84_LONLAT


def short(text: str, limit: int = 80) -> str:
    """A literal abbreviated for error messages (a polygon may be megabytes long)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@lru_cache(maxsize=256)
def crs_info(crs: str) -> tuple[pyproj.CRS, bool]:
    """The pyproj CRS for an IRI and whether its first axis is northing (lat first)."""
    import pyproj

    if crs in CRS84_ALIASES:
        return pyproj.CRS.from_user_input("OGC:CRS84"), False
    try:
        obj = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"unknown CRS <{crs}>", where=f"<{crs}>") from exc
    axes = obj.axis_info
    lat_first = bool(axes) and axes[0].direction.lower() in ("north", "south")
    return obj, lat_first


def crs_iri(name: str) -> str:
    """The OGC IRI for a CRS name as literals write it (unknown forms pass through)."""
    text = name.strip()
    if text in CRS84_ALIASES or text.lower() in _CRS84_FORMS:
        return CRS84
    match = _EPSG_FORMS.match(text)
    return EPSG_PREFIX + match.group(1) if match else text


def nested_too_deep(value: str) -> bool:
    """Whether ``check_nesting`` refuses the WKT ``value`` (for bulk readers that skip)."""
    try:
        check_nesting(value, "WKT")
    except GeometryError:
        return True
    return False


def check_nesting(value: str, what: str, *, json_strings: bool = False) -> None:
    """``GeometryError`` for a literal nested deeper than ``MAX_NESTING`` (linear scan);
    ``json_strings``: brackets inside JSON strings do not count."""
    if value.count("(") + value.count("[") + value.count("{") <= MAX_NESTING:
        return  # the common case, at C speed: too few brackets to nest too deep
    depth = 0
    scanned = _JSON_STRING.sub('""', value) if json_strings else value
    for match in _BRACKETS.finditer(scanned):
        if match.group() in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise GeometryError(
                    f"malformed {what}: nested more than {MAX_NESTING} levels deep",
                    where=f'"{short(value)}"',
                )
        else:
            depth -= 1


def is_geographic(crs: str) -> bool:
    return crs in CRS84_ALIASES or crs_info(crs)[0].is_geographic


def _swap_xy(shape: BaseGeometry) -> BaseGeometry:
    import shapely

    if shapely.has_z(shape):
        return shapely.transform(shape, lambda c: c[:, [1, 0, 2]], include_z=True)
    return shapely.transform(shape, lambda c: c[:, ::-1])


def _empty() -> BaseGeometry:
    import shapely

    return shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")


def _in_crs(shape: BaseGeometry, crs: str) -> Geom:
    """A geometry read in ``crs``'s declared axis order, held east-first."""
    if crs not in CRS84_ALIASES and crs_info(crs)[1]:
        shape = _swap_xy(shape)
    return Geom(shape, crs)


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def parse_literal(value: str, datatype: str) -> Geom:
    """Parse one literal (lexical form + datatype IRI); errors name the literal."""
    parser = _PARSERS.get(datatype)
    if parser is None:
        raise GeometryError(
            f"not a geometry literal (datatype <{datatype}>)", where=f'"{short(value)}"'
        )
    return parser(value)


def _parse_wkt(value: str) -> Geom:
    import shapely

    crs = CRS84
    text = value
    match = _CRS_PREFIX.match(value)
    if match:
        crs = crs_iri(match.group(1))
        text = value[match.end() :]
    if not text.strip():
        crs_info(crs)  # an unknown CRS is an error even on an empty geometry
        return Geom(_empty(), crs)
    check_nesting(text, "WKT")
    try:
        shape = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise GeometryError(f"malformed WKT: {exc}", where=f'"{short(value)}"') from exc
    return _in_crs(shape, crs)


def _parse_geojson(value: str) -> Geom:
    import shapely

    if not value.strip():
        return Geom(_empty(), CRS84)
    check_nesting(value, "GeoJSON", json_strings=True)
    try:
        data = json.loads(value)
        if data is None or (isinstance(data, dict) and data.get("geometry", {}) is None):
            return Geom(_empty(), CRS84)  # GeoSPARQL 1.1: empty means {"geometry": null}
        shape = shapely.from_geojson(json.dumps(data))
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise GeometryError(f"malformed GeoJSON: {exc}", where=f'"{short(value)}"') from exc
    return Geom(shape, CRS84)  # RFC 7946: GeoJSON is always CRS84


def _parse_gml(value: str) -> Geom:
    import shapely

    from eokg.kg.xml_geometry import read_gml

    if not value.strip():
        return Geom(_empty(), CRS84)
    try:
        shape, srs_name = read_gml(value)
    except (ValueError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"malformed GML: {exc}", where=f'"{short(value)}"') from exc
    return _in_crs(shape, crs_iri(srs_name) if srs_name else CRS84)


def _parse_kml(value: str) -> Geom:
    import shapely

    from eokg.kg.xml_geometry import read_kml

    if not value.strip():
        return Geom(_empty(), CRS84)
    try:
        shape = read_kml(value)
    except (ValueError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"malformed KML: {exc}", where=f'"{short(value)}"') from exc
    return Geom(shape, CRS84)  # KML is always WGS 84 lon, lat[, alt]


_PARSERS: dict[str, Callable[[str], Geom]] = {
    WKT_LITERAL: _parse_wkt,
    GEOJSON_LITERAL: _parse_geojson,
    GML_LITERAL: _parse_gml,
    KML_LITERAL: _parse_kml,
}


def to_wkt(geom: Geom) -> str:
    """Lexical form of a ``geo:wktLiteral`` in the CRS (and axis order) of ``geom``."""
    import shapely

    shape = geom.shape
    if geom.is_crs84:
        return shapely.to_wkt(shape, trim=True)
    if crs_info(geom.crs)[1]:
        shape = _swap_xy(shape)
    return f"<{geom.crs}> " + shapely.to_wkt(shape, trim=True)


def to_geojson(geom: Geom) -> str:
    """Lexical form of a ``geo:geoJSONLiteral`` (always CRS84, as GeoJSON demands)."""
    import shapely

    return shapely.to_geojson(transform(geom, CRS84).shape)


def to_gml(geom: Geom, version: str = "3.2") -> str:
    """Lexical form of a ``geo:gmlLiteral`` in the CRS (and axis order) of ``geom``."""
    from eokg.kg.xml_geometry import write_gml

    shape = geom.shape
    if not geom.is_crs84 and crs_info(geom.crs)[1]:
        shape = _swap_xy(shape)
    return write_gml(shape, CRS84 if geom.is_crs84 else geom.crs, version)


def to_kml(geom: Geom) -> str:
    """Lexical form of a ``geo:kmlLiteral`` (always CRS84, as KML demands)."""
    from eokg.kg.xml_geometry import write_kml

    return write_kml(transform(geom, CRS84).shape)


_WRITERS: dict[str, Callable[[Geom], str]] = {
    WKT_LITERAL: to_wkt,
    GEOJSON_LITERAL: to_geojson,
    GML_LITERAL: to_gml,
    KML_LITERAL: to_kml,
}


def to_literal(geom: Geom, datatype: str = WKT_LITERAL) -> tuple[str, str]:
    """``(lexical form, datatype)`` of ``geom`` written as ``datatype``.

    GeoJSON and KML cannot say any CRS but CRS84, so a geometry in another CRS
    asked for in one of them is written as WKT instead of being reprojected:
    the result of ``geof:transform`` must stay in the CRS it was asked for.
    """
    if datatype not in _WRITERS:
        raise GeometryError(f"not a geometry literal datatype <{datatype}>", where=f"<{datatype}>")
    if datatype in (GEOJSON_LITERAL, KML_LITERAL) and not geom.is_crs84:
        datatype = WKT_LITERAL
    return _WRITERS[datatype](geom), datatype


@lru_cache(maxsize=256)
def _transformer(source: str, target: str) -> Any:
    import pyproj

    return pyproj.Transformer.from_crs(crs_info(source)[0], crs_info(target)[0], always_xy=True)


def transform(geom: Geom, target: str) -> Geom:
    """Reproject to ``target``; lines are densified first so edges bend as they should."""
    import shapely

    if geom.crs == target:
        return geom
    if geom.is_wgs84 and target in WGS84_LONLAT:
        return Geom(geom.shape, target)
    if not is_geographic(geom.crs) or not is_geographic(target):
        # Straight edges in one CRS are curves in another: densify before projecting.
        minx, miny, maxx, maxy = shapely.bounds(geom.shape)
        span = max(maxx - minx, maxy - miny)
        if span > 0:
            geom = Geom(shapely.segmentize(geom.shape, span / 64), geom.crs)
    tr = _transformer(geom.crs, target)

    def _apply(coords: Any) -> Any:
        import numpy as np

        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y, *coords.T[2:]])  # heights are kept as they are

    has_z = bool(shapely.has_z(geom.shape))
    return Geom(shapely.transform(geom.shape, _apply, include_z=has_z), target)


def same_crs(a: Geom, b: Geom) -> tuple[Geom, Geom]:
    """Bring ``b`` into the CRS of ``a`` (GeoSPARQL computes in the first argument's CRS)."""
    if a.crs == b.crs or (a.is_wgs84 and b.is_wgs84):
        return a, b
    return a, transform(b, a.crs)


def to_crs84(geom: Geom) -> Geom:
    return geom if geom.is_crs84 else transform(geom, CRS84)
