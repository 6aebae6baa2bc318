"""Embedded catalogue backend: SQLite with JSON1, R*Tree and FTS5; no server.

Writes happen in transactional batches (one ``BEGIN IMMEDIATE`` per batch), so a
crash never leaves half a batch; a bad item is reported and skipped, never
aborting its batch.  Reads build one WHERE clause from the request (CQL2 plus
concept/free-text subqueries) and page with a keyset token, which stays stable
while items are added.  Statements are assembled from ``Sql`` fragments: every
value, JSON path and page-token key is a bound parameter, and property names
must be queryables (``check_queryables``), so no request text reaches the SQL.
SQLite's own messages are logged, never returned: a client gets a 400 for a
search too big to run and a 5xx for anything else.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely import prepared

from eokg.catalog.concepts import ConceptQuery, ConceptScheme, concept_query
from eokg.catalog.cql2_sql import CqlToSql, literal_geometry, property_sql
from eokg.catalog.index import (
    BulkReport,
    CollectionPage,
    CollectionSearch,
    ItemFailure,
    Match,
    SearchPage,
    SearchRequest,
    SortField,
)
from eokg.catalog.items import (
    MATCHED_PROPERTY,
    IndexedItem,
    check_collection_id,
    placeholder_collection,
    valid_items,
)
from eokg.catalog.queryables import json_type, queryables_document
from eokg.catalog.search_common import (
    apply_fields,
    check_queryables,
    collection_page,
    core_to_cql2,
    decode_token,
    encode_token,
    explain,
    fts_query,
)
from eokg.catalog.sql_fragments import Sql, conjunction, join, param, params, sql
from eokg.catalog.sqlite_fastpath import (
    TIME_MAX,
    TIME_MIN,
    SpatialPlan,
    exact_filter,
    page_after,
    split_filter,
)
from eokg.catalog.sqlite_schema import ITEM_SQL, READER_PRAGMAS, initialise
from eokg.config import CatalogSettings
from eokg.errors import (
    EokgError,
    InputError,
    ItemValidationError,
    LimitExceeded,
    NotFound,
    QueryError,
    QueryTimeout,
    StoreError,
)

log = logging.getLogger(__name__)

#: above this many matches a page is cut from the time index, probing the rowid sets.
LARGE_MATCH = 5000
#: SQLite errors that mean "this search is too big", not "the catalogue is broken".
TOO_BIG = (
    "too many sql variables",
    "expression tree is too large",
    "too many terms",
    "pattern too complex",
    "parser stack overflow",
    "string or blob too big",
    "too many columns",
)


def read_failed(exc: sqlite3.Error) -> EokgError:
    """A client-facing error for a failed read; SQLite's text (SQL, paths) is only logged."""
    log.warning("catalogue read failed: %s", exc)
    text = str(exc).lower()
    if any(marker in text for marker in TOO_BIG):
        return QueryError(
            "the search is too large for the catalogue: use fewer values or conditions",
            where="filter",
        )
    if "interrupt" in text:
        return QueryTimeout("the search took too long and was stopped", where="catalogue")
    if "locked" in text or "busy" in text:
        return LimitExceeded("the catalogue is busy; try again", where="catalogue")
    return StoreError("the catalogue could not be read", where="catalogue")


@dataclass
class Where:
    """Conditions over ``items i``: plain clauses plus rowid sets (free text, concepts)."""

    clauses: list[Sql] = field(default_factory=list)
    sets: list[Sql] = field(default_factory=list)
    concepts: ConceptQuery | None = None

    def conditions(self, *, probe_sets: bool = False) -> list[Sql]:
        """All conditions; ``probe_sets`` stops SQLite driving the scan from the rowid sets."""
        lhs = "+i.rowid" if probe_sets else "i.rowid"
        return [*self.clauses, *(sql(f"{lhs} IN ({{s}})", s=s) for s in self.sets)]


@lru_cache(maxsize=64)
def _query_geometry(wkb: bytes) -> Any:
    return prepared.prep(shapely.from_wkb(wkb))


