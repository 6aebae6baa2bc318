"""Synthetic agricultural field parcels in Beauce and Brittany.

Parcels sit in blocks of 8 x 8 grid cells laid on a lattice inside each farming
region; each parcel is a quadrilateral whose corners are jittered inside their
own quarter of the cell, so parcels are simple, valid and never overlap.  Crop
shares differ by region (cereals and beet in Beauce, maize and grass in
Brittany).  Area is geodesic, not planar degrees.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from eokg.data.geodesy import ccw, geodesic_area_ha, round_coords
from eokg.data.seeding import record_rng
from eokg.data.stac_items import FARMLAND_BOXES

SEASON = 2025
BLOCK_SIDE = 8
_LATTICE_STEP = (0.12, 0.08)  # degrees lon, lat between block origins
_M_PER_DEG_LAT = 111_320.0

#: Crop keys of the crop concept scheme and their share, per region (Beauce, Brittany).
CROP_SHARES: tuple[dict[str, float], ...] = (
    {
        "winter-wheat": 0.35,
        "barley": 0.15,
        "rapeseed": 0.14,
        "maize": 0.1,
        "sugar-beet": 0.1,
        "peas": 0.05,
        "sunflower": 0.05,
        "fallow": 0.06,
    },
    {
        "maize": 0.3,
        "winter-wheat": 0.24,
        "temporary-grassland": 0.2,
        "permanent-grassland": 0.1,
        "barley": 0.08,
        "potato": 0.04,
        "rapeseed": 0.04,
    },
)

PROPERTIES_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("crop", pa.string(), nullable=False),
        pa.field("area_ha", pa.float64(), nullable=False),
        pa.field("season", pa.int32(), nullable=False),
    ]
)


def _block_origin(block: int) -> tuple[int, float, float]:
    region = block % len(FARMLAND_BOXES)
    slot = block // len(FARMLAND_BOXES)
    west, south, east, north = FARMLAND_BOXES[region]
    cols = max(1, int((east - west) / _LATTICE_STEP[0]))
    rows = max(1, int((north - south) / _LATTICE_STEP[1]))
    # Past rows * cols blocks the lattice repeats shifted by a fraction of a step,
    # which keeps very large samples inside the region (blocks may then touch).
    layer = slot // (rows * cols)
    col, row = slot % cols, (slot // cols) % rows
    shift = (layer % 4) * 0.25
    return region, west + (col + shift) * _LATTICE_STEP[0], south + (row + shift) * _LATTICE_STEP[1]


def parcel(seed: int, index: int) -> tuple[dict[str, Any], shapely.Polygon]:
    """Parcel ``index``: its properties and polygon."""
    block, cell = divmod(index, BLOCK_SIDE * BLOCK_SIDE)
    region, lon0, lat0 = _block_origin(block)
    block_rng = record_rng(seed, "parcel-block", block)
    cell_m = float(block_rng.uniform(180.0, 420.0))
    rng = record_rng(seed, "parcel", index)
    row, col = divmod(cell, BLOCK_SIDE)
    m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(lat0))
    corners = []
    for qx, qy in ((0, 0), (1, 0), (1, 1), (0, 1)):  # counter-clockwise quarters of the cell
        fx = qx * 0.5 + rng.uniform(0.05, 0.45) if qx else rng.uniform(0.05, 0.45)
        fy = qy * 0.5 + rng.uniform(0.05, 0.45) if qy else rng.uniform(0.05, 0.45)
        corners.append(
            (
                lon0 + (col + fx) * cell_m / m_per_deg_lon,
                lat0 + (row + fy) * cell_m / _M_PER_DEG_LAT,
            )
        )
    polygon = round_coords(ccw(shapely.Polygon(corners)))
    shares = CROP_SHARES[region]
    keys = list(shares)
    probs = np.array([shares[k] for k in keys])
    crop = keys[int(rng.choice(len(keys), p=probs / probs.sum()))]
    props = {
        "id": f"fr-{SEASON}-{index + 1:07d}",
        "crop": crop,
        "area_ha": round(geodesic_area_ha(polygon), 4),
        "season": SEASON,
    }
    return props, polygon


def iter_parcels(seed: int, n_parcels: int) -> Iterator[tuple[dict[str, Any], shapely.Polygon]]:
    for index in range(n_parcels):
        yield parcel(seed, index)
