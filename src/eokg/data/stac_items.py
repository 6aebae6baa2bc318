"""Synthetic Sentinel-1 GRD and Sentinel-2 L2A STAC items.

Footprints follow the real geometry closely enough for spatial joins to be
meaningful: a Sentinel-1 EW swath is about 400 km wide and is cut into ~500 km
long products whose long side follows the ground track of a sun-synchronous
orbit (inclination 98.18 degrees), so footprints over the Arctic are tilted;
a Sentinel-2 product is one 109.8 km MGRS tile in UTM.  Product ids use the
real ESA naming so that id parsers have something honest to chew on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from eokg.data.geodesy import ccw, offset, round_coords
from eokg.data.seeding import record_rng
from eokg.ontologies.namespaces import EOC

STAC_VERSION = "1.1.0"
S1_COLLECTION = "sentinel-1-grd"
S2_COLLECTION = "sentinel-2-l2a"
SAR_EXT = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
SAT_EXT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
MGRS_EXT = "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json"

S1_CONCEPT = f"{EOC}product/s1-grd"
S2_CONCEPT = f"{EOC}product/s2-l2a"

_INCLINATION = math.radians(98.18)
_ORBIT_PERIOD_S = 12 * 86400 / 175
_GROUND_SPEED_MS = 6800.0
# (platform, reference absolute orbit, its time, offset for the relative orbit)
_S1_PLATFORMS = (
    ("sentinel-1a", 58321, datetime(2025, 3, 14, 7, 35, 12, tzinfo=UTC), 73),
    ("sentinel-1c", 1650, datetime(2025, 3, 14, 1, 10, 0, tzinfo=UTC), 172),
)
_S2_PLATFORMS = ("sentinel-2a", "sentinel-2b", "sentinel-2c")
#: Farmland where the sample parcels lie: (lon_min, lat_min, lon_max, lat_max).
FARMLAND_BOXES = ((1.0, 47.9, 2.3, 48.6), (-4.3, 47.6, -1.5, 48.7))  # Beauce, Brittany

_COG = "image/tiff; application=geotiff; profile=cloud-optimized"


def rfc3339(moment: datetime) -> str:
    """Whole-second UTC timestamp with a ``Z``: the form pystac writes back."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _track_heading(lat: float, ascending: bool) -> float:
    """Azimuth of a sun-synchronous ground track at ``lat`` (degrees from north)."""
    ratio = max(-1.0, min(1.0, math.cos(_INCLINATION) / math.cos(math.radians(lat))))
    alpha = math.degrees(math.asin(ratio))
    return alpha if ascending else 180.0 - alpha


@dataclass(frozen=True)
class S1Acquisition:
    """What a patch needs to know about the product it is cut from."""

    index: int
    id: str
    platform: str
    mode: str
    centre: tuple[float, float]
    heading: float
    length_m: float
    width_m: float
    start: datetime
    end: datetime
    ascending: bool
    absolute_orbit: int
    relative_orbit: int

    def point(self, along: float, across: float) -> tuple[float, float]:
        """Lon/lat at fractions ``along``, ``across`` in [-0.5, 0.5] of the footprint."""
        lon, lat = offset(*self.centre, self.heading, along * self.length_m)
        return offset(lon, lat, self.heading + 90.0, across * self.width_m)

    def footprint(self) -> shapely.Polygon:
        steps = np.linspace(-0.5, 0.5, 6)
        ring = [self.point(a, -0.5) for a in steps] + [self.point(a, 0.5) for a in steps[::-1]]
        return round_coords(ccw(shapely.Polygon(ring)))


def s1_acquisition(seed: int, index: int) -> S1Acquisition:
    """Sentinel-1 product ``index``: regenerated on demand, identical every time."""
    rng = record_rng(seed, "s1", index)
    platform, ref_orbit, ref_time, rel_offset = _S1_PLATFORMS[int(rng.random() < 0.35)]
    mode = "EW" if rng.random() < 0.8 else "IW"
    lon = float(rng.uniform(-20.0, 45.0))
    lat = float(rng.uniform(72.0, 81.0))
    ascending = bool(rng.random() < 0.5)
    length_m = float(rng.uniform(450e3, 520e3) if mode == "EW" else rng.uniform(170e3, 250e3))
    width_m = 400e3 if mode == "EW" else 250e3
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=int(rng.integers(0, 120 * 86400)))
    end = start + timedelta(seconds=round(length_m / _GROUND_SPEED_MS))
    absolute = ref_orbit + math.floor((start - ref_time).total_seconds() / _ORBIT_PERIOD_S)
    relative = (absolute - rel_offset) % 175 + 1
    datatake = format(int(rng.integers(0, 0xFFFFFF)), "06X")
    unique = format(int(rng.integers(0, 0xFFFF)), "04X")
    resolution = "M" if mode == "EW" else "H"
    pol_code = "DH" if mode == "EW" else "DV"
    product_id = (
        f"S1{platform[-1].upper()}_{mode}_GRD{resolution}_1S{pol_code}_"
        f"{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}_{absolute:06d}_{datatake}_{unique}"
    )
    return S1Acquisition(
        index=index,
        id=product_id,
        platform=platform,
        mode=mode,
        centre=(lon, lat),
        heading=_track_heading(lat, ascending),
        length_m=length_m,
        width_m=width_m,
        start=start,
        end=end,
        ascending=ascending,
        absolute_orbit=absolute,
        relative_orbit=relative,
    )


