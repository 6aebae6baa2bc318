"""Geometry literals: parse ``geo:wktLiteral`` / ``geo:geoJSONLiteral``, handle their CRS.

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
EPSG_PREFIX = "http://www.opengis.net/def/crs/EPSG/0/"
#: CRS IRIs that mean plain lon/lat on WGS 84.
CRS84_ALIASES = frozenset({CRS84, "http://www.opengis.net/def/crs/OGC/1.3/CRS84/"})
#: CRS IRIs whose coordinates, once in x=east order, equal CRS84 ones.
WGS84_LONLAT = CRS84_ALIASES | {EPSG_PREFIX + "4326"}

_CRS_PREFIX = re.compile(r"^\s*<([^>]*)>\s*")
_PARSE_CACHE_SIZE = 65_536


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


def is_geographic(crs: str) -> bool:
    return crs in CRS84_ALIASES or crs_info(crs)[0].is_geographic


def _swap_xy(shape: BaseGeometry) -> BaseGeometry:
    import shapely

    return shapely.transform(shape, lambda c: c[:, ::-1])


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def parse_literal(value: str, datatype: str) -> Geom:
    """Parse one literal (lexical form + datatype IRI); errors name the literal."""
    if datatype == WKT_LITERAL:
        return _parse_wkt(value)
    if datatype == GEOJSON_LITERAL:
        return _parse_geojson(value)
    raise GeometryError(
        f"not a geometry literal (datatype <{datatype}>)", where=f'"{short(value)}"'
    )


def _parse_wkt(value: str) -> Geom:
    import shapely

    crs = CRS84
    text = value
    match = _CRS_PREFIX.match(value)
    if match:
        crs = match.group(1).strip()
        text = value[match.end() :]
    lat_first = False
    if crs not in CRS84_ALIASES:
        lat_first = crs_info(crs)[1]
    if not text.strip():
        return Geom(shapely.from_wkt("GEOMETRYCOLLECTION EMPTY"), crs)
    try:
        shape = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise GeometryError(f"malformed WKT: {exc}", where=f'"{short(value)}"') from exc
    return Geom(_swap_xy(shape) if lat_first else shape, crs)


def _parse_geojson(value: str) -> Geom:
    import shapely

    try:
        data = json.loads(value)
        shape = shapely.from_geojson(json.dumps(data))
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise GeometryError(f"malformed GeoJSON: {exc}", where=f'"{short(value)}"') from exc
    return Geom(shape, CRS84)  # RFC 7946: GeoJSON is always CRS84


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
        return np.column_stack([x, y])

    return Geom(shapely.transform(geom.shape, _apply), target)


def same_crs(a: Geom, b: Geom) -> tuple[Geom, Geom]:
    """Bring ``b`` into the CRS of ``a`` (GeoSPARQL computes in the first argument's CRS)."""
    if a.crs == b.crs or (a.is_wgs84 and b.is_wgs84):
        return a, b
    return a, transform(b, a.crs)


def to_crs84(geom: Geom) -> Geom:
    return geom if geom.is_crs84 else transform(geom, CRS84)
