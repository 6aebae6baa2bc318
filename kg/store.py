"""The local GeoSPARQL store: Oxigraph + the eokg function library + a live R-tree.

``GeoStore`` implements ``SparqlSource``.  Three guarantees the plain
pyoxigraph ``Store`` does not give:

* **atomic, streaming loads**: all files are written in *one* bulk-load call,
  which commits once, at its end (a syntax error or a process killed before
  leaves the store as it was; the temporary files it leaves are removed when
  the store is next opened); several files are first parsed end to end
  (streamed, nothing kept), so none is written unless all parse.  A syntax
  error on line N of file F raises ``RDFParseError`` naming F and N, and the
  store is untouched;
* **limits**: a query with a timeout or result cap is evaluated in a worker
  thread (Oxigraph releases the GIL while it iterates) and materialised up to
  the cap; the result is handed back as a genuine pyoxigraph result object;
* **spatial index**: selections and joins are answered from a persistent
  R*Tree beside the store (``spatial_index``), which every load, ``extend`` and
  update maintains incrementally (``update_effects`` says what an update can
  touch) and which a crash never leaves disagreeing with the store.

pyoxigraph result objects are bound to the thread that created them: consume
a result in the thread that called ``query``.
"""

from __future__ import annotations

import gc
import gzip
import logging
import queue
import re
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eokg.errors import (
    InputError,
    QueryError,
    QueryTimeout,
    RDFParseError,
    StoreError,
    UpdateRefused,
)
from eokg.kg.ntriples_scan import ScannedGeometries, scan_ntriples
from eokg.kg.portable_results import materialise, rebuild
from eokg.kg.source import LoadReport, QueryOptions, graph_nodes
from eokg.kg.spatial_index import (
    DEFAULT_GRAPH,
    GEOMETRY_PREDICATES,
    SpatialIndex,
    graph_key,
    graph_name,
    index_path,
    is_geometry_literal,
)
from eokg.kg.template_cache import TemplateFile, template_path

if TYPE_CHECKING:
    from eokg.config import StoreSettings
    from eokg.kg.planner import Plan
    from eokg.kg.query_pool import QueryPool
    from eokg.kg.update_effects import Effects

#: File suffix -> pyoxigraph RdfFormat attribute name.
SUFFIX_FORMATS = {
    ".nt": "N_TRIPLES",
    ".nq": "N_QUADS",
    ".ttl": "TURTLE",
    ".trig": "TRIG",
    ".n3": "N3",
    ".rdf": "RDF_XML",
    ".owl": "RDF_XML",
    ".xml": "RDF_XML",
    ".jsonld": "JSON_LD",
}
#: Short names accepted by ``format=``.
FORMAT_NAMES = {
    "nt": "N_TRIPLES",
    "ntriples": "N_TRIPLES",
    "n-triples": "N_TRIPLES",
    "nq": "N_QUADS",
    "nquads": "N_QUADS",
    "n-quads": "N_QUADS",
    "ttl": "TURTLE",
    "turtle": "TURTLE",
    "trig": "TRIG",
    "n3": "N3",
    "rdfxml": "RDF_XML",
    "rdf/xml": "RDF_XML",
    "xml": "RDF_XML",
    "jsonld": "JSON_LD",
    "json-ld": "JSON_LD",
}
_QUAD_FORMATS = {"N_QUADS", "TRIG"}
# Candidates of one graph an update rechecks one by one without asking how big the
# graph is (counting its literals costs a scan of its index rows).
_FEW_LITERALS = 256
# Geometry literals a load keeps for the index before falling back to a rescan.
_MAX_PENDING_GEOMETRIES = 2_000_000
# What Oxigraph's bulk loader names its SST files, in the store folder, until it ingests them.
_BULK_LEFTOVERS = "bulk-*.sst"

log = logging.getLogger(__name__)


def _format_of(path: Path, name: str | None) -> tuple[str, bool]:
    """(pyoxigraph format name, gzipped) for a file; InputError names an unknown one."""
    gz = path.suffix.lower() == ".gz"
    if name:
        key = FORMAT_NAMES.get(name.lower(), name.upper())
        if key not in set(FORMAT_NAMES.values()):
            raise InputError(f"unknown RDF format {name!r}", where=str(path))
        return key, gz
    suffix = Path(path.stem).suffix.lower() if gz else path.suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise InputError(
            f"cannot tell the RDF format from the extension {suffix!r}; pass format=",
            where=str(path),
        )
    return SUFFIX_FORMATS[suffix], gz