def _bbox(geom: shapely.Geometry) -> list[float]:
    return [float(v) for v in geom.bounds]


def s1_item(acq: S1Acquisition) -> dict[str, Any]:
    """The STAC item of a Sentinel-1 acquisition."""
    footprint = acq.footprint()
    pols = ["HH", "HV"] if acq.mode == "EW" else ["VV", "VH"]
    base = f"s3://eokg-sample/{S1_COLLECTION}/{acq.start:%Y/%m/%d}/{acq.id}.SAFE"
    assets = {
        pol.lower(): {
            "href": f"{base}/measurement/{pol.lower()}.tiff",
            "type": _COG,
            "title": f"{pol} backscatter",
            "roles": ["data"],
            "sar:polarizations": [pol],
        }
        for pol in pols
    }
    assets["safe-manifest"] = {
        "href": f"{base}/manifest.safe",
        "type": "application/xml",
        "title": "SAFE manifest",
        "roles": ["metadata"],
    }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [SAR_EXT, SAT_EXT],
        "id": acq.id,
        "collection": S1_COLLECTION,
        "geometry": shapely.geometry.mapping(footprint),
        "bbox": _bbox(footprint),
        "properties": {
            "datetime": rfc3339(acq.start),
            "start_datetime": rfc3339(acq.start),
            "end_datetime": rfc3339(acq.end),
            "platform": acq.platform,
            "constellation": "sentinel-1",
            "instruments": ["c-sar"],
            "sar:instrument_mode": acq.mode,
            "sar:frequency_band": "C",
            "sar:center_frequency": 5.405,
            "sar:polarizations": pols,
            "sar:product_type": "GRD",
            "sat:orbit_state": "ascending" if acq.ascending else "descending",
            "sat:relative_orbit": acq.relative_orbit,
            "sat:absolute_orbit": acq.absolute_orbit,
            "eokg:concepts": [S1_CONCEPT],
        },
        "links": [
            {
                "rel": "collection",
                "href": f"collections/{S1_COLLECTION}.json",
                "type": "application/json",
            },
        ],
        "assets": assets,
    }


def _utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180.0) // 6.0) + 1
    return (32600 if lat >= 0 else 32700) + zone


