"""Small geodesic helpers shared by the generators (WGS 84 ellipsoid)."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")

#: Decimal places kept in generated coordinates (about 1 cm): identical vertices
#: round identically, so shared edges between neighbouring polygons stay shared.
COORD_DECIMALS = 7


def offset(lon: float, lat: float, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lon, lat) along ``azimuth_deg`` (clockwise from north)."""
    lon2, lat2, _ = WGS84.fwd(lon, lat, azimuth_deg, distance_m)
    return float(lon2), float(lat2)


def round_coords(geom: shapely.Geometry) -> shapely.Geometry:
    """Round coordinates so that GeoJSON text and WKB hold exactly the same numbers."""
    rounded = shapely.transform(geom, lambda xy: np.round(xy, COORD_DECIMALS))
    return shapely.remove_repeated_points(rounded)


def ccw(polygon: shapely.Polygon) -> shapely.Polygon:
    """Exterior counter-clockwise, as RFC 7946 asks of GeoJSON polygons."""
    return shapely.geometry.polygon.orient(polygon, sign=1.0)


def geodesic_area_ha(polygon: shapely.Geometry) -> float:
    """Area on the ellipsoid in hectares (not planar degrees, which shrink with latitude)."""
    area_m2, _ = WGS84.geometry_area_perimeter(polygon)
    return abs(float(area_m2)) / 10_000.0


def square_around(lon: float, lat: float, half_side_m: float) -> shapely.Polygon:
    """A north-aligned square of side ``2 * half_side_m`` centred on (lon, lat)."""
    corners = []
    for az in (225.0, 135.0, 45.0, 315.0):  # SW, SE, NE, NW: counter-clockwise
        corners.append(offset(lon, lat, az, half_side_m * np.sqrt(2.0)))
    return round_coords(shapely.Polygon(corners))
