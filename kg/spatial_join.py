"""Vectorised spatial joins of two literal sets, and the search box of a distance bound.

The planner hands over the literals each side of a join can take (fetched from
the store for that query only); this module parses them in bulk and joins them
with an STRtree on one side and vectorised GEOS predicates, so the cost follows
the two sets and the output.  Relations whose shapely predicate equals the
GeoSPARQL relation run inside ``STRtree.query``; the others (Egenhofer, RCC8,
equality) are bounding-box candidates filtered with the DE-9IM patterns of
``functions.relation_holds``, the same code the SPARQL functions use.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from eokg.errors import EokgError
from eokg.kg.functions import length_factor, relation_holds

if TYPE_CHECKING:
    import numpy as np

# STRtree predicates equal to the GeoSPARQL relation of the same pair.
_TREE_PREDICATES = {
    "sfIntersects": "intersects",
    "sfWithin": "within",
    "sfContains": "contains",
    "sfOverlaps": "overlaps",
    "sfCrosses": "crosses",
    "sfTouches": "touches",
}
_METRES_PER_DEGREE_LAT = 110_000.0
_POLAR_RADIUS_M = 6_350_000.0


def distance_box(shape: Any, limit: float, uom: str) -> tuple[float, float, float, float] | None:
    """A CRS84 box holding every geometry within ``limit`` ``uom`` of ``shape``."""
    import shapely

    try:
        kind, factor = length_factor(uom)
    except EokgError:
        return None
    minx, miny, maxx, maxy = shapely.bounds(shape)
    if kind == "deg":
        dlat = dlon = limit * factor
    else:
        metres = limit * factor
        dlat = metres / _METRES_PER_DEGREE_LAT
        top = min(90.0, max(abs(miny), abs(maxy)) + dlat)
        cos_top = math.cos(math.radians(top))
        dlon = 360.0 if cos_top < 1e-6 else math.degrees(metres / (_POLAR_RADIUS_M * cos_top))
    dlat *= 1.01
    dlon = min(360.0, dlon * 1.01)
    return (minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)


def count_none(shapes: np.ndarray) -> int:
    return sum(1 for s in shapes if s is None)


def valid_pairs(
    li: np.ndarray, ri: np.ndarray, lshapes: np.ndarray, rshapes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if not len(li):
        return li, ri
    ok = np.array(
        [lshapes[a] is not None and rshapes[b] is not None for a, b in zip(li, ri, strict=True)],
        dtype=bool,
    )
    return li[ok], ri[ok]


def tree_join(
    relation: str, left: np.ndarray, right: np.ndarray, *, exact: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``relation(left[i], right[j])``, via an STRtree on ``right``.

    When ``exact`` is False (reprojected shapes) the pairs are bounding-box
    candidates, slightly widened, and the caller keeps the exact filter.
    """
    import numpy as np
    import shapely

    empty = np.empty(0, dtype=np.int64)
    lok = np.array([s is not None for s in left], dtype=bool)
    rok = np.array([s is not None for s in right], dtype=bool)
    lidx, ridx = np.flatnonzero(lok), np.flatnonzero(rok)
    if not len(lidx) or not len(ridx):
        return empty, empty
    lsh, rsh = left[lidx], right[ridx]
    tree = shapely.STRtree(rsh)
    if not exact:
        boxes = shapely.envelope(lsh)
        grown = shapely.buffer(boxes, 1e-6 + 1e-3 * _max_extent(boxes), cap_style="square")
        a, b = tree.query(grown)
        return lidx[a], ridx[b]
    if relation in _TREE_PREDICATES:
        a, b = tree.query(lsh, predicate=_TREE_PREDICATES[relation])
        return lidx[a], ridx[b]
    a, b = tree.query(lsh)
    if not len(a):
        return empty, empty
    mask = np.asarray(relation_holds(relation, lsh[a], rsh[b]), dtype=bool)
    return lidx[a[mask]], ridx[b[mask]]


def _max_extent(boxes: np.ndarray) -> float:
    import numpy as np
    import shapely

    bounds = shapely.bounds(boxes)
    if not len(bounds):
        return 0.0
    return float(np.nanmax(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])))
