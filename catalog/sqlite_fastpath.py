"""Spatial search plan of the embedded backend: R*Tree prefilter, vectorised exact check.

A STAC search with ``bbox``/``intersects`` (or a top-level ``S_INTERSECTS`` in
its filter) is the common case, and checking candidates one by one through a
Python SQL function costs ~10 µs each, too slow at millions of items.  So the
query is split: SQL walks the 5-D R*Tree (lon, lat, time) and the other
conditions and returns the ordered candidates with their WKB footprints (none for
candidates whose box lies inside a rectangular query, which certainly match);
shapely then tests all footprints at once.  The survivors give ``numberMatched``
exactly, and the page is cut in Python at the keyset token.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from eokg.catalog.cql2_sql import GEOMETRY_PROPERTIES, literal_geometry

#: time bounds stored in the R*Tree for items without a time.
TIME_MIN = -1e15
TIME_MAX = 1e15


@dataclass
class SpatialPlan:
    geometries: list[BaseGeometry]
    #: user-filter conjuncts left for SQL, with their JSON path for error messages.
    rest: list[tuple[Any, str]] = field(default_factory=list)

    @property
    def box(self) -> tuple[float, float, float, float] | None:
        """Intersection of all query bounds; None when they cannot overlap."""
        minx, miny, maxx, maxy = -180.0, -90.0, 180.0, 90.0
        for geom in self.geometries:
            a, b, c, d = geom.bounds
            minx, miny, maxx, maxy = max(minx, a), max(miny, b), min(maxx, c), min(maxy, d)
        if minx > maxx or miny > maxy:
            return None
        return minx, miny, maxx, maxy

    @property
    def rectangle(self) -> tuple[float, float, float, float] | None:
        """The query box if the only constraint is an axis-aligned rectangle."""
        if len(self.geometries) != 1:
            return None
        geom = self.geometries[0]
        if geom.geom_type == "Polygon" and geom.equals(shapely.box(*geom.bounds)):
            return geom.bounds
        return None


def split_filter(tree: dict[str, Any] | None) -> tuple[list[BaseGeometry], list[tuple[Any, str]]]:
    """Top-level ANDed ``s_intersects(geometry, literal)`` conjuncts, and the rest."""
    if tree is None:
        return [], []
    if str(tree.get("op", "")).lower() == "and":
        conjuncts = [(a, f"filter.args[{i}]") for i, a in enumerate(tree.get("args", []))]
    else:
        conjuncts = [(tree, "filter")]
    geoms: list[BaseGeometry] = []
    rest: list[tuple[Any, str]] = []
    for node, where in conjuncts:
        args = node.get("args") if isinstance(node, dict) else None
        if (
            isinstance(node, dict)
            and str(node.get("op", "")).lower() == "s_intersects"
            and isinstance(args, list)
            and len(args) == 2
        ):
            props = [isinstance(a, dict) and a.get("property") in GEOMETRY_PROPERTIES for a in args]
            if props[0] != props[1]:
                literal = args[1] if props[0] else args[0]
                at = f"{where}.args[{1 if props[0] else 0}]"
                geoms.append(literal_geometry(literal, at))
                continue
        rest.append((node, where))
    return geoms, rest


def _rank(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    return 3


def _compare(a: Any, b: Any) -> int:
    """SQLite's ordering across types: NULL < numbers < text < blob."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb or ra == 0:
        return ra - rb
    return (a > b) - (a < b)


def row_comparator(directions: list[str]) -> functools.partial[int]:
    return functools.partial(_compare_rows, directions)


def _compare_rows(directions: list[str], left: tuple[Any, ...], right: tuple[Any, ...]) -> int:
    for a, b, direction in zip(left, right, directions, strict=False):
        c = _compare(a, b)
        if c:
            return c if direction == "asc" else -c
    return 0


def exact_filter(
    rows: list[tuple[Any, ...]], geometries: list[BaseGeometry]
) -> list[tuple[Any, ...]]:
    """Keep rows (last column: WKB or None = certainly inside) intersecting every geometry."""
    check = [i for i, row in enumerate(rows) if row[-1] is not None]
    keep = np.ones(len(rows), dtype=bool)
    if check:
        footprints = shapely.from_wkb(np.array([rows[i][-1] for i in check], dtype=object))
        mask = np.ones(len(check), dtype=bool)
        for geom in geometries:
            shapely.prepare(geom)
            mask &= shapely.intersects(geom, footprints)
        keep[np.array(check)[~mask]] = False
    return [row for row, ok in zip(rows, keep, strict=True) if ok]


def page_after(
    survivors: list[tuple[Any, ...]], token_keys: list[Any] | None, directions: list[str]
) -> int:
    """Index of the first survivor after the token's keys (rows are in SQL order)."""
    if token_keys is None:
        return 0
    key = functools.cmp_to_key(row_comparator(directions))
    return bisect_right(survivors, key(tuple(token_keys)), key=lambda r: key(r[1:-1]))
