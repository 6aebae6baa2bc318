"""A persistent R*Tree over every geometry literal in the store, kept beside RocksDB.

Keys are the literals themselves (objects of the ``GEOMETRY_PREDICATES`` whose
datatype is one of ``GEOMETRY_DATATYPES``), each with the graphs it occurs in;
shapes are held in CRS84 as WKB, so one tree answers for every CRS.  The index
is one SQLite file (``index_path``) using the R*Tree module that ships with
Python: opening it costs O(1), so a reopened store answers its first spatial
query from disk instead of rescanning every geometry triple.  An in-memory
store gets an in-memory SQLite database.

Crash consistency.  RocksDB and SQLite cannot commit together, so every store
write is bracketed by a dirty flag:

1. ``begin_write()`` commits ``dirty=1`` before the store is touched;
2. the store is written, and ``add`` / ``discard`` stage the index changes in
   one open SQLite transaction;
3. ``end_write()`` commits those changes together with ``dirty=0``.

A kill at any point leaves either a clean index that matches the store (before
step 1 or after step 3) or ``dirty=1``: ``needs_resync`` is then true on open
and the store rebuilds the index with ``resync`` from its geometry triples,
parsing only the literals the index does not hold yet.

Literals that do not parse stay in the table without a shape (they never
match), so a resync does not parse them again.  Each literal is keyed by a
16-byte hash of its N-Triples text (``str(pyoxigraph.Literal)``) rather than by
the text: a unique index over multi-megabyte polygons would store them twice.
Large batches are packed into the R*Tree directly (``rtree_pack``), small ones go
through the module row by row.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eokg.errors import GeometryError, QueryError, StoreError
from eokg.kg.geometry import GEOMETRY_DATATYPES as _DATATYPES
from eokg.kg.geometry import (
    GEOMETRY_PREDICATES,
    MAX_NESTING,
    WKT_LITERAL,
    nested_too_deep,
    parse_literal,
    to_crs84,
)

if TYPE_CHECKING:
    import numpy as np

#: Graph key of the default graph (named graphs: their IRI; blank-node graphs: ``_:id``).
DEFAULT_GRAPH = ""
#: Datatypes of the literals the index holds (objects of ``GEOMETRY_PREDICATES``).
GEOMETRY_DATATYPES = frozenset(_DATATYPES)
__all__ = [
    "DEFAULT_GRAPH",
    "GEOMETRY_DATATYPES",
    "GEOMETRY_PREDICATES",
    "SpatialIndex",
    "parse_literals",
    "parse_values",
]

_SCHEMA_VERSION = "2"  # 2: the key's unique index is named (built after a first load)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS geom (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL,         -- blake2b-128 of term (unique: geom_key)
    term TEXT NOT NULL,        -- the literal's N-Triples text
    wkb BLOB,                  -- CRS84 shape; NULL: the literal does not parse
    native INTEGER NOT NULL,   -- 1: CRS84 / EPSG:4326, the shape is the literal itself
    x0 REAL, y0 REAL, x1 REAL, y1 REAL  -- exact bounds; NULL for empty shapes
);
CREATE TABLE IF NOT EXISTS geom_graph (
    graph TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (graph, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS geom_key ON geom (key);
CREATE INDEX IF NOT EXISTS geom_graph_id ON geom_graph (id);
CREATE VIRTUAL TABLE IF NOT EXISTS geom_box USING rtree (id, minx, maxx, miny, maxy);
"""
_TABLES = ("meta", "geom", "geom_graph", "geom_box")
# The N-Triples text of a geometry literal ends with one of these.
_GEOMETRY_SUFFIXES = tuple(f'"^^<{datatype}>' for datatype in sorted(GEOMETRY_DATATYPES))
_WKT_SUFFIX = f'"^^<{WKT_LITERAL}>'
# Literals whose box meets (:minx, :miny, :maxx, :maxy): the R*Tree's 32-bit boxes
# first, then the exact bounds.
_BOX_MATCH = """
FROM geom_box AS b CROSS JOIN geom AS g ON g.id = b.id
WHERE b.minx <= :maxx AND b.maxx >= :minx AND b.miny <= :maxy AND b.maxy >= :miny
  AND g.x0 <= :maxx AND g.x1 >= :minx AND g.y0 <= :maxy AND g.y1 >= :miny
"""
_NO_GRAPHS: frozenset[str] = frozenset()
# SQLite allows 32766 parameters; batches stay well below.
_CHUNK = 500
# A batch touching more than 1/_PACK_RATIO of the tree rebuilds it by packing.
_PACK_RATIO = 4


