"""The local GeoSPARQL store: Oxigraph + the eokg function library + a live R-tree.

``GeoStore`` implements ``SparqlSource``.  Three guarantees the plain
pyoxigraph ``Store`` does not give:

* **atomic, streaming loads**: every file is first parsed end to end (streamed,
  nothing kept), and only when all parse is anything written, with
  ``bulk_load`` (the fast path).  A syntax error on line N of file F raises
  ``RDFParseError`` naming F and N, and the store is untouched;
* **limits**: a query with a timeout or result cap is evaluated in a worker
  thread (Oxigraph releases the GIL while it iterates) and materialised up to
  the cap; the result is handed back as a genuine pyoxigraph result object;
* **spatial index**: selections and joins are rewritten to start from the
  R-tree (see ``rewrite``); the index follows every load and update.

pyoxigraph result objects are bound to the thread that created them: consume
a result in the thread that called ``query``.
"""

from __future__ import annotations

import gzip
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eokg.errors import (
    InputError,
    QueryError,
    QueryTimeout,
    RDFParseError,
    ResultTooLarge,
    StoreError,
)
from eokg.kg.source import LoadReport, QueryOptions
from eokg.kg.spatial_index import DEFAULT_GRAPH, SpatialIndex
from eokg.ontologies.namespaces import GEO