def s2_item(seed: int, index: int) -> dict[str, Any]:
    """Sentinel-2 L2A product ``index``: one MGRS tile over French farmland."""
    rng = record_rng(seed, "s2", index)
    west, south, east, north = FARMLAND_BOXES[int(rng.integers(0, len(FARMLAND_BOXES)))]
    lon = float(rng.uniform(west, east))
    lat = float(rng.uniform(south, north))
    epsg = _utm_epsg(lon, lat)
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
    x0, y0 = to_utm.transform(lon, lat)
    x0, y0 = round(x0, -5), round(y0, -5)  # MGRS 100 km squares start on whole 100 km
    side = np.linspace(0.0, 109_800.0, 5)
    xs = np.concatenate([x0 + side, np.full(4, x0 + 109_800.0), x0 + side[::-1][1:], [x0] * 4])
    ys = np.concatenate(
        [np.full(5, y0), y0 + side[1:], np.full(4, y0 + 109_800.0), y0 + side[::-1][1:]]
    )
    lons, lats = to_lonlat.transform(xs, ys)
    footprint = round_coords(ccw(shapely.Polygon(np.column_stack([lons, lats]))))
    platform = _S2_PLATFORMS[int(rng.integers(0, len(_S2_PLATFORMS)))]
    day = datetime(2025, 4, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 180)))
    sensing = day + timedelta(
        hours=10, minutes=int(rng.integers(40, 60)), seconds=int(rng.integers(0, 60))
    )
    processed = sensing + timedelta(hours=3, minutes=int(rng.integers(0, 60)))
    zone = epsg % 100
    band = "U" if lat >= 48.0 else "T"
    square = "".join(chr(ord("A") + int(v)) for v in rng.integers(0, 26, size=2))
    tile = f"{zone:02d}{band}{square}"
    rel_orbit = int(rng.integers(1, 144))
    product_id = (
        f"S2{platform[-1].upper()}_MSIL2A_{sensing:%Y%m%dT%H%M%S}_N0511_R{rel_orbit:03d}_"
        f"T{tile}_{processed:%Y%m%dT%H%M%S}"
    )
    cloud = round(float(100.0 * rng.beta(0.6, 1.4)), 2)
    base = f"s3://eokg-sample/{S2_COLLECTION}/{tile}/{sensing:%Y/%m}/{product_id}.SAFE"
    bands = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir"}
    assets: dict[str, Any] = {
        key: {
            "href": f"{base}/{key}_10m.tif",
            "type": _COG,
            "title": f"{name} (10 m)",
            "roles": ["data", "reflectance"],
        }
        for key, name in bands.items()
    }
    assets["scl"] = {
        "href": f"{base}/SCL_20m.tif",
        "type": _COG,
        "title": "scene classification map",
        "roles": ["data"],
    }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [EO_EXT, SAT_EXT, MGRS_EXT],
        "id": product_id,
        "collection": S2_COLLECTION,
        "geometry": shapely.geometry.mapping(footprint),
        "bbox": _bbox(footprint),
        "properties": {
            "datetime": rfc3339(sensing),
            "platform": platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "gsd": 10,
            "eo:cloud_cover": cloud,
            "sat:orbit_state": "descending",
            "sat:relative_orbit": rel_orbit,
            "mgrs:utm_zone": zone,
            "mgrs:latitude_band": band,
            "mgrs:grid_square": square,
            "eokg:concepts": [S2_CONCEPT],
        },
        "links": [
            {
                "rel": "collection",
                "href": f"collections/{S2_COLLECTION}.json",
                "type": "application/json",
            },
        ],
        "assets": assets,
    }


class ExtentTracker:
    """Running spatial and temporal extent of a stream of items, in constant memory."""

    def __init__(self) -> None:
        self.bbox = [math.inf, math.inf, -math.inf, -math.inf]
        self.start: str | None = None
        self.end: str | None = None

    def add(self, item: dict[str, Any]) -> None:
        w, s, e, n = item["bbox"]
        self.bbox = [
            min(self.bbox[0], w),
            min(self.bbox[1], s),
            max(self.bbox[2], e),
            max(self.bbox[3], n),
        ]
        props = item["properties"]
        first = props.get("start_datetime", props["datetime"])
        last = props.get("end_datetime", props["datetime"])
        self.start = first if self.start is None else min(self.start, first)
        self.end = last if self.end is None else max(self.end, last)


def collection(collection_id: str, extent: ExtentTracker) -> dict[str, Any]:
    """The STAC collection document for one of the two sample collections."""
    sentinel1 = collection_id == S1_COLLECTION
    bbox = extent.bbox if extent.start is not None else [-180.0, -90.0, 180.0, 90.0]
    summaries: dict[str, Any] = (
        {
            "platform": [p[0] for p in _S1_PLATFORMS],
            "constellation": ["sentinel-1"],
            "instruments": ["c-sar"],
            "sar:instrument_mode": ["EW", "IW"],
            "sar:polarizations": ["HH", "HV", "VV", "VH"],
            "sar:product_type": ["GRD"],
        }
        if sentinel1
        else {
            "platform": list(_S2_PLATFORMS),
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
            "gsd": [10, 20, 60],
        }
    )
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [SAR_EXT, SAT_EXT] if sentinel1 else [EO_EXT, SAT_EXT, MGRS_EXT],
        "id": collection_id,
        "title": "Sentinel-1 GRD (eokg sample)" if sentinel1 else "Sentinel-2 L2A (eokg sample)",
        "description": (
            "Synthetic Sentinel-1 Ground Range Detected products over the European Arctic, "
            "generated by eokg for tests and demos; assets are never downloaded."
            if sentinel1
            else "Synthetic Sentinel-2 Level-2A tiles over French farmland, generated by eokg "
            "for tests and demos; assets are never downloaded."
        ),
        "license": "other",
        "keywords": ["sentinel", "copernicus", "sample"],
        "providers": [{"name": "eokg sample generator", "roles": ["producer"]}],
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {"interval": [[extent.start, extent.end]]},
        },
        "summaries": summaries,
        "links": [
            {
                "rel": "license",
                "href": "https://sentinel.esa.int/documents/247904/690755/"
                "Sentinel_Data_Legal_Notice",
                "title": "Copernicus Sentinel data legal notice",
            },
        ],
        "eokg:concepts": [S1_CONCEPT if sentinel1 else S2_CONCEPT],
    }