#: exact predicates: (prepared query geometry, item geometry) -> bool.
PREDICATES: dict[str, Callable[[Any, Any], bool]] = {
    "intersects": lambda q, g: q.intersects(g),
    "within": lambda q, g: q.contains(g),  # the item lies within the query
    "contains": lambda q, g: g.contains(q.context),
    "disjoint": lambda q, g: q.disjoint(g),
    "equals": lambda q, g: g.equals(q.context),
    "touches": lambda q, g: q.touches(g),
    "crosses": lambda q, g: q.crosses(g),
    "overlaps": lambda q, g: q.overlaps(g),
}


def _spatial(op: str, item_wkb: bytes | None, query_wkb: bytes) -> int:
    """SQL function ``eokg_spatial``: the exact shapely check after the R*Tree prefilter."""
    if item_wkb is None:
        return 1 if op == "disjoint" else 0
    return int(PREDICATES[op](_query_geometry(query_wkb), shapely.from_wkb(item_wkb)))


#: Reader connections of a catalogue file (each with its own page cache).
MAX_READERS = 8


class SqliteIndex:
    """The ``MetadataIndex`` on one SQLite file (or in memory when ``path`` is None)."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        concepts: ConceptScheme | None = None,
        statement_timeout_s: float | None = 10.0,
    ):
        self.path = str(path) if path else ":memory:"
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.concepts = concepts
        self.statement_timeout_s = statement_timeout_s
        self._lock = threading.RLock()  # writers; and readers of an in-memory file
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        try:
            self._main = self._connect()
            initialise(self._main)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the catalogue: {exc}", where=self.path) from exc
        self._max_duration = self._read_max_duration()
        self._known_queryables: set[tuple[str, str]] = {
            (c, n) for c, n in self._conn.execute("SELECT collection, name FROM queryables")
        }
        self._queryable_names = {n for _, n in self._known_queryables}

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=5.0
        )
        conn.create_function("eokg_spatial", 3, _spatial, deterministic=True)
        # Statement timeout: SQLite has none, but calls this every 10k VM steps;
        # a non-zero answer interrupts the statement ("interrupted": a 503).
        conn.set_progress_handler(self._overdue, 10_000)
        return conn

    def _overdue(self) -> int:
        deadline = getattr(self._local, "deadline", None)
        return int(deadline is not None and time.monotonic() > deadline)

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection of this thread's current read, else the writers' one."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        return self._main if conn is None else conn

    def _reader(self) -> sqlite3.Connection:
        """An idle reader connection; a new one while fewer than ``MAX_READERS`` exist."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._readers_lock:
            if len(self._readers) < MAX_READERS:
                try:
                    conn = self._connect()
                    for pragma in READER_PRAGMAS:
                        conn.execute(pragma)
                except sqlite3.Error as exc:
                    raise StoreError(f"cannot open the catalogue: {exc}", where=self.path) from exc
                self._readers.append(conn)
                return conn
        try:
            return self._idle.get(timeout=self.statement_timeout_s)
        except queue.Empty:
            raise LimitExceeded("the catalogue is busy; try again", where="catalogue") from None

    @contextmanager
    def _reading(self, *, bounded: bool = True) -> Iterator[None]:
        """Bracket a read: a connection of its own and its statement deadline.

        WAL lets readers of a file run side by side, each on a pooled connection
        (bounded, so request threads coming and going leak nothing); an in-memory
        file has one connection, shared under ``_lock``.
        """
        if getattr(self._local, "conn", None) is not None:
            yield  # a read inside a read: same connection, same deadline
            return
        timeout = self.statement_timeout_s if bounded else None
        self._local.deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if self.path == ":memory:":
                with self._lock:
                    self._local.conn = self._main
                    yield
            else:
                conn = self._reader()
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._idle.put(conn)
        finally:
            self._local.conn = None
            self._local.deadline = None

    def _read_max_duration(self) -> float | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'max_duration'").fetchone()
        return float(row[0]) if row else None

    @classmethod
    def from_settings(
        cls, settings: CatalogSettings, *, concepts: ConceptScheme | None = None
    ) -> SqliteIndex:
        if concepts is None:
            from eokg.catalog.concepts import default_scheme

            concepts = default_scheme()
        return cls(
            settings.path, concepts=concepts, statement_timeout_s=settings.statement_timeout_s
        )

    def close(self) -> None:
        with self._lock, self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._main.close()

    # -- writes -------------------------------------------------------------
    def add_collection(self, collection: dict[str, Any]) -> None:
        cid = check_collection_id(collection.get("id"))
        if collection.get("type", "Collection") != "Collection":
            raise ItemValidationError("type must be 'Collection'", where=f"collection {cid!r}")
        with self._lock:
            self._conn.execute(
                "INSERT INTO collections (id, doc) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                (cid, json.dumps(collection)),
            )

    def upsert_items(
        self,
        items: Iterable[dict[str, Any]],
        *,
        batch_size: int = 1000,
        on_failure: Callable[[ItemFailure], None] | None = None,
    ) -> BulkReport:
        report = BulkReport()
        batch: list[IndexedItem] = []
        for prepared_item in valid_items(items, report, on_failure):
            batch.append(prepared_item)
            if len(batch) >= batch_size:
                report.indexed += self._write_batch(batch)
                batch = []
        if batch:
            report.indexed += self._write_batch(batch)
        return report

    def _write_batch(self, batch: list[IndexedItem]) -> int:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                new_collections = {p.collection for p in batch}
                for cid in new_collections:
                    conn.execute(
                        "INSERT OR IGNORE INTO collections (id, doc) VALUES (?, ?)",
                        (cid, json.dumps(placeholder_collection(cid))),
                    )
                seen: set[tuple[str, str, str]] = set()
                for prepared_item in batch:
                    self._write_one(conn, prepared_item)
                    cid = prepared_item.collection
                    for name, value in prepared_item.item["properties"].items():
                        if (cid, name) not in self._known_queryables:
                            seen.add((cid, name, json_type(value)))
                durations = [p.end - p.start for p in batch if p.start is not None and p.end]
                longest = max(durations, default=0.0)
                if self._max_duration is None or longest > self._max_duration:
                    conn.execute(
                        "INSERT INTO meta VALUES ('max_duration', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
                        (longest,),
                    )
                fresh = [q for q in seen if (q[0], q[1]) not in self._known_queryables]
                conn.executemany("INSERT OR IGNORE INTO queryables VALUES (?, ?, ?)", fresh)
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(
                        f"batch write failed, earlier batches are kept: {exc}", where=self.path
                    ) from exc
                raise
            self._known_queryables.update((q[0], q[1]) for q in fresh)
            self._queryable_names.update(q[1] for q in fresh)
            self._max_duration = self._read_max_duration()
        return len(batch)

    def _write_one(self, conn: sqlite3.Connection, p: IndexedItem) -> None:
        row = conn.execute(
            "SELECT rowid FROM items WHERE collection = ? AND id = ?", (p.collection, p.id)
        ).fetchone()
        wkb = shapely.to_wkb(p.geometry) if p.geometry is not None else None
        shell = {**p.item, "properties": None}  # key order kept; json_set fills it back
        values = (
            p.collection,
            p.id,
            p.start,
            p.end,
            json.dumps(shell, separators=(",", ":")),
            json.dumps(p.item["properties"], separators=(",", ":")),
            json.dumps(p.derived) if p.derived else None,
            wkb,
        )
        if row is None:
            cur = conn.execute(
                "INSERT INTO items (collection, id, t_start, t_end, item, props, derived, geom) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            rowid = cur.lastrowid
        else:
            rowid = row[0]
            conn.execute(
                "UPDATE items SET collection=?, id=?, t_start=?, t_end=?, item=?, props=?, "
                "derived=?, geom=? WHERE rowid=?",
                (*values, rowid),
            )
            self._delete_side_rows(conn, rowid)
        if p.bbox is not None:
            minx, miny, maxx, maxy = p.bbox
            mint = p.start if p.start is not None else TIME_MIN
            maxt = p.end if p.end is not None else TIME_MAX
            conn.execute(
                "INSERT INTO items_rtree VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rowid, minx, maxx, miny, maxy, mint, maxt),
            )
        labels = self.concepts.labels_text(p.concepts) if self.concepts else ""
        conn.execute(
            "INSERT INTO items_fts (rowid, title, description, keywords, concepts) "
            "VALUES (?, ?, ?, ?, ?)",
            (rowid, p.text["title"], p.text["description"], p.text["keywords"], labels),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO item_concepts (concept, item) VALUES (?, ?)",
            [(c, rowid) for c in p.concepts],
        )

    @staticmethod
    def _delete_side_rows(conn: sqlite3.Connection, rowid: int) -> None:
        conn.execute("DELETE FROM items_rtree WHERE id = ?", (rowid,))
        conn.execute("DELETE FROM items_fts WHERE rowid = ?", (rowid,))
        conn.execute("DELETE FROM item_concepts WHERE item = ?", (rowid,))

    def delete_item(self, collection: str, item_id: str) -> None:
        with self._lock:
            conn = self._conn
            row = conn.execute(
                "SELECT rowid FROM items WHERE collection = ? AND id = ?", (collection, item_id)
            ).fetchone()
            if row is None:
                raise NotFound("no such item", where=f"{collection}/{item_id}")
            conn.execute("BEGIN IMMEDIATE")
            self._delete_side_rows(conn, row[0])
            conn.execute("DELETE FROM items WHERE rowid = ?", (row[0],))
            conn.execute("COMMIT")

    # -- reads --------------------------------------------------------------
    def collections(self) -> list[dict[str, Any]]:
        with self._reading():
            rows = self._conn.execute("SELECT doc FROM collections ORDER BY id").fetchall()
        return [json.loads(doc) for (doc,) in rows]

    def search_collections(self, request: CollectionSearch) -> CollectionPage:
        """Collection Search, matched in ``search_common`` so every backend agrees."""
        return collection_page(self.collections(), request)

    def get_collection(self, collection_id: str) -> dict[str, Any]:
        with self._reading():
            row = self._conn.execute(
                "SELECT doc FROM collections WHERE id = ?", (collection_id,)
            ).fetchone()
        if row is None:
            raise NotFound("no such collection", where=f"collection {collection_id!r}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    def get_item(self, collection: str, item_id: str) -> dict[str, Any]:
        with self._reading():
            row = self._conn.execute(
                f"SELECT {ITEM_SQL} FROM items i WHERE i.collection = ? AND i.id = ?",
                (collection, item_id),
            ).fetchone()
        if row is None:
            raise NotFound("no such item", where=f"{collection}/{item_id}")
        item: dict[str, Any] = json.loads(row[0])
        return item

    def queryables(self, collection: str | None = None) -> dict[str, Any]:
        query = "SELECT name, type FROM queryables"
        args: tuple[Any, ...] = ()
        if collection is not None:
            self.get_collection(collection)
            query += " WHERE collection = ?"
            args = (collection,)
        with self._reading():
            rows = self._conn.execute(query, args).fetchall()
        return queryables_document(dict(rows), collection)

    def _is_queryable(self, name: str) -> bool:
        """Seen at ingest, here or by another process writing the same file since."""
        if name in self._queryable_names:
            return True
        row = self._conn.execute(
            "SELECT 1 FROM queryables WHERE name = ? LIMIT 1", (name,)
        ).fetchone()
        if row is not None:
            self._queryable_names.add(name)
        return row is not None

    def _translator(self) -> CqlToSql:
        return CqlToSql(max_duration=self._max_duration)

    def _where(self, request: SearchRequest) -> Where:
        """The whole request as SQL (spatial checks through ``eokg_spatial``)."""
        where = Where()
        tree = core_to_cql2(request)
        if tree is not None:
            where.clauses.append(self._translator().translate(tree))
        selective = bool(request.datetime or request.ids)
        self._semantic(request, where, correlated=selective)
        return where

    def _spatial_plan(self, request: SearchRequest) -> tuple[SpatialPlan, Where] | None:
        """Split off the spatial constraints for the fast path, or None if there are none."""
        geoms, rest = split_filter(request.cql2_json())
        if request.bbox is not None:
            geoms.append(literal_geometry({"bbox": request.bbox}, "bbox"))
        if request.intersects is not None:
            geoms.append(literal_geometry(request.intersects, "intersects"))
        if not geoms:
            return None
        plan = SpatialPlan(geoms, rest)
        core = request.model_copy(
            update={"bbox": None, "intersects": None, "filter": None, "filter_lang": None}
        )
        where = Where()
        translator = self._translator()
        for node, at in [(core_to_cql2(core), "filter"), *rest]:
            if node is not None:
                where.clauses.append(translator.translate(node, at))
        self._semantic(request, where, correlated=True)
        return plan, where

    def _semantic(self, request: SearchRequest, where: Where, *, correlated: bool) -> None:
        """Add the concept and free-text conditions and keep the concept expansion.

        Each becomes a *set* of item rowids (a subquery).  ``correlated`` says
        another, selective condition (time, ids, R*Tree) drives the scan, so the
        concept test is a per-row probe rather than a big IN list.
        """
        if not (request.concepts or request.q):
            return
        cq = concept_query(self.concepts, request.concepts or [], request.q or [])
        where.concepts = cq
        if request.concepts:
            iris = params(sorted({i for c in request.concepts for i in cq.expansions[c]}))
            if correlated:
                where.clauses.append(
                    sql(
                        "EXISTS (SELECT 1 FROM item_concepts c WHERE c.item = i.rowid "
                        "AND c.concept IN ({iris}))",
                        iris=iris,
                    )
                )
            else:
                where.sets.append(
                    sql("SELECT item FROM item_concepts WHERE concept IN ({iris})", iris=iris)
                )
        if request.q:
            parts: list[Sql] = []
            match = fts_query(request.q)
            if match:
                parts.append(
                    sql("SELECT rowid FROM items_fts WHERE items_fts MATCH {m}", m=param(match))
                )
            by_term = {i for term in request.q for c in self._term_concepts(term, cq) for i in c}
            if by_term:
                parts.append(
                    sql(
                        "SELECT item FROM item_concepts WHERE concept IN ({iris})",
                        iris=params(sorted(by_term)),
                    )
                )
            if not parts:
                raise InputError("free-text query has no searchable words", where="q")
            where.sets.append(join(" UNION ", parts))

    def _term_concepts(self, term: str, cq: ConceptQuery) -> list[frozenset[str]]:
        if self.concepts is None:
            return []
        return [cq.expansions[c] for c in self.concepts.match_text(term) if c in cq.expansions]

    @staticmethod
    def _sort_sql(field: SortField) -> Sql:
        """A sort key: an indexed column, or the property at a bound JSON path."""
        return property_sql(field.field.removeprefix("properties."), "sortby")

    @staticmethod
    def _after(keys: Sequence[tuple[Sql, str]], values: list[Any]) -> Sql:
        """Keyset condition "row comes after ``values``" for mixed directions, NULL-safe.

        SQLite sorts NULL first ascending (last descending), which the per-key
        "greater"/"equal" tests below follow exactly.
        """
        ors: list[Sql] = []
        for depth, (expr, direction) in enumerate(keys):
            ands = [
                sql("{x} IS {v}", x=prev, v=param(prev_value))
                for (prev, _), prev_value in zip(keys[:depth], values[:depth], strict=True)
            ]
            value = values[depth]
            if direction == "asc":
                if value is None:
                    ands.append(sql("{x} IS NOT NULL", x=expr))
                else:
                    ands.append(sql("{x} > {v}", x=expr, v=param(value)))
            elif value is None:
                ands.append(Sql("0"))
            else:
                ands.append(sql("({x} < {v} OR {x} IS NULL)", x=expr, v=param(value)))
            ors.append(sql("({a})", a=join(" AND ", ands)))
        return sql("({o})", o=join(" OR ", ors))

    @staticmethod
    def _order(keys: Sequence[tuple[Sql, str]], first: int) -> Sql:
        """ORDER BY the key columns by position (``first`` is the first key's), so the
        keys (and their bound paths) are written once, in the select list."""
        return Sql(
            ", ".join(f"{first + n} {direction.upper()}" for n, (_, direction) in enumerate(keys))
        )

    def _run(self, statement: Sql) -> list[Any]:
        return self._conn.execute(statement.text, statement.params).fetchall()

    def search(self, request: SearchRequest) -> SearchPage:
        order = request.sort_fields()
        with self._reading():
            check_queryables(request, self._is_queryable)
            keys = [(self._sort_sql(f), f.direction) for f in order]
            token_keys = decode_token(request.token, len(keys)) if request.token else None
            try:
                spatial = self._spatial_plan(request)
                if spatial is not None:
                    rows, matched, more, cq = self._search_spatial(
                        request, keys, token_keys, spatial
                    )
                else:
                    rows, matched, more, cq = self._search_sql(request, keys, token_keys)
            except sqlite3.Error as exc:
                raise read_failed(exc) from exc
        next_token = encode_token(list(rows[-1][1])) if more and rows else None
        items: list[dict[str, Any]] = []
        why: dict[str, list[Match]] = {}
        for doc, _ in rows:
            item = json.loads(doc)
            if cq is not None:
                reasons = explain(item, request.q or [], cq)
                why[item["id"]] = reasons
                item["properties"][MATCHED_PROPERTY] = [r.to_json() for r in reasons]
            items.append(apply_fields(item, request.fields))
        return SearchPage(items=items, matched=matched, next_token=next_token, why=why)

    def _search_sql(
        self,
        request: SearchRequest,
        keys: Sequence[tuple[Sql, str]],
        token_keys: list[Any] | None,
    ) -> tuple[list[tuple[str, tuple[Any, ...]]], int, bool, ConceptQuery | None]:
        """Everything in SQL: COUNT(*), then keyset condition and ORDER BY ... LIMIT.

        When many items match, the rowid sets (free text, concepts) are only
        probed (``+i.rowid``) so SQLite walks the time index in order and stops
        at the page size, instead of sorting every match.
        """
        where = self._where(request)
        matched = self._count(where)
        probe_sets = matched > LARGE_MATCH and keys[0][0].text == "i.t_start"
        conditions = where.conditions(probe_sets=probe_sets)
        if token_keys is not None:
            conditions.append(self._after(keys, token_keys))
        rows = self._run(
            sql(
                f"SELECT {ITEM_SQL}, {{keys}} FROM items i WHERE {{where}} "
                "ORDER BY {order} LIMIT {limit}",
                keys=join(", ", [k for k, _ in keys]),
                where=conjunction(conditions),
                order=self._order(keys, first=2),
                limit=param(request.limit + 1),
            )
        )
        more = len(rows) > request.limit
        return [(r[0], tuple(r[1:])) for r in rows[: request.limit]], matched, more, where.concepts

    def _count(self, where: Where) -> int:
        """``numberMatched``; with only rowid sets, counted on the sets alone."""
        if where.sets and not where.clauses:
            sets = join(" INTERSECT ", [sql("SELECT * FROM ({s})", s=s) for s in where.sets])
            statement = sql("SELECT COUNT(*) FROM ({sets})", sets=sets)
        else:
            statement = sql(
                "SELECT COUNT(*) FROM items i WHERE {w}", w=conjunction(where.conditions())
            )
        ((n,),) = self._run(statement)
        return int(n)

    def _search_spatial(
        self,
        request: SearchRequest,
        keys: Sequence[tuple[Sql, str]],
        token_keys: list[Any] | None,
        spatial: tuple[SpatialPlan, Where],
    ) -> tuple[list[tuple[str, tuple[Any, ...]]], int, bool, ConceptQuery | None]:
        """R*Tree (space + time) in SQL, exact footprints in shapely, page cut by keyset."""
        plan, where = spatial
        cq = where.concepts
        qbox = plan.box
        if qbox is None:
            return [], 0, False, cq
        minx, miny, maxx, maxy = qbox
        conditions = [
            sql("r.minx <= {v}", v=param(maxx)),
            sql("r.maxx >= {v}", v=param(minx)),
            sql("r.miny <= {v}", v=param(maxy)),
            sql("r.maxy >= {v}", v=param(miny)),
        ]
        interval = request.interval()
        if interval is not None:
            start, end = interval
            if end is not None:
                conditions.append(sql("r.mint <= {v}", v=param(end)))
            if start is not None:
                conditions.append(sql("r.maxt >= {v}", v=param(start)))
        rect = plan.rectangle
        geom_sql = Sql("i.geom")
        if rect is not None:  # boxes inside the query rectangle certainly match: no WKB
            geom_sql = sql(
                "CASE WHEN r.minx >= {a} AND r.maxx <= {b} AND r.miny >= {c} AND r.maxy <= {d} "
                "THEN NULL ELSE i.geom END",
                a=param(rect[0]),
                b=param(rect[2]),
                c=param(rect[1]),
                d=param(rect[3]),
            )
        rows = self._run(
            sql(
                "SELECT i.rowid, {keys}, {geom} FROM items_rtree r "
                "CROSS JOIN items i ON i.rowid = r.id WHERE {where} ORDER BY {order}",
                keys=join(", ", [k for k, _ in keys]),
                geom=geom_sql,
                where=conjunction([*conditions, *where.conditions()]),
                order=self._order(keys, first=2),
            )
        )
        survivors = exact_filter(rows, plan.geometries)
        directions = [direction for _, direction in keys]
        start_at = page_after(survivors, token_keys, directions)
        page = survivors[start_at : start_at + request.limit]
        more = start_at + request.limit < len(survivors)
        docs: dict[int, str] = {}
        if page:
            docs = dict(
                self._run(
                    sql(
                        f"SELECT i.rowid, {ITEM_SQL} FROM items i WHERE i.rowid IN ({{ids}})",
                        ids=params(r[0] for r in page),
                    )
                )
            )
        return [(docs[r[0]], tuple(r[1:-1])) for r in page], len(survivors), more, cq

    def aggregate(
        self, request: SearchRequest, aggregations: list[str], *, interval: str = "month"
    ) -> list[dict[str, Any]]:
        from eokg.catalog.sqlite_aggregate import aggregate

        with self._reading():
            check_queryables(request, self._is_queryable)
            try:
                where = conjunction(self._where(request).conditions())
                return aggregate(self._conn, where, aggregations, interval)
            except sqlite3.Error as exc:
                raise read_failed(exc) from exc

    def analyse(self) -> None:
        """Refresh planner statistics after a bulk load (cheap, makes plans predictable)."""
        with self._lock:
            self._conn.execute("ANALYZE")

    def iter_items(self) -> Iterator[dict[str, Any]]:
        with self._reading(bounded=False):  # an export, not a request
            rows = self._conn.execute(f"SELECT {ITEM_SQL} FROM items i ORDER BY i.rowid").fetchall()
        for (doc,) in rows:
            yield json.loads(doc)


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo a failed batch without hiding why it failed.

    SQLite rolls a transaction back by itself after some errors (SQLITE_FULL:
    "database or disk is full", I/O errors), and a ROLLBACK then fails with
    "cannot rollback - no transaction is active", which would replace the real
    error in the report.
    """
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # the original error is worth reporting
            conn.execute("ROLLBACK")