if TYPE_CHECKING:
    from eokg.config import StoreSettings
    from eokg.kg.rewrite import RewriteReport

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
# Updates that cannot touch a geometry triple: no variables, no graph management,
# no geometry predicate.  Anything else makes the index rescan lazily.
_GRAPH_OPS = re.compile(r"\b(CLEAR|DROP|LOAD|MOVE|COPY|ADD|CREATE)\b", re.IGNORECASE)
_GEOMETRY_WORDS = ("asWKT", "asGeoJSON")
# Geometry literals a load keeps for the index before falling back to a rescan.
_MAX_PENDING_GEOMETRIES = 2_000_000


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
        try:
            self._store = pyoxigraph.Store(str(self.path) if self.path else None)
        except OSError as exc:
            raise StoreError(f"cannot open the store: {exc}", where=str(path)) from exc
        self._index = SpatialIndex()  # stale: the first spatial query scans the store
        self._write_lock = threading.Lock()
        self._functions: dict[Any, Any] | None = None
        self._aggregates: dict[Any, Any] | None = None
        self.last_rewrite: RewriteReport | None = None

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> GeoStore:
        return cls(settings.path)

    @property
    def raw(self) -> Any:
        """The underlying pyoxigraph ``Store`` (reads only: writes would bypass the index)."""
        return self._store

    # --- loading ----------------------------------------------------------------------

    def load(
        self, paths: Iterable[Path], *, graph: str | None = None, format: str | None = None
    ) -> LoadReport:
        """Load RDF files atomically: all of them, or (on any parse error) none."""
        import pyoxigraph

        started = time.perf_counter()
        files = [Path(p) for p in paths]
        plans = [(path, *_format_of(path, format)) for path in files]
        to_graph = pyoxigraph.NamedNode(graph) if graph else None
        geometry_predicates = {
            pyoxigraph.NamedNode(GEO + "asWKT"),
            pyoxigraph.NamedNode(GEO + "asGeoJSON"),
        }
        entries: list[tuple[Any, str]] = []
        overflow = False  # too many to hold: the index rescans the store instead
        geometries = 0
        triples = 0
        graphs: set[str] = set()
        # Pass 1: parse everything, write nothing.
        for path, fmt, gz in plans:
            for quad in self._parse(path, fmt, gz):
                triples += 1
                if quad.predicate in geometry_predicates and isinstance(
                    quad.object, pyoxigraph.Literal
                ):
                    geometries += 1
                    if not overflow:
                        entries.append((quad.object, _graph_key(quad.graph_name, graph)))
                        if len(entries) > _MAX_PENDING_GEOMETRIES:
                            overflow = True
                            entries.clear()
                if fmt in _QUAD_FORMATS and not isinstance(
                    quad.graph_name, pyoxigraph.DefaultGraph
                ):
                    graphs.add(quad.graph_name.value)
        if graph:
            graphs.add(graph)
        # Pass 2: the files are known good; write them at bulk speed.
        with self._write_lock:
            for path, fmt, gz in plans:
                rdf_format = getattr(pyoxigraph.RdfFormat, fmt)
                try:
                    if fmt in _QUAD_FORMATS and to_graph is not None:
                        # graph= applies to the default-graph part of a quad file
                        self._store.bulk_extend(_regraph(self._parse(path, fmt, gz), to_graph))
                    else:
                        with _open(path, gz) as handle:
                            self._store.bulk_load(
                                handle,
                                rdf_format,
                                to_graph=to_graph if fmt not in _QUAD_FORMATS else None,
                            )
                except OSError as exc:
                    raise StoreError(f"write failed: {exc}", where=str(path)) from exc
            if overflow:
                self._index.stale = True
            elif not self._index.stale:
                self._index.add(entries)
        return LoadReport(
            files=tuple(str(p) for p in files),
            triples=triples,
            graphs=tuple(sorted(graphs)),
            geometries_indexed=geometries,
            seconds=time.perf_counter() - started,
        )

    @staticmethod
    def _parse(path: Path, fmt: str, gz: bool) -> Iterator[Any]:
        import pyoxigraph

        try:
            with _open(path, gz) as handle:
                yield from pyoxigraph.parse(handle, getattr(pyoxigraph.RdfFormat, fmt))
        except SyntaxError as exc:
            line = exc.lineno
            where = f"{path}:{line}" if line else str(path)
            raise RDFParseError(
                str(exc.args[0] if exc.args else exc),
                where=where,
                file=str(path),
                line=line,
                column=exc.offset,
            ) from exc
        except OSError as exc:
            raise InputError(f"cannot read: {exc}", where=str(path)) from exc

    # --- updates ----------------------------------------------------------------------

    def update(self, sparql: str, options: QueryOptions | None = None) -> None:
        """Apply a SPARQL UPDATE atomically; the spatial index follows."""
        with self._write_lock:
            try:
                self._store.update(
                    sparql,
                    custom_functions=self._custom_functions(),
                    custom_aggregate_functions=self._custom_aggregates(),
                )
            except SyntaxError as exc:
                raise QueryError(str(exc), where="update") from exc
            except OSError as exc:
                raise StoreError(str(exc), where="update") from exc
            if _may_touch_geometry(sparql):
                self._index.stale = True

    # --- queries ----------------------------------------------------------------------

    def query(self, sparql: str, options: QueryOptions | None = None) -> Any:
        """Evaluate a query; results are pyoxigraph result objects."""
        options = options or QueryOptions()
        deadline = time.monotonic() + options.timeout_s if options.timeout_s else None
        text = self._prepare(sparql, options)
        if deadline is None and options.max_results is None:
            return self._run(text, options)
        return self._run_limited(text, options, deadline)

    def _prepare(self, sparql: str, options: QueryOptions) -> str:
        from eokg.kg.rewrite import expand_properties, rewrite

        if not options.use_index:
            text, _ = expand_properties(sparql)
            self.last_rewrite = None
            return text
        self._fresh_index()
        report = rewrite(sparql, self._index)
        self.last_rewrite = report
        return report.text

    def _run(self, text: str, options: QueryOptions) -> Any:
        import pyoxigraph

        kwargs: dict[str, Any] = {}
        if options.default_graph_uris:
            kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in options.default_graph_uris]
        else:
            # Each dataset lives in its own named graph; a query that names no
            # graph sees them all, as users of a knowledge graph expect
            # (Jena's unionDefaultGraph, GraphDB's default).
            kwargs["use_default_graph_as_union"] = True
        if options.named_graph_uris:
            kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in options.named_graph_uris]
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
        """Evaluate in a worker thread, materialising at most ``max_results`` rows."""
        box: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()
        cap = options.max_results

        def work() -> None:
            # pyoxigraph results must die in the thread that made them: keep them out
            # of anything handed over (including exception tracebacks).
            try:
                data = _materialise(self._run(text, options), cap, cancel)
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
        return _rebuild(payload)

    # --- introspection ------------------------------------------------------------------

    def graphs(self) -> list[str]:
        import pyoxigraph

        return sorted(
            g.value for g in self._store.named_graphs() if isinstance(g, pyoxigraph.NamedNode)
        )

    def geometry_count(self) -> int:
        """Distinct geometry literals indexed (objects of geo:asWKT / geo:asGeoJSON)."""
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

    # --- internals --------------------------------------------------------------------

    def _fresh_index(self) -> None:
        if self._index.stale:
            with self._write_lock:
                if self._index.stale:
                    self._index.resync(self._geometry_entries())

    def _geometry_entries(self) -> Iterator[tuple[Any, str]]:
        import pyoxigraph

        for predicate in ("asWKT", "asGeoJSON"):
            node = pyoxigraph.NamedNode(GEO + predicate)
            for quad in self._store.quads_for_pattern(None, node, None, None):
                if isinstance(quad.object, pyoxigraph.Literal):
                    yield quad.object, _graph_key(quad.graph_name, None)

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