def index_path(store_path: Path) -> Path:
    """Where the index of a persistent store lives: one file beside its directory."""
    return Path(str(store_path) + ".spatial.sqlite")


def is_geometry_literal(term: Any) -> bool:
    """A literal the index holds when it is the object of a geometry predicate."""
    datatype = getattr(term, "datatype", None)
    return datatype is not None and datatype.value in GEOMETRY_DATATYPES


def graph_key(graph_name: Any) -> str:
    """The index's key for a pyoxigraph graph name."""
    import pyoxigraph

    if isinstance(graph_name, pyoxigraph.DefaultGraph):
        return DEFAULT_GRAPH
    if isinstance(graph_name, pyoxigraph.BlankNode):
        return str(graph_name)
    return str(graph_name.value)


def graph_name(key: str) -> Any:
    """The pyoxigraph graph name for an index graph key (inverse of ``graph_key``)."""
    import pyoxigraph

    if key == DEFAULT_GRAPH:
        return pyoxigraph.DefaultGraph()
    if key.startswith("_:"):
        return pyoxigraph.BlankNode(key[2:])
    return pyoxigraph.NamedNode(key)


class SpatialIndex:
    """Geometry literal -> CRS84 shape and graphs, in SQLite with an R*Tree."""

    def __init__(self, path: Path | None = None, *, fresh: bool = False) -> None:
        """Open (or create) the index at ``path``; in memory when None.

        ``fresh`` says the store was just created, so an empty index matches it and a
        file left at ``path`` by an earlier, since deleted, store is discarded.  An
        in-memory index is always fresh.
        """
        self.path = path
        self.resyncs = 0  # full resyncs done by this object (0 after a clean open)
        self._lock = threading.RLock()
        self._writing = False
        self._live = 0  # literals with a shape
        self._foreign = 0  # ... whose shape is a reprojection
        self._saved = (0, 0)
        self._extents: dict[str | None, tuple[float, float, float, float] | None] = {}
        if path is not None and fresh:
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        try:
            self._db = sqlite3.connect(
                str(path) if path is not None else ":memory:",
                isolation_level=None,  # transactions are explicit
                check_same_thread=False,  # guarded by self._lock
            )
            self._open(fresh or path is None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the spatial index: {exc}", where=str(path)) from exc

    def _open(self, fresh: bool) -> None:
        db = self._db
        if self.path is not None:
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # durable against a killed process
        db.execute("PRAGMA cache_size = -65536")  # KiB
        meta = self._read_meta()
        if meta.get("schema", _SCHEMA_VERSION) != _SCHEMA_VERSION:
            for table in reversed(_TABLES):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            meta = {}
        db.executescript(_SCHEMA)
        if not meta:
            # a new file: it matches the store only if the store is new too
            meta = {"schema": _SCHEMA_VERSION, "dirty": "0" if fresh else "1"}
            meta |= {"live": "0", "foreign": "0"}
            self._write_meta(meta)
        self._needs_resync = meta.get("dirty") != "0"
        self._live = int(meta.get("live", 0))
        self._foreign = int(meta.get("foreign", 0))

    # --- state --------------------------------------------------------------------------

    @property
    def needs_resync(self) -> bool:
        """The index may disagree with the store (missing, or a write did not finish)."""
        return self._needs_resync

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def flush(self) -> None:
        """Checkpoint the write-ahead log into the file (fsync); a no-op during a write."""
        with self._lock:
            if self.path is not None and not self._writing:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- write protocol -----------------------------------------------------------------

    def begin_write(self) -> None:
        """Commit ``dirty=1``; call before the store is touched."""
        with self._lock:
            if self._writing:
                raise StoreError("a write is already open", where=str(self.path or "index"))
            try:
                self._write_meta({"dirty": "1"})
                self._db.execute("BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot mark the index dirty: {exc}", where=str(self.path)
                ) from exc
            self._writing = True
            self._saved = (self._live, self._foreign)

    def end_write(self) -> None:
        """Commit the staged changes with ``dirty=0``, in one SQLite transaction."""
        with self._lock:
            self._require_write()
            self._writing = False
            try:
                self._write_meta(self._counters(dirty=self._needs_resync))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"index commit failed: {exc}", where=str(self.path)) from exc

    def abort_write(self, *, store_changed: bool = True) -> None:
        """Drop the staged changes.

        The store may have changed, so the index stays dirty until a resync, unless
        the caller knows the store is as it was before ``begin_write`` (a bulk load
        Oxigraph refused): then the index is clean again, as it was.
        """
        with self._lock:
            self._require_write()
            self._writing = False
            resync = self._needs_resync
            self._rollback()
            if store_changed:
                return
            self._needs_resync = resync
            try:
                self._write_meta(self._counters(dirty=resync))
            except sqlite3.Error:
                self._needs_resync = True  # the flag stays "1": a resync on next use

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._live, self._foreign = self._saved
        self._extents.clear()
        self._needs_resync = True

    def _require_write(self) -> None:
        if not self._writing:
            raise StoreError("no write is open", where=str(self.path or "index"))

    @contextmanager
    def _changes(self) -> Iterator[None]:
        """Stage changes in the open write, or commit them in a transaction of their own."""
        with self._lock:
            if self._writing:
                yield
                return
            self._db.execute("BEGIN")
            self._saved = (self._live, self._foreign)
            dirty = self._needs_resync
            try:
                yield
                self._write_meta(self._counters(dirty=self._needs_resync))
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                self._needs_resync = dirty
                raise

    # --- writes -------------------------------------------------------------------------

    def add(self, entries: Iterable[tuple[Any, str]]) -> int:
        """Index ``(pyoxigraph Literal, graph key)`` pairs; returns how many literals were new.

        Pairs already indexed and literals of other datatypes are ignored.
        """
        with self._changes():
            return self._add(entries)

    def add_grouped(self, literals: dict[str, tuple[Any, set[str]]]) -> int:
        """``add`` for literals already grouped by N-Triples text, as a file scan gives
        them (``ntriples_scan``): text -> (pyoxigraph Literal or datatype IRI, graph
        keys).  Only geometry datatypes may be among them."""
        with self._changes():
            return self._add_grouped(literals)

    def discard(self, entries: Iterable[tuple[Any, str]]) -> int:
        """Forget ``(literal or its text, graph key)`` pairs; returns how many literals left."""
        with self._changes():
            return self._discard(entries)

    def resync(
        self, entries: Iterable[tuple[Any, str]], *, graphs: Collection[str] | None = None
    ) -> None:
        """Make the index equal to ``entries``: every geometry triple of the store.

        With ``graphs``, only those graphs are compared (``entries`` are then the
        geometry triples of those graphs).  Only literals new to the index are parsed.
        """
        wanted = None if graphs is None else set(graphs)
        with self._changes():
            current = _group(entries)
            if wanted is not None:
                current = {t: (term, held & wanted) for t, (term, held) in current.items()}
            indexed = self._pairs(wanted)
            stale = [
                (text, graph)
                for text, held in indexed.items()
                for graph in held - current.get(text, (None, _NO_GRAPHS))[1]
            ]
            missing = {
                text: (term, held - indexed.get(text, _NO_GRAPHS))
                for text, (term, held) in current.items()
                if not held <= indexed.get(text, _NO_GRAPHS)
            }
            self._discard(stale)
            self._add_grouped(missing)
            if wanted is None:
                self._recount()
                self._needs_resync = False
                self.resyncs += 1

    def _add(self, entries: Iterable[tuple[Any, str]]) -> int:
        return self._add_grouped(_group(entries))

    def _add_grouped(self, grouped: dict[str, tuple[Any, set[str]]]) -> int:
        if not grouped:
            return 0
        texts = list(grouped)
        keys = [_key(text) for text in texts]
        known = self._ids(dict(zip(texts, keys, strict=True)))
        held = list(grouped.values())
        if known:
            fresh = [i for i, text in enumerate(texts) if text not in known]
            texts = [texts[i] for i in fresh]
            keys = [keys[i] for i in fresh]
            held = [held[i] for i in fresh]
        ids = known
        pairs = grouped
        if texts:
            first = self._insert([item for item, _ in held], texts, keys)
            only = _only_graph([graphs for _, graphs in held])
            if only is not None:
                # a load into one graph: the new rows' graph rows in one statement
                self._db.execute(
                    "INSERT INTO geom_graph (graph, id) SELECT ?, id FROM geom WHERE id >= ?",
                    (only, first),
                )
                pairs = {text: grouped[text] for text in known}
            else:
                ids = known | dict(zip(texts, range(first, first + len(texts)), strict=True))
        self._db.executemany(
            "INSERT OR IGNORE INTO geom_graph (graph, id) VALUES (?, ?)",
            ((graph, ids[text]) for text, (_, graphs) in pairs.items() for graph in graphs),
        )
        self._extents.clear()
        return len(texts)

    def _insert(self, items: list[Any], texts: list[str], keys: list[bytes]) -> int:
        """Parse and store literals new to the index (pyoxigraph Literals or datatype
        IRIs, see ``_parts``); returns the first id (they are consecutive)."""
        import numpy as np
        import shapely

        values, datatypes = _parts(items, texts)
        shapes, native = parse_values(values, datatypes, texts)
        bounds = shapely.bounds(shapes)  # NaN for empty and invalid shapes: stored as NULL
        boxed = ~np.isnan(bounds).any(axis=1)
        (top,) = self._db.execute("SELECT coalesce(max(id), 0) FROM geom").fetchone()
        ids = np.arange(top + 1, top + 1 + len(texts), dtype=np.int64)
        # into an empty table, a unique index built once after the rows beats one
        # updated per row (random keys); both are inside the open transaction
        rebuild_key = top == 0 and len(texts) > _CHUNK
        if rebuild_key:
            self._db.execute("DROP INDEX geom_key")
        self._db.executemany(
            "INSERT INTO geom VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                ids.tolist(),
                keys,
                texts,
                shapely.to_wkb(shapes).tolist(),
                native.tolist(),
                *bounds.T.tolist(),
                strict=True,
            ),
        )
        if rebuild_key:
            self._db.execute("CREATE UNIQUE INDEX geom_key ON geom (key)")
        valid = ~shapely.is_missing(shapes)
        self._live += int(np.count_nonzero(valid))
        self._foreign += int(np.count_nonzero(valid & ~native))
        self._add_boxes(ids[boxed], bounds[boxed])
        return int(top) + 1

    def _discard(self, entries: Iterable[tuple[Any, str]]) -> int:
        pairs: dict[str, set[str]] = {}
        for term, graph in entries:
            pairs.setdefault(term if isinstance(term, str) else str(term), set()).add(graph)
        if not pairs:
            return 0
        ids = self._ids({text: _key(text) for text in pairs})
        self._db.executemany(
            "DELETE FROM geom_graph WHERE graph = ? AND id = ?",
            ((graph, ids[text]) for text, held in pairs.items() if text in ids for graph in held),
        )
        touched = set(ids.values())
        kept: set[int] = set()
        for chunk in _chunks(sorted(touched)):
            marks = ",".join("?" * len(chunk))
            kept.update(
                row[0]
                for row in self._db.execute(
                    f"SELECT DISTINCT id FROM geom_graph WHERE id IN ({marks})", chunk
                )
            )
        gone = sorted(touched - kept)
        boxed: list[int] = []
        for chunk in _chunks(gone):
            marks = ",".join("?" * len(chunk))
            for row_id, valid, native, has_box in self._db.execute(
                "SELECT id, wkb IS NOT NULL, native, x0 IS NOT NULL FROM geom"
                f" WHERE id IN ({marks})",
                chunk,
            ):
                self._live -= valid
                self._foreign -= valid and not native
                if has_box:
                    boxed.append(row_id)
            self._db.execute(f"DELETE FROM geom WHERE id IN ({marks})", chunk)
        self._remove_boxes(boxed)
        self._extents.clear()
        return len(gone)

    def _add_boxes(self, ids: np.ndarray, bounds: np.ndarray) -> None:
        if len(ids) == 0:
            return
        if self._tree_empty():
            from eokg.kg.rtree_pack import pack

            pack(self._db, "geom_box", ids, bounds)
        elif len(ids) * _PACK_RATIO > self._live:
            self._repack()
        else:
            rows = zip(ids.tolist(), bounds.tolist(), strict=True)
            self._db.executemany(
                "INSERT INTO geom_box (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                ((i, b[0], b[2], b[1], b[3]) for i, b in rows),
            )

    def _remove_boxes(self, ids: list[int]) -> None:
        if not ids:
            return
        if len(ids) * _PACK_RATIO > self._live + len(ids):
            self._repack()
        else:
            self._db.executemany("DELETE FROM geom_box WHERE id = ?", ((i,) for i in ids))

    def _repack(self) -> None:
        """Rebuild the R*Tree from the exact bounds in ``geom`` (faster than many row edits)."""
        import numpy as np

        from eokg.kg.rtree_pack import pack

        rows = self._db.execute(
            "SELECT id, x0, y0, x1, y1 FROM geom WHERE x0 IS NOT NULL ORDER BY id"
        ).fetchall()
        table = np.array(rows, dtype=np.float64).reshape(-1, 5)
        pack(self._db, "geom_box", table[:, 0].astype(np.int64), table[:, 1:])

    def _tree_empty(self) -> bool:
        return self._db.execute("SELECT 1 FROM geom_box_rowid LIMIT 1").fetchone() is None

    def _ids(self, keys: dict[str, bytes]) -> dict[str, int]:
        """Ids of the texts already indexed."""
        if self._db.execute("SELECT 1 FROM geom LIMIT 1").fetchone() is None:
            return {}
        by_key = {key: text for text, key in keys.items()}
        found: dict[str, int] = {}
        for chunk in _chunks(list(by_key)):
            marks = ",".join("?" * len(chunk))
            for key, row_id in self._db.execute(
                f"SELECT key, id FROM geom WHERE key IN ({marks})", chunk
            ):
                found[by_key[key]] = row_id
        return found

    def _pairs(self, graphs: set[str] | None) -> dict[str, set[str]]:
        """Indexed text -> graphs, for all graphs or only ``graphs``."""
        out: dict[str, set[str]] = {}
        if graphs is None:
            rows: Iterable[tuple[str, str]] = self._db.execute(
                "SELECT g.term, gg.graph FROM geom_graph AS gg JOIN geom AS g ON g.id = gg.id"
            )
        else:
            rows = (
                row
                for graph in graphs
                for row in self._db.execute(
                    "SELECT g.term, gg.graph FROM geom_graph AS gg JOIN geom AS g ON g.id = gg.id"
                    " WHERE gg.graph = ?",
                    (graph,),
                )
            )
        for text, graph in rows:
            out.setdefault(text, set()).add(graph)
        return out

    def _recount(self) -> None:
        live, foreign = self._db.execute(
            "SELECT count(*), coalesce(sum(native = 0), 0) FROM geom WHERE wkb IS NOT NULL"
        ).fetchone()
        self._live, self._foreign = int(live), int(foreign)

    def _counters(self, *, dirty: bool) -> dict[str, str]:
        return {"live": str(self._live), "foreign": str(self._foreign), "dirty": str(int(dirty))}

    def _read_meta(self) -> dict[str, str]:
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        return dict(self._db.execute("SELECT key, value FROM meta")) if exists else {}

    def _write_meta(self, values: dict[str, str]) -> None:
        self._db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            values.items(),
        )

    # --- reads --------------------------------------------------------------------------

    def __len__(self) -> int:
        """Live geometry literals that parse."""
        return self._live

    @property
    def exact(self) -> bool:
        """True when every live shape is the literal itself (no reprojection)."""
        return self._foreign == 0

    def bbox_candidates(self, bounds: tuple[float, float, float, float]) -> list[str]:
        """Term texts whose shape's bounding box meets ``bounds`` (CRS84, exact)."""
        return [text for text, _ in self._box_rows(bounds, "g.term, NULL")]

    def select(self, relation: str, constant: Any, *, constant_first: bool) -> list[str]:
        """Term texts whose shape satisfies ``relation`` with the CRS84 shape ``constant``.

        ``constant_first`` says the constant is the relation's first argument.  The
        R*Tree gives the candidates; relations that can hold between shapes whose
        boxes do not meet (``DISJOINT_RELATIONS``) test every shape.
        """
        import numpy as np
        import shapely

        from eokg.kg.functions import DISJOINT_RELATIONS, RELATIONS, relation_holds

        if relation not in RELATIONS:
            raise QueryError(f"unknown spatial relation {relation!r}", where="spatial index")
        if relation in DISJOINT_RELATIONS:
            with self._lock:
                rows = self._db.execute(
                    "SELECT term, wkb FROM geom WHERE wkb IS NOT NULL"
                ).fetchall()
        else:
            rows = self._box_rows(tuple(shapely.bounds(constant).tolist()), "g.term, g.wkb")
        if not rows:
            return []
        shapes = shapely.from_wkb([wkb for _, wkb in rows])
        if constant_first:
            mask = relation_holds(relation, constant, shapes)
        else:
            mask = relation_holds(relation, shapes, constant)
        hits = np.asarray(mask, dtype=bool)
        return [text for (text, _), hit in zip(rows, hits, strict=True) if hit]

    def select_per_literal(
        self, relation: str, constant: Any, *, constant_first: bool, pad: float
    ) -> tuple[list[str], bool]:
        """``select`` for an index holding reprojected shapes: ``(terms, exact)``.

        Literals stored as themselves (CRS84 / EPSG:4326) are answered exactly;
        a reprojected one whose box meets the constant's box grown by ``pad``
        degrees is returned as a candidate, since its CRS84 shape is only
        approximate.  ``exact`` is True when no such candidate came back, so the
        caller may drop its FILTER for this query even though the index as a
        whole is not exact.  Relations in ``DISJOINT_RELATIONS`` are not for this.
        """
        import numpy as np
        import shapely

        from eokg.kg.functions import relation_holds

        minx, miny, maxx, maxy = shapely.bounds(constant).tolist()
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        rows = self._box_rows(box, "g.term, g.wkb, g.native")
        native = [(text, wkb) for text, wkb, own in rows if own]
        foreign = [text for text, _, own in rows if not own]
        if native:
            shapes = shapely.from_wkb([wkb for _, wkb in native])
            args = (constant, shapes) if constant_first else (shapes, constant)
            hits = np.asarray(relation_holds(relation, *args), dtype=bool)
            native = [row for row, hit in zip(native, hits, strict=True) if hit]
        return [text for text, _ in native] + foreign, not foreign

    def _box_rows(self, bounds: tuple[float, ...], columns: str) -> list[Any]:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        if any(math.isnan(v) for v in (minx, miny, maxx, maxy)):
            return []  # an empty shape meets nothing
        params = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
        with self._lock:
            return self._db.execute(f"SELECT {columns} {_BOX_MATCH}", params).fetchall()

    def shapes(self, terms: list[str]) -> list[Any]:
        """CRS84 shapes of term texts, in order; None for texts not indexed or invalid."""
        import shapely

        keys = [_key(text) for text in terms]
        found: dict[bytes, bytes] = {}
        with self._lock:
            for chunk in _chunks(list(set(keys))):
                marks = ",".join("?" * len(chunk))
                found.update(
                    self._db.execute(
                        f"SELECT key, wkb FROM geom WHERE wkb IS NOT NULL AND key IN ({marks})",
                        chunk,
                    )
                )
        blobs = [found.get(key) for key in keys]
        return list(shapely.from_wkb(blobs)) if blobs else []

    def extent(self, graph: str | None = None) -> tuple[float, float, float, float] | None:
        """CRS84 bounding box of the literals in ``graph`` (all graphs when None)."""
        with self._lock:
            if graph in self._extents:
                return self._extents[graph]
            if graph is None:
                row = self._db.execute(
                    "SELECT min(x0), min(y0), max(x1), max(y1) FROM geom"
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT min(g.x0), min(g.y0), max(g.x1), max(g.y1)"
                    " FROM geom_graph AS gg JOIN geom AS g ON g.id = gg.id WHERE gg.graph = ?",
                    (graph,),
                ).fetchone()
            box = None if row[0] is None else (row[0], row[1], row[2], row[3])
            self._extents[graph] = box
            return box

    def size(self, graph: str) -> int:
        """How many literals (valid or not) ``graph`` holds."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM geom_graph WHERE graph = ?", (graph,)
            ).fetchone()
            return int(count)

    def graphs(self) -> list[str]:
        """Keys of the graphs holding at least one indexed literal."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT graph FROM geom_graph")]

    def contents(self) -> dict[str, frozenset[str]]:
        """Every indexed literal text (valid or not) -> its graphs; O(n), for tests and checks."""
        with self._lock:
            return {text: frozenset(graphs) for text, graphs in self._pairs(None).items()}


