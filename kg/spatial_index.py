"""An R-tree over every geometry literal in the store, that never goes stale.

Keys are the literals themselves (objects of ``geo:asWKT`` / ``geo:asGeoJSON``),
each with the set of graphs it occurs in; shapes are held in CRS84 so that one
tree answers for every CRS.  The tree is a shapely ``STRtree`` (immutable, bulk
built in C): writes only touch the key table and set a dirty flag, and the tree
is rebuilt lazily by the next spatial query.  That keeps a burst of updates
cheap and, unlike Jena's index, the answer is always the store's current state:

* loads add their geometry literals as they are parsed (exact, incremental);
* SPARQL UPDATEs mark the index stale; the next use rescans the geometry
  triples (one predicate index scan in Oxigraph) and diffs them against the
  key table, parsing only the new literals.

Reopening a persistent store starts stale, so the first spatial query rebuilds
the index from the store itself.  Nothing is persisted beside RocksDB, so
nothing can disagree with it (the cost is one scan per process start).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from eokg.errors import GeometryError
from eokg.kg.geometry import WKT_LITERAL, parse_literal, to_crs84

if TYPE_CHECKING:
    import numpy as np

#: Graph key of the default graph.
DEFAULT_GRAPH = ""


class SpatialIndex:
    """Literal -> CRS84 shape, per graph, with a lazily rebuilt STRtree."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._slot: dict[Any, int] = {}  # pyoxigraph Literal -> slot
        self._terms: list[Any] = []
        self._shapes: list[Any] = []  # CRS84 shapely geometry, None once removed
        self._graphs: list[set[str]] = []
        self._native: list[bool] = []  # literal was CRS84/EPSG:4326: index shape is exact
        self._invalid: set[Any] = set()  # literals that do not parse: never match
        self._live = 0
        self._foreign = 0  # live literals in another CRS (shape is a reprojection)
        self._tree: Any = None
        self._tree_slots: np.ndarray | None = None
        self.stale = True  # contents must be rescanned from the store

    # --- writes ----------------------------------------------------------------------

    def add(self, entries: Iterable[tuple[Any, str]]) -> int:
        """Add ``(literal, graph)`` pairs; returns how many new literals were indexed."""
        with self._lock:
            fresh: dict[Any, set[str]] = {}
            for term, graph in entries:
                slot = self._slot.get(term)
                if slot is not None:
                    self._graphs[slot].add(graph)
                elif term not in self._invalid:
                    fresh.setdefault(term, set()).add(graph)
            return self._insert(fresh)

    def resync(self, entries: Iterable[tuple[Any, str]]) -> None:
        """Make the index equal to ``entries`` (every geometry literal in the store)."""
        with self._lock:
            current: dict[Any, set[str]] = {}
            for term, graph in entries:
                current.setdefault(term, set()).add(graph)
            for term, slot in list(self._slot.items()):
                if term not in current:
                    self._remove(slot)
            fresh: dict[Any, set[str]] = {}
            for term, graphs in current.items():
                known = self._slot.get(term)
                if known is not None:
                    self._graphs[known] = graphs
                elif term not in self._invalid:
                    fresh[term] = graphs
            self._invalid &= set(current)
            self._insert(fresh)
            self._compact_if_sparse()
            self.stale = False

    def _insert(self, fresh: dict[Any, set[str]]) -> int:
        if not fresh:
            return 0
        for term, (shape, native) in zip(fresh, _parse_many(list(fresh)), strict=True):
            if shape is None:
                self._invalid.add(term)
                continue
            self._slot[term] = len(self._terms)
            self._terms.append(term)
            self._shapes.append(shape)
            self._graphs.append(fresh[term])
            self._native.append(native)
            self._live += 1
            self._foreign += not native
        self._tree = None
        return len(fresh)

    def _remove(self, slot: int) -> None:
        del self._slot[self._terms[slot]]
        self._shapes[slot] = None
        self._graphs[slot] = set()
        self._live -= 1
        self._foreign -= not self._native[slot]
        self._tree = None

    def _compact_if_sparse(self) -> None:
        if len(self._terms) < 1024 or self._live * 2 > len(self._terms):
            return
        keep = [i for i, shape in enumerate(self._shapes) if shape is not None]
        self._terms = [self._terms[i] for i in keep]
        self._shapes = [self._shapes[i] for i in keep]
        self._graphs = [self._graphs[i] for i in keep]
        self._native = [self._native[i] for i in keep]
        self._slot = {term: i for i, term in enumerate(self._terms)}

    # --- reads -----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._live

    @property
    def exact(self) -> bool:
        """True when every indexed shape is the literal itself (no reprojection)."""
        return self._foreign == 0

    def _ensure_tree(self) -> tuple[Any, np.ndarray]:
        import numpy as np
        import shapely

        with self._lock:
            if self._tree is None or self._tree_slots is None:
                slots = np.fromiter(
                    (i for i, shape in enumerate(self._shapes) if shape is not None),
                    dtype=np.int64,
                )
                shapes = np.empty(len(slots), dtype=object)
                shapes[:] = [self._shapes[i] for i in slots]
                self._tree = shapely.STRtree(shapes)
                self._tree_slots = slots
            return self._tree, self._tree_slots

    def shapes_array(self, slots: np.ndarray) -> np.ndarray:
        import numpy as np

        out = np.empty(len(slots), dtype=object)
        out[:] = [self._shapes[i] for i in slots]
        return out

    def term(self, slot: int) -> Any:
        return self._terms[slot]

    def is_native(self, slot: int) -> bool:
        return self._native[slot]

    def bbox_candidates(self, bounds: tuple[float, float, float, float]) -> np.ndarray:
        """Slots whose shape's bounding box meets ``bounds`` (CRS84)."""
        import shapely

        tree, slots = self._ensure_tree()
        if len(slots) == 0:
            return slots
        return slots[tree.query(shapely.box(*bounds))]

    def select(self, relation: str, constant: Any, *, constant_first: bool) -> np.ndarray:
        """Slots whose shape satisfies ``relation`` with the CRS84 shape ``constant``.

        ``constant_first`` says the constant is the relation's first argument.
        """
        import shapely

        from eokg.kg.functions import relation_holds

        candidates = self.bbox_candidates(tuple(shapely.bounds(constant)))
        if len(candidates) == 0:
            return candidates
        shapes = self.shapes_array(candidates)
        if constant_first:
            mask = relation_holds(relation, constant, shapes)
        else:
            mask = relation_holds(relation, shapes, constant)
        return candidates[mask]

    def join(self, relation: str) -> tuple[np.ndarray, np.ndarray]:
        """All slot pairs ``(a, b)`` with ``relation(a, b)``, via the tree and vectorised GEOS."""
        import numpy as np

        from eokg.kg.functions import relation_holds

        tree, slots = self._ensure_tree()
        if len(slots) == 0:
            return slots, slots
        shapes = self.shapes_array(slots)
        direct = {
            "sfIntersects": "intersects",
            "sfWithin": "within",
            "sfContains": "contains",
            "sfOverlaps": "overlaps",
            "sfCrosses": "crosses",
            "sfTouches": "touches",
        }
        if relation in direct:
            left, right = tree.query(shapes, predicate=direct[relation])
            return slots[left], slots[right]
        left, right = tree.query(shapes)
        mask = np.asarray(relation_holds(relation, shapes[left], shapes[right]), dtype=bool)
        return slots[left[mask]], slots[right[mask]]

    def extent(self, graph: str | None = None) -> tuple[float, float, float, float] | None:
        """CRS84 bounding box of the literals in ``graph`` (all graphs when None)."""
        import numpy as np
        import shapely

        with self._lock:
            shapes = [
                shape
                for shape, graphs in zip(self._shapes, self._graphs, strict=True)
                if shape is not None and (graph is None or graph in graphs)
            ]
        if not shapes:
            return None
        bounds = shapely.bounds(np.asarray(shapes, dtype=object))
        if np.isnan(bounds).all():
            return None
        return (
            float(np.nanmin(bounds[:, 0])),
            float(np.nanmin(bounds[:, 1])),
            float(np.nanmax(bounds[:, 2])),
            float(np.nanmax(bounds[:, 3])),
        )


def _parse_many(terms: list[Any]) -> list[tuple[Any, bool]]:
    """``(CRS84 shape or None, native)`` per literal; plain CRS84 WKT is parsed in bulk."""
    import shapely

    out: list[tuple[Any, bool]] = [(None, False)] * len(terms)
    bulk = [
        i
        for i, term in enumerate(terms)
        if term.datatype.value == WKT_LITERAL and not term.value.lstrip().startswith("<")
    ]
    if bulk:
        shapes = shapely.from_wkt([terms[i].value for i in bulk], on_invalid="ignore")
        for i, shape in zip(bulk, shapes, strict=True):
            out[i] = (shape, True)
    done = set(bulk)
    for i, term in enumerate(terms):
        if i in done:
            continue
        try:
            geom = parse_literal(term.value, term.datatype.value)
            out[i] = (to_crs84(geom).shape, geom.is_wgs84)
        except GeometryError:
            out[i] = (None, False)
    return out