def _graph_key(graph_name: Any, override: str | None) -> str:
    import pyoxigraph

    if isinstance(graph_name, pyoxigraph.DefaultGraph):
        return override or DEFAULT_GRAPH
    return str(getattr(graph_name, "value", graph_name))


def _regraph(quads: Iterator[Any], to_graph: Any) -> Iterator[Any]:
    import pyoxigraph

    for quad in quads:
        if isinstance(quad.graph_name, pyoxigraph.DefaultGraph):
            yield pyoxigraph.Quad(quad.subject, quad.predicate, quad.object, to_graph)
        else:
            yield quad


def _open(path: Path, gz: bool) -> Any:
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _may_touch_geometry(update: str) -> bool:
    if any(word in update for word in _GEOMETRY_WORDS):
        return True
    return bool("?" in update or "$" in update or _GRAPH_OPS.search(update))


def _materialise(result: Any, cap: int | None, cancel: threading.Event) -> tuple[str, Any, Any]:
    """Read a result to the end in this (worker) thread as plain, thread-free data."""
    try:
        return _read_all(result, cap, cancel)
    finally:
        del result


def _read_all(result: Any, cap: int | None, cancel: threading.Event) -> tuple[str, Any, Any]:
    import pyoxigraph

    if isinstance(result, pyoxigraph.QueryBoolean):
        return "boolean", bool(result), None
    if isinstance(result, pyoxigraph.QuerySolutions):
        variables = [v.value for v in result.variables]
        rows = []
        for solution in result:
            if cancel.is_set():
                return "cancelled", None, None
            rows.append([solution[v] for v in variables])
            if cap is not None and len(rows) > cap:
                raise ResultTooLarge(
                    f"more than {cap} results", where="query", max_results=cap
                ) from None
        return "solutions", variables, rows
    triples = []
    for triple in result:
        if cancel.is_set():
            return "cancelled", None, None
        triples.append(triple)
        if cap is not None and len(triples) > cap:
            raise ResultTooLarge(
                f"more than {cap} triples", where="query", max_results=cap
            ) from None
    return "triples", None, triples


def _rebuild(payload: tuple[str, Any, Any]) -> Any:
    """Turn materialised data back into pyoxigraph result objects in the caller's thread."""
    import json

    import pyoxigraph

    kind, head, body = payload
    fmt = pyoxigraph.QueryResultsFormat.JSON
    if kind == "boolean":
        return pyoxigraph.parse_query_results(json.dumps({"head": {}, "boolean": head}), fmt)
    if kind == "solutions":
        bindings = [
            {var: _term_json(term) for var, term in zip(head, row, strict=True) if term is not None}
            for row in body
        ]
        document = {"head": {"vars": head}, "results": {"bindings": bindings}}
        return pyoxigraph.parse_query_results(json.dumps(document), fmt)
    return MaterialisedTriples(body)


def _term_json(term: Any) -> dict[str, Any]:
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, pyoxigraph.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, pyoxigraph.Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        else:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, pyoxigraph.Triple):
        return {
            "type": "triple",
            "value": {
                "subject": _term_json(term.subject),
                "predicate": _term_json(term.predicate),
                "object": _term_json(term.object),
            },
        }
    raise StoreError(f"unexpected term {term!r}", where="query")


class MaterialisedTriples:
    """CONSTRUCT/DESCRIBE results read under limits; iterates and serialises like QueryTriples."""

    def __init__(self, triples: list[Any]) -> None:
        self._triples = triples

    def __iter__(self) -> Iterator[Any]:
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    def serialize(self, output: Any = None, format: Any = None) -> bytes | None:
        import pyoxigraph

        return pyoxigraph.serialize(self._triples, output, format or pyoxigraph.RdfFormat.N_TRIPLES)