def _group(entries: Iterable[tuple[Any, str]]) -> dict[str, tuple[Any, set[str]]]:
    """N-Triples text -> (term, graphs) of the geometry literals among ``entries``."""
    out: dict[str, tuple[Any, set[str]]] = {}
    for term, graph in entries:
        text = str(term)
        held = out.get(text)
        if held is not None:
            held[1].add(graph)
        elif text.endswith(_GEOMETRY_SUFFIXES):  # anything else is not indexed
            out[text] = (term, {graph})
    return out


def _only_graph(graph_sets: list[set[str]]) -> str | None:
    """The graph when every set is that one graph, else None."""
    first = graph_sets[0]
    if len(first) != 1 or any(held is not first and held != first for held in graph_sets):
        return None
    return next(iter(first))


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def parse_literals(
    terms: list[Any], texts: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CRS84 shapes (None: does not parse) and native flags of pyoxigraph literals.

    ``texts`` are the terms' N-Triples forms when the caller already has them.  The
    index and the planner's joins share this, so a literal means the same geometry on
    both paths.
    """
    if texts is None:
        texts = [str(term) for term in terms]
    return parse_values(*_parts(terms, texts), texts)


def parse_values(
    values: list[str], datatypes: Callable[[int], str], texts: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """``parse_literals`` from the literals' lexical forms and N-Triples texts.

    Plain CRS84 WKT, nearly every literal in practice, goes through shapely in one
    vectorised call; other serializations and CRSs one by one, asking ``datatypes``
    for the datatype IRI of literal ``i`` (only those need it).
    """
    import numpy as np
    import shapely

    shapes = np.full(len(values), None, dtype=object)
    native = np.zeros(len(values), dtype=bool)
    bulk = [
        i
        for i, (text, value) in enumerate(zip(texts, values, strict=True))
        if text.endswith(_WKT_SUFFIX)
        and not value.startswith("<")
        and not (value[:1].isspace() and value.lstrip().startswith("<"))
        # GEOS would overflow its stack on deep nesting: such a literal stays invalid
        and not (value.count("(") > MAX_NESTING and nested_too_deep(value))
    ]
    if bulk:
        shapes[bulk] = shapely.from_wkt([values[i] for i in bulk], on_invalid="ignore")
        native[bulk] = True
    if len(bulk) == len(values):
        return shapes, native
    done = set(bulk)
    for i, value in enumerate(values):
        if i in done:
            continue
        try:
            geom = parse_literal(value, datatypes(i))
            shapes[i] = to_crs84(geom).shape
            native[i] = geom.is_wgs84
        except GeometryError:
            pass  # stays None: remembered as invalid
    return shapes, native


def _parts(items: list[Any], texts: list[str]) -> tuple[list[str], Callable[[int], str]]:
    """Lexical forms and datatype lookup of Literals or datatype IRIs (``ntriples_scan``:
    the text is ``"value"^^<datatype>`` with nothing escaped)."""
    values = [
        text[1 : len(text) - len(item) - 5] if isinstance(item, str) else item.value
        for item, text in zip(items, texts, strict=True)
    ]
    return values, lambda i: items[i] if isinstance(items[i], str) else items[i].datatype.value
