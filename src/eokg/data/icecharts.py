"""Synthetic operational ice chart: a partition of the Greenland and Barents Seas.

Cells are Voronoi polygons clipped to tiles of the chart area, generated one
tile at a time so memory stays constant however many cells are asked for; the
cells of all tiles together cover the area exactly once.  Attributes follow a
smooth ice edge (more and older ice to the north and along East Greenland) so
that spatial queries return sensible answers.  Greenland Sea tiles are charted
by DMI, Barents Sea tiles by MET Norway, as in reality.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from eokg.data.geodesy import ccw, round_coords
from eokg.data.seeding import record_rng

#: Chart area (lon_min, lat_min, lon_max, lat_max): whole degrees, so tile edges are exact.
CHART_AREA = (-20.0, 70.0, 55.0, 82.0)
CHART_DATE = "2025-03-14"
DMI_EAST_LIMIT = 15.0  # tiles west of this longitude are charted by DMI
CELLS_PER_TILE = 64

PROPERTIES_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("chart_date", pa.string(), nullable=False),
        pa.field("ct", pa.int32(), nullable=False),
        pa.field("sa", pa.string(), nullable=False),
        pa.field("ice_service", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class _Tiling:
    nx: int
    ny: int
    counts: list[int]


def _tiling(n_cells: int) -> _Tiling:
    n_tiles = max(1, math.ceil(n_cells / CELLS_PER_TILE))
    west, south, east, north = CHART_AREA
    aspect = (east - west) * math.cos(math.radians(76.0)) / (north - south)
    nx = max(1, round(math.sqrt(n_tiles * aspect)))
    ny = max(1, math.ceil(n_tiles / nx))
    tiles = nx * ny
    while tiles > max(1, n_cells):  # every tile needs at least one cell
        if nx >= ny and nx > 1:
            nx -= 1
        else:
            ny -= 1
        tiles = nx * ny
    base, extra = divmod(n_cells, tiles)
    return _Tiling(nx, ny, [base + (1 if t < extra else 0) for t in range(tiles)])


def _ice_edge_lat(lon: float) -> float:
    """A plausible March ice edge: far south off East Greenland, north of 76 in the Barents."""
    if lon < 0.0:
        return 70.5 + 0.1 * (lon + 20.0)
    return 75.5 + 2.5 * math.sin(math.radians((lon - 10.0) * 4.0))


def _attributes(lon: float, lat: float, rng: np.random.Generator) -> tuple[int, str]:
    depth = lat - _ice_edge_lat(lon)
    ct = 100.0 / (1.0 + math.exp(-2.0 * depth)) + rng.normal(0.0, 12.0)
    ct_int = int(min(100, max(0, round(ct / 10.0) * 10)))
    if ct_int == 0:
        return 0, "open-water"
    if depth < 0.3:
        return ct_int, str(rng.choice(["new-ice", "nilas", "young-ice"]))
    if lat > 80.0 or (lon < -5.0 and depth > 2.0):
        return ct_int, "multi-year-ice"
    if depth > 2.5:
        return ct_int, "thick-first-year-ice"
    return ct_int, str(rng.choice(["first-year-ice", "thin-first-year-ice", "young-ice"]))


def iter_icechart(seed: int, n_cells: int) -> Iterator[tuple[dict[str, Any], shapely.Polygon]]:
    """Yield (properties, polygon) for every cell, tile by tile."""
    if n_cells <= 0:
        return
    tiling = _tiling(n_cells)
    west, south, east, north = CHART_AREA
    dx = (east - west) / tiling.nx
    dy = (north - south) / tiling.ny
    number = 0
    for t, count in enumerate(tiling.counts):
        ix, iy = t % tiling.nx, t // tiling.nx
        box = shapely.box(
            west + ix * dx, south + iy * dy, west + (ix + 1) * dx, south + (iy + 1) * dy
        )
        rng = record_rng(seed, "icechart-tile", t)
        x0, y0, x1, y1 = box.bounds
        points = np.column_stack([rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)])
        if count == 1:
            cells = [box]
        else:
            diagram = shapely.voronoi_polygons(
                shapely.multipoints(points), extend_to=box, ordered=True
            )
            cells = [cell.intersection(box) for cell in shapely.get_parts(diagram)]
        service = "DMI" if box.centroid.x < DMI_EAST_LIMIT else "METNO"
        for (px, py), cell in zip(points, cells, strict=True):
            number += 1
            ct, sa = _attributes(float(px), float(py), rng)
            props = {
                "id": f"{service.lower()}-{CHART_DATE.replace('-', '')}-{number:06d}",
                "chart_date": CHART_DATE,
                "ct": ct,
                "sa": sa,
                "ice_service": service,
            }
            yield props, round_coords(ccw(cell))