class GeoStore:
    """Oxigraph store with GeoSPARQL functions and an always-fresh spatial index."""

    def __init__(self, path: Path | None = None, *, name: str = "local") -> None:
        import pyoxigraph

        self.name = name
        self.path = Path(path) if path is not None else None
        created = self.path is None or not self.path.exists()
        try:
            self._store = pyoxigraph.Store(str(self.path) if self.path else None)
        except OSError as exc:
            raise StoreError(f"cannot open the store: {exc}", where=str(path)) from exc
        # (files, bytes) of bulk-load temporaries an interrupted load left, now deleted
        self.leftovers_removed = (0, 0)
        if self.path is not None:  # the folder's RocksDB LOCK is ours: no writer runs
            self.leftovers_removed = _remove_bulk_leftovers(self.path)
        self._index = SpatialIndex(
            index_path(self.path) if self.path is not None else None, fresh=created
        )
        self._templates = TemplateFile(template_path(self.path)) if self.path else None
        self._geometry_predicates = frozenset(pyoxigraph.NamedNode(p) for p in GEOMETRY_PREDICATES)
        self._write_lock = _WriteLock()
        self._functions: dict[Any, Any] | None = None
        self._aggregates: dict[Any, Any] | None = None
        self.last_plan: Plan | None = None  # the latest plan, for tests and the CLI
        self._fresh_index()  # a missing index, or one a crash left dirty, is rebuilt now

    #: Worker processes for queries with a timeout (on-disk stores); 0: a thread each.
    query_workers = 0
    _pool: QueryPool | None = None
    _pool_lock = threading.Lock()

    @property
    def cancels_queries(self) -> bool:
        """Whether a query given a timeout is stopped when it runs out (worker processes)."""
        return self.query_workers > 0 and self.path is not None

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> GeoStore:
        store = cls(settings.path)
        store.query_workers = settings.query_workers
        return store

    @property
    def raw(self) -> Any:
        """The underlying pyoxigraph ``Store`` (reads only: writes would bypass the index)."""
        return self._store

    # --- loading ----------------------------------------------------------------------

    def load(
        self,
        paths: Iterable[Path],
        *,
        graph: str | None = None,
        format: str | None = None,
        base_iri: str | None = None,
    ) -> LoadReport:
        """Load RDF files atomically: all of them, or (on a parse error, or a kill) none.

        One plain file Oxigraph reads itself is bulk-loaded on a worker while this
        thread reads the file's geometry literals for the index (``_load_beside``):
        Oxigraph's bulk loader stages SST files and ingests them into RocksDB in one
        step at the end of the call, which is the commit, so a syntax error or a
        kill during the call leaves the store as it was.  Anything else (several
        files, gzip, quads regraphed) is parsed end to end first (streamed, nothing
        kept) and then written in one bulk call.  ``base_iri`` resolves relative IRIs
        (Turtle, RDF/XML, JSON-LD...); without it a relative IRI is an
        ``RDFParseError`` naming file and line.
        """
        import pyoxigraph

        started = time.perf_counter()
        files = [Path(p) for p in paths]
        plans = [(path, *_format_of(path, format)) for path in files]
        to_graph = pyoxigraph.NamedNode(graph) if graph else None
        _check_base_iri(base_iri)
        if len(plans) == 1 and not plans[0][2] and _read_by_oxigraph(plans[0], to_graph):
            with _collector_paused():
                found = self._load_beside(plans[0], graph, to_graph, base_iri)
        else:
            found = self._scan_quads(plans, graph, base_iri)  # pass 1: write nothing
            # pass 2: the files are known good; write them in one bulk call
            with self._write_lock, self._writing() as index:
                self._write_files(plans, to_graph, base_iri)
                if found.overflow:
                    index.resync(self._geometry_entries())
                else:
                    index.add_grouped(found.literals)
        return LoadReport(
            files=tuple(str(p) for p in files),
            triples=found.triples,
            graphs=tuple(sorted(found.graphs)),
            geometries_indexed=found.geometries,
            seconds=time.perf_counter() - started,
        )

    def _load_beside(
        self, plan: tuple[Path, str, bool], graph: str | None, to_graph: Any, base_iri: str | None
    ) -> ScannedGeometries:
        """Bulk-load one plain file on a worker while this thread stages its index rows.

        Oxigraph reads the file without the GIL; the Python work (finding the
        geometry literals, parsing them, SQLite rows) runs beside it on the other
        core.  Oxigraph's load is atomic, so its syntax error (with the file's line)
        is the load's error and the staged index rows are dropped, the index still
        clean.  N-Triples are read as text (``ntriples_scan``), other formats parsed.
        """
        path, fmt, gz = plan
        with self._write_lock, self._writing() as index:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="eokg-load") as pool:
                written = pool.submit(self._write_files, [plan], to_graph, base_iri)
                unread: RDFParseError | None = None
                found = ScannedGeometries()
                try:
                    if fmt == "N_TRIPLES":
                        key = graph or DEFAULT_GRAPH
                        found = scan_ntriples(path, key, limit=_MAX_PENDING_GEOMETRIES)
                        if graph:
                            found.graphs.add(graph)
                    else:
                        found = self._scan_quads([plan], graph, base_iri)
                    if not found.overflow:
                        index.add_grouped(found.literals)
                except RDFParseError as exc:
                    unread = exc  # the bulk load has failed too: its error is the one
                try:
                    written.result()
                except SyntaxError as exc:
                    raise _Unwritten(self._syntax_error(exc, path, gz, base_iri)) from None
            if unread is not None:
                index.resync(self._geometry_entries())
                raise StoreError(
                    f"Oxigraph loaded a file eokg could not read ({unread}); the spatial"
                    " index was rebuilt from the store",
                    where=str(path),
                )
            if found.overflow:
                index.resync(self._geometry_entries())
        return found

    def _scan_quads(
        self, plans: list[tuple[Path, str, bool]], graph: str | None, base_iri: str | None
    ) -> ScannedGeometries:
        """Parse every file (streamed, nothing kept): triples, graphs, geometry literals."""
        import pyoxigraph

        found = ScannedGeometries()
        literals = found.literals
        predicates = self._geometry_predicates
        for path, fmt, gz in plans:
            quads = fmt in _QUAD_FORMATS
            for quad in self._parse(path, fmt, gz, base_iri):
                found.triples += 1
                if quads and not isinstance(quad.graph_name, pyoxigraph.DefaultGraph):
                    found.graphs.add(quad.graph_name.value)
                if quad.predicate not in predicates or not is_geometry_literal(quad.object):
                    continue
                found.geometries += 1
                if found.overflow:
                    continue
                if isinstance(quad.graph_name, pyoxigraph.BlankNode):
                    found.overflow = True  # renamed when written: its key is known only then
                    literals.clear()
                    continue
                found.add(str(quad.object), quad.object, _graph_key(quad.graph_name, graph))
                if len(literals) > _MAX_PENDING_GEOMETRIES:
                    found.overflow = True  # too many to hold: the index rescans the store
                    literals.clear()
        if graph:
            found.graphs.add(graph)
        return found

    def _write_files(
        self, plans: list[tuple[Path, str, bool]], to_graph: Any, base_iri: str | None
    ) -> None:
        """Pass 2 of ``load``: write files already known to parse, in ONE bulk call.

        One call is one commit (its SST files are ingested together when it ends);
        two calls would be two, so several files are chained into one quad stream.
        """
        import pyoxigraph

        where = ", ".join(str(path) for path, _, _ in plans)
        try:
            if len(plans) == 1 and _read_by_oxigraph(plans[0], to_graph):
                path, fmt, gz = plans[0]
                rdf_format = getattr(pyoxigraph.RdfFormat, fmt)
                target = to_graph if fmt not in _QUAD_FORMATS else None
                if gz:
                    with _open(path, gz) as handle:
                        self._store.bulk_load(
                            handle, rdf_format, base_iri=base_iri, to_graph=target
                        )
                else:
                    self._store.bulk_load(
                        path=str(path), format=rdf_format, base_iri=base_iri, to_graph=target
                    )
            else:
                self._store.bulk_extend(self._stream(plans, to_graph, base_iri))
        except OSError as exc:
            raise StoreError(f"write failed: {exc}", where=where) from exc

    def _stream(
        self, plans: list[tuple[Path, str, bool]], to_graph: Any, base_iri: str | None
    ) -> Iterator[Any]:
        """The quads of all files, as written: blank nodes renamed per file (as a
        bulk load of one file does), triples in ``to_graph`` when one is given."""
        for path, fmt, gz in plans:
            quads = self._parse(path, fmt, gz, base_iri, rename_blank_nodes=True)
            yield from quads if to_graph is None else _regraph(quads, to_graph)

    @staticmethod
    def _parse(
        path: Path,
        fmt: str,
        gz: bool,
        base_iri: str | None = None,
        *,
        rename_blank_nodes: bool = False,
    ) -> Iterator[Any]:
        import pyoxigraph

        try:
            with _open(path, gz) as handle:
                yield from pyoxigraph.parse(
                    handle,
                    getattr(pyoxigraph.RdfFormat, fmt),
                    base_iri=base_iri,
                    rename_blank_nodes=rename_blank_nodes,
                )
        except SyntaxError as exc:
            raise GeoStore._syntax_error(exc, path, gz, base_iri) from exc
        except OSError as exc:
            raise InputError(f"cannot read: {exc}", where=str(path)) from exc
        except (EOFError, zlib.error) as exc:  # a truncated or corrupt .gz
            raise RDFParseError(
                f"the compressed file is truncated or corrupt: {exc}",
                where=str(path),
                file=str(path),
            ) from None

    @staticmethod
    def _syntax_error(
        exc: SyntaxError, path: Path, gz: bool, base_iri: str | None
    ) -> RDFParseError:
        """Oxigraph's syntax error in ``path`` as an ``RDFParseError`` naming file and line."""
        message = str(exc.args[0] if exc.args else exc)
        line = exc.lineno or _line_of_iri(path, gz, message)
        if base_iri is None and "No scheme found in an absolute IRI" in message:
            message += " (a relative IRI needs a base: pass base_iri= or --base-iri)"
        where = f"{path}:{line}" if line else str(path)
        return RDFParseError(message, where=where, file=str(path), line=line, column=exc.offset)

    # --- whole graphs (the Graph Store Protocol) ----------------------------------------

    def has_graph(self, graph: str | None) -> bool:
        """Whether the named graph ``graph`` exists (None: the default graph, always)."""
        import pyoxigraph

        return graph is None or self._store.contains_named_graph(pyoxigraph.NamedNode(graph))

    def replace_graph(
        self,
        path: Path,
        *,
        graph: str | None,
        format: str | None = None,
        base_iri: str | None = None,
    ) -> bool:
        """Make ``graph`` (None: the default graph) hold exactly the triples of ``path``.

        One Oxigraph transaction drops the old content and inserts the new, so a
        reader or a crash sees the old graph or the new one, never an empty or a
        half-written one; the index follows in the same write.  The new triples are
        held in memory (a request body); load big files with ``load``.  Returns
        whether the graph was created.  A file that does not parse changes nothing.
        """

        fmt, gz = _format_of(Path(path), format)
        if fmt in _QUAD_FORMATS:
            raise InputError(f"{fmt} holds a dataset, not one graph", where=str(path))
        _check_base_iri(base_iri)
        if graph is not None:
            graph_nodes([graph], "graph")
        triples = [
            f"{q.subject} {q.predicate} {q.object} ."
            for q in self._parse(Path(path), fmt, gz, base_iri)
        ]
        body = "\n".join(triples)
        if graph is None:
            update = f"DROP SILENT DEFAULT ;\nINSERT DATA {{\n{body}\n}}"
        else:  # CREATE: an empty body still leaves the graph existing (GSP "PUT - empty graph")
            update = (
                f"DROP SILENT GRAPH <{graph}> ;\nCREATE SILENT GRAPH <{graph}> ;\n"
                f"INSERT DATA {{ GRAPH <{graph}> {{\n{body}\n}} }}"
            )
        key = DEFAULT_GRAPH if graph is None else graph
        with self._write_lock, self._writing() as index:
            created = not self.has_graph(graph)
            try:
                self._store.update(update)
            except OSError as exc:
                raise StoreError(f"write failed: {exc}", where=str(path)) from exc
            index.resync(self._geometry_entries([key]), graphs={key})
        return created

    # --- updates ----------------------------------------------------------------------

    def update(self, sparql: str, options: QueryOptions | None = None) -> None:
        """Apply a SPARQL UPDATE atomically; the spatial index follows incrementally.

        ``options``' graph lists are the protocol's ``using-graph-uri`` and
        ``using-named-graph-uri`` (``update_dataset``); its ``base_iri`` resolves
        relative IRIs.

        What the update can touch is worked out first (``update_effects``; a WHERE
        part is evaluated once more for that), and afterwards only those literals
        or graphs are rechecked against the store.
        """
        from eokg.kg.update_dataset import with_protocol_dataset
        from eokg.kg.update_effects import effects_of

        base = None if options is None else options.base_iri
        if options is not None:  # the protocol's using-graph-uri / using-named-graph-uri
            sparql = with_protocol_dataset(
                sparql, options.default_graph_uris, options.named_graph_uris
            )
        with self._write_lock:
            effects = effects_of(sparql, self._select, base)
            if effects.none:
                error = self._apply_update(sparql, base)
            else:
                with self._writing():
                    error = self._apply_update(sparql, base)
                    if error is None:
                        self._follow(effects)
        if error is not None:
            raise error

    def _apply_update(self, sparql: str, base_iri: str | None = None) -> QueryError | None:
        """Run the update; a rejected one (syntax, unknown function) changed nothing."""
        try:
            self._store.update(
                sparql,
                base_iri=base_iri,
                custom_functions=self._custom_functions(),
                custom_aggregate_functions=self._custom_aggregates(),
            )
        except (SyntaxError, RuntimeError) as exc:
            # RuntimeError: Oxigraph refused an operation of a well-formed request (CLEAR
            # or DROP of a graph that does not exist, without SILENT): the request's fault
            kind = QueryError if isinstance(exc, SyntaxError) else UpdateRefused
            error = kind(str(exc), where="update")
            error.__cause__ = exc
            return error
        except OSError as exc:
            raise StoreError(str(exc), where="update") from exc
        return None

    def _follow(self, effects: Effects) -> None:
        """Bring the index in line with the store after an update (write lock held)."""
        index = self._index
        if effects.everything:
            index.resync(self._geometry_entries())
            return
        graphs = set(effects.graphs)
        if effects.named_graphs:
            graphs.update(g for g in index.graphs() if g != DEFAULT_GRAPH)
        by_graph: dict[str, list[Any]] = {}
        for literal, graph in effects.pairs:
            if graph not in graphs:
                by_graph.setdefault(graph, []).append(literal)
        for graph, literals in list(by_graph.items()):
            if len(literals) > _FEW_LITERALS and len(literals) > index.size(graph):
                graphs.add(graph)  # more candidates than the graph holds: scan it instead
                del by_graph[graph]
        if graphs:
            index.resync(self._geometry_entries(graphs), graphs=graphs)
        present: list[tuple[Any, str]] = []
        absent: list[tuple[Any, str]] = []
        for graph, literals in by_graph.items():
            name = graph_name(graph)
            for literal in literals:
                (present if self._holds(literal, name) else absent).append((literal, graph))
        index.discard(absent)
        index.add(present)

    def _holds(self, literal: Any, graph: Any) -> bool:
        """Some geometry triple of ``graph`` has ``literal`` as object."""
        return any(
            next(iter(self._store.quads_for_pattern(None, predicate, literal, graph)), None)
            is not None
            for predicate in self._geometry_predicates
        )

    def _select(self, text: str, default: list[str] | None, named: list[str] | None) -> Any:
        """A SELECT for ``update_effects``, over the dataset an update's WHERE sees."""
        import pyoxigraph

        kwargs: dict[str, Any] = {}
        if default is not None:
            kwargs["default_graph"] = [graph_name(g) for g in default]
        if named is not None:
            kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in named]
        return self._store.query(
            text,
            custom_functions=self._custom_functions(),
            custom_aggregate_functions=self._custom_aggregates(),
            **kwargs,
        )

    def extend(self, quads: Iterable[Any]) -> None:
        """Write pyoxigraph ``Quad`` objects already in memory, atomically; the index follows."""
        import pyoxigraph

        batch = list(quads)
        if not batch:
            return
        for quad in batch:
            if not isinstance(quad, pyoxigraph.Quad):
                raise InputError(f"not a pyoxigraph Quad: {quad!r}", where="extend")
        entries = [
            (quad.object, graph_key(quad.graph_name))
            for quad in batch
            if quad.predicate in self._geometry_predicates and is_geometry_literal(quad.object)
        ]
        with self._write_lock, self._writing() as index:
            try:
                self._store.extend(batch)
            except OSError as exc:
                raise StoreError(f"write failed: {exc}", where="extend") from exc
            index.add(entries)

    @contextmanager
    def _writing(self) -> Iterator[SpatialIndex]:
        """Bracket a store write with the index's dirty flag (the caller holds the write lock).

        An exception inside means the store may have changed: the index stays
        dirty and is rebuilt before its next use.
        """
        self._repair_index()
        self._index.begin_write()
        try:
            yield self._index
        except _Unwritten as unwritten:
            self._index.abort_write(store_changed=False)
            raise unwritten.error from None
        except BaseException:
            self._index.abort_write()
            raise
        self._index.end_write()

    # --- queries ----------------------------------------------------------------------

    def query(self, sparql: str, options: QueryOptions | None = None) -> Any:
        """Evaluate a query; results are pyoxigraph result objects.

        The text is size- and nesting-checked before any parser sees it, then
        planned once (``planner``): spatial operators answered from the index,
        GeoSPARQL entailment and topology properties expanded.
        """
        from eokg.kg.sparql_syntax import check_limits

        check_limits(sparql)
        options = options or QueryOptions()
        deadline = time.monotonic() + options.timeout_s if options.timeout_s else None
        if deadline is None and options.max_results is None:
            return self._execute(sparql, options)
        return self._run_limited(sparql, options, deadline)

    def plan(self, sparql: str, options: QueryOptions | None = None) -> Plan:
        """The plan a query would run with (what EXPLAIN shows), without running it."""
        from eokg.kg.planner import Planner
        from eokg.kg.sparql_syntax import check_limits

        check_limits(sparql)
        options = options or QueryOptions()
        self._fresh_index()
        planner = Planner(
            self._index,
            self._fetch_union,
            entailment=options.entailment,
            use_index=options.use_index,
            union_dataset=options.union_default_graph and not options.default_graph_uris,
            templates=self._templates,
        )
        plan = planner.plan(sparql)
        self.last_plan = plan
        return plan

    def explain(self, sparql: str, options: QueryOptions | None = None) -> dict[str, Any]:
        """Plan and run a query; the plan with its steps, row count and timings."""
        import pyoxigraph

        options = options or QueryOptions()
        started = time.perf_counter()
        plan = self.plan(sparql, options)
        planned = time.perf_counter()
        result = self._run(plan.text, options, plan.has_dataset)
        rows = 1 if isinstance(result, pyoxigraph.QueryBoolean) else sum(1 for _ in result)
        del result  # pyoxigraph results die in the thread that made them
        done = time.perf_counter()
        return {
            **plan.to_json(),
            "rows": rows,
            "seconds": {
                "plan": round(planned - started, 6),
                "evaluate": round(done - planned, 6),
                "total": round(done - started, 6),
            },
        }

    def _execute(self, sparql: str, options: QueryOptions) -> Any:
        plan = self.plan(sparql, options)
        return self._run(plan.text, options, plan.has_dataset)

    def _fetch_union(self, text: str) -> list[list[Any]]:
        """Rows of a planner side query, over every graph (a superset is always safe)."""
        result = self._run(text, QueryOptions(), False)
        variables = [v.value for v in result.variables]
        return [[solution[v] for v in variables] for solution in result]

    def _run(self, text: str, options: QueryOptions, has_dataset: bool = False) -> Any:

        kwargs: dict[str, Any] = {}
        if options.default_graph_uris:
            kwargs["default_graph"] = graph_nodes(options.default_graph_uris, "default-graph-uri")
        elif not has_dataset and options.union_default_graph:
            # Each dataset lives in its own named graph; a query that names no
            # graph sees them all, as users of a knowledge graph expect
            # (Jena's unionDefaultGraph, GraphDB's default).  FROM / FROM NAMED
            # in the query replace that, as SPARQL 1.1 says.
            kwargs["use_default_graph_as_union"] = True
        if options.named_graph_uris:
            kwargs["named_graphs"] = graph_nodes(options.named_graph_uris, "named-graph-uri")
        try:
            return self._store.query(
                text,
                custom_functions=self._custom_functions(),
                custom_aggregate_functions=self._custom_aggregates(),
                **kwargs,
            )
        except SyntaxError as exc:
            raise QueryError(str(exc), where="query") from exc
        except OSError as exc:
            raise StoreError(str(exc), where="query") from exc

    def _run_limited(self, text: str, options: QueryOptions, deadline: float | None) -> Any:
        """Evaluate under a deadline and a row cap.

        An on-disk store with ``query_workers`` plans here and evaluates in a worker
        process (``query_pool``), killed when the deadline passes: the query really
        stops. Otherwise a thread runs it; on timeout it stops at its next row, but
        Oxigraph cannot be interrupted inside one (an in-memory store cannot be shared
        with another process).
        """
        pool = self._query_pool()
        if pool is not None:
            return self._run_in_pool(pool, text, options, deadline)
        box: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()
        cap = options.max_results

        def work() -> None:
            # pyoxigraph results must die in the thread that made them: keep them out
            # of anything handed over (including exception tracebacks).
            try:
                data = materialise(self._execute(text, options), cap, cancel)
            except BaseException as exc:  # handed to the caller's thread
                box.put(("error", exc.with_traceback(None)))
                return
            box.put(("ok", data))

        worker = threading.Thread(target=work, name="eokg-query", daemon=True)
        worker.start()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            status, payload = box.get(timeout=timeout)
        except queue.Empty:
            cancel.set()  # the worker stops at its next row; Oxigraph cannot be interrupted
            raise QueryTimeout(
                f"query did not finish within {options.timeout_s} s",
                where="query",
                timeout_s=options.timeout_s,
            ) from None
        if status == "error":
            raise payload
        return rebuild(payload)

    def _run_in_pool(
        self, pool: QueryPool, text: str, options: QueryOptions, deadline: float | None
    ) -> Any:
        from eokg.kg.query_pool import Task

        plan = self.plan(text, options)
        task = Task(
            plan.text,
            self._write_lock.revision,
            union_default_graph=(
                options.union_default_graph
                and not options.default_graph_uris
                and not plan.has_dataset
            ),
            default_graphs=tuple(options.default_graph_uris or ()),
            named_graphs=tuple(options.named_graph_uris or ()),
            cap=options.max_results,
        )
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return rebuild(pool.run(task, left))

    def _query_pool(self) -> QueryPool | None:
        """The worker processes, started on first use (on-disk stores only)."""
        if not self.cancels_queries or self.path is None:
            return None
        with self._pool_lock:
            if self._pool is None:
                from eokg.kg.query_pool import QueryPool

                self._pool = QueryPool(self.path, self.query_workers)
            return self._pool

    # --- introspection ------------------------------------------------------------------

    def graphs(self) -> list[str]:
        import pyoxigraph

        return sorted(
            g.value for g in self._store.named_graphs() if isinstance(g, pyoxigraph.NamedNode)
        )

    def geometry_count(self) -> int:
        """Distinct geometry literals indexed that parse (objects of the geometry predicates)."""
        self._fresh_index()
        return len(self._index)

    def spatial_extent(self, graph: str | None = None) -> tuple[float, float, float, float] | None:
        """CRS84 bounding box of a graph's geometries (all graphs when None)."""
        self._fresh_index()
        return self._index.extent(graph)

    def __len__(self) -> int:
        return len(self._store)

    def flush(self) -> None:
        if self.path is not None:
            self._store.flush()
            self._index.flush()

    def close(self) -> None:
        """Release the RocksDB folder and the index file so another process can open them."""
        import gc

        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self.flush()
        self._index.close()
        if self._templates is not None:
            self._templates.close()
        self._store = None  # type: ignore[assignment]
        gc.collect()  # pyoxigraph frees the folder lock only when the Store object dies

    # --- internals --------------------------------------------------------------------

    def _fresh_index(self) -> None:
        """Rebuild the index if it is missing or a write did not finish (a flag check)."""
        if self._index.needs_resync:
            with self._write_lock:
                self._repair_index()

    def _repair_index(self) -> None:
        """``_fresh_index`` for callers that hold the write lock."""
        if self._index.needs_resync:
            self._index.resync(self._geometry_entries())

    def _geometry_entries(self, graphs: Iterable[str] | None = None) -> Iterator[tuple[Any, str]]:
        """``(object, graph key)`` of every geometry triple, or of those in ``graphs``.

        Objects that are not geometry literals are left for the index to ignore.
        """
        names = [None] if graphs is None else [graph_name(g) for g in graphs]
        for predicate in self._geometry_predicates:
            for name in names:
                for quad in self._store.quads_for_pattern(None, predicate, None, name):
                    yield quad.object, graph_key(quad.graph_name)

    def _custom_functions(self) -> dict[Any, Any]:
        if self._functions is None:
            from eokg.kg.functions import custom_functions

            self._functions = custom_functions()
        return self._functions

    def _custom_aggregates(self) -> dict[Any, Any]:
        if self._aggregates is None:
            from eokg.kg.functions import custom_aggregates

            self._aggregates = custom_aggregates()
        return self._aggregates


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a load holds millions of new tuples.

    Each collection walks every live container, so with the index rows of a large
    file alive, collections triggered by allocation made the Python side of a load
    a quarter slower (1M geometries: 5.1 s against 3.9 s to scan).  A load makes
    no reference cycles worth collecting; the collector resumes after it.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class _Unwritten(Exception):
    """Raised inside ``_writing`` with an error known to have left the store as it
    was (Oxigraph's atomic bulk load refused the file): the index stays clean."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _graph_key(name: Any, override: str | None) -> str:
    """The index graph key of a parsed quad's graph; ``override`` is load's ``graph=``."""
    key = graph_key(name)
    return override or key if key == DEFAULT_GRAPH else key


def _regraph(quads: Iterator[Any], to_graph: Any) -> Iterator[Any]:
    import pyoxigraph

    for quad in quads:
        if isinstance(quad.graph_name, pyoxigraph.DefaultGraph):
            yield pyoxigraph.Quad(quad.subject, quad.predicate, quad.object, to_graph)
        else:
            yield quad


def _open(path: Path, gz: bool) -> Any:
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _read_by_oxigraph(plan: tuple[Path, str, bool], to_graph: Any) -> bool:
    """Whether ``bulk_load`` can read the file itself (no quad rewritten on the way)."""
    _, fmt, _ = plan
    return not (fmt in _QUAD_FORMATS and to_graph is not None)


def _check_base_iri(base_iri: str | None) -> None:
    """A base IRI must be an absolute IRI; InputError otherwise."""
    import pyoxigraph

    if base_iri is not None:
        try:
            pyoxigraph.NamedNode(base_iri)
        except ValueError as exc:
            raise InputError(f"not an absolute IRI: {exc}", where="base_iri") from None


_IRI_IN_MESSAGE = re.compile(r"IRI '([^']+)'")


def _line_of_iri(path: Path, gz: bool, message: str) -> int | None:
    """The first line quoting the IRI a parser error names, when the parser gives no
    line (the RDF/XML parser reports attribute values without a position)."""
    found = _IRI_IN_MESSAGE.search(message)
    if not found:
        return None
    iri = found.group(1).encode()
    needles = (b'"' + iri + b'"', b"'" + iri + b"'")
    try:
        with _open(path, gz) as handle:
            for number, line in enumerate(handle, start=1):
                if any(needle in line for needle in needles):
                    return number
    except OSError:
        return None
    return None


def _remove_bulk_leftovers(folder: Path) -> tuple[int, int]:
    """Delete the ``bulk-*.sst`` files a killed bulk load left in a store folder.

    Oxigraph's bulk loader writes its SST files into the store folder and hands
    them to RocksDB (which links them under its own ``NNNNNN.sst`` names) only at
    the end of the call; a failed call deletes its own, a killed one cannot.  Call
    with the folder's RocksDB LOCK held (a read-write ``Store`` open on it): no
    other writer, so no live bulk load, can then exist.  Returns (files, bytes).
    """
    removed = size = 0
    for leftover in folder.glob(_BULK_LEFTOVERS):
        try:
            bytes_ = leftover.stat().st_size
            leftover.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove %s, left by an interrupted load: %s", leftover, exc)
            continue
        removed += 1
        size += bytes_
    if removed:
        log.warning(
            "removed %d temporary file(s), %.1f MB, left in %s by an interrupted load",
            removed,
            size / 1e6,
            folder,
        )
    return removed, size


class _WriteLock:
    """The store's write lock; each release bumps ``revision``.

    Query worker processes hold read-only views of the store and reopen them when
    the revision they were given changes, so a query never misses a write that
    finished before it was asked.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.revision = 0

    def __enter__(self) -> _WriteLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.revision += 1
        self._lock.release()
