"""A remote SPARQL 1.1 endpoint behind the ``SparqlSource`` protocol.

GraphDB, Jena Fuseki, Virtuoso, an Oxigraph server or another eokg all speak the
SPARQL 1.1 Protocol, so one small HTTP client covers them.  Results are parsed
back into pyoxigraph objects as they stream in, so the HTTP endpoint, the
federation engine and the ML dataset builder cannot tell a remote source from
the embedded store.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from eokg.errors import (
    EokgError,
    QueryError,
    QueryTimeout,
    RDFParseError,
    RequestTooLarge,
    ResultTooLarge,
    SourceUnavailable,
    Unauthorized,
)
from eokg.kg.service_policy import refuse_cross_origin_redirect
from eokg.kg.source import LoadReport, QueryOptions

log = logging.getLogger(__name__)

#: What we ask for: a results format for SELECT/ASK and a triples format for
#: CONSTRUCT/DESCRIBE; the server picks whichever fits the query form.
QUERY_ACCEPT = (
    "application/sparql-results+json, application/n-triples;q=0.95, "
    "application/sparql-results+xml;q=0.9, text/tab-separated-values;q=0.8, "
    "text/turtle;q=0.7"
)
_RESULTS_TYPES = {
    "application/sparql-results+json": "JSON",
    "application/json": "JSON",
    "application/sparql-results+xml": "XML",
    "application/xml": "XML",
    "text/tab-separated-values": "TSV",
}
_MESSAGE_LIMIT = 2000


class _ResponseReader(io.RawIOBase):
    """A file-like view of a streamed httpx response, closed once drained.

    pyoxigraph's parsers read from a file object, so wrapping the byte stream
    lets results be parsed while they are still arriving.
    """

    def __init__(self, response: Any, where: str) -> None:
        self._response = response
        self._chunks = response.iter_bytes()
        self._pending = b""
        self._done = False
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        import httpx

        while not self._pending:
            if self._done:
                return 0
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                # Release the connection now, but stay readable: parsers read
                # again after the end and must see EOF, not a closed file.
                self._done = True
                self._response.close()
                return 0
            except httpx.HTTPError as exc:
                self._done = True
                self._response.close()
                raise SourceUnavailable(
                    f"the endpoint stopped sending results: {exc}", where=self._where
                ) from exc
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class RemoteTriples:
    """CONSTRUCT/DESCRIBE triples from a remote endpoint, shaped like ``QueryTriples``."""

    def __init__(self, quads: Iterable[Any]) -> None:
        self._quads = quads

    def __iter__(self) -> Iterator[Any]:
        for quad in self._quads:
            yield quad.triple

    def serialize(self, output: BinaryIO | None = None, format: Any = None) -> bytes | None:
        import pyoxigraph

        return pyoxigraph.serialize(iter(self), output, format)


class RemoteSparqlSource:
    """A SPARQL 1.1 Protocol endpoint, queried over HTTP with httpx.

    ``update_url`` defaults to ``query_url`` (the usual single-endpoint setup).
    ``graph_store_url``, when given, makes ``load`` upload each file with the
    Graph Store Protocol instead of one streamed ``INSERT DATA`` request.
    """

    def __init__(
        self,
        query_url: str,
        update_url: str | None = None,
        *,
        timeout_s: float = 60.0,
        headers: Mapping[str, str] | None = None,
        graph_store_url: str | None = None,
        name: str | None = None,
    ) -> None:
        import httpx

        self.query_url = query_url
        self.update_url = update_url or query_url
        self.graph_store_url = graph_store_url
        self.timeout_s = timeout_s
        self.name = name or query_url
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            # same-origin redirects only: an endpoint must not bounce requests elsewhere
            follow_redirects=True,
            event_hooks={"response": [refuse_cross_origin_redirect]},
        )

    # ------------------------------------------------------------------ protocol

    def query(self, sparql: str, options: QueryOptions | None = None) -> Any:
        """POST the query; return ``QuerySolutions``, ``QueryBoolean`` or ``RemoteTriples``.

        SELECT results stream: rows are parsed as the caller iterates, and the
        HTTP response is closed when they run out.
        """
        import pyoxigraph

        options = options or QueryOptions()
        params = [("default-graph-uri", g) for g in options.default_graph_uris]
        params += [("named-graph-uri", g) for g in options.named_graph_uris]
        response = self._send(
            self.query_url,
            sparql,
            "application/sparql-query",
            params,
            accept=QUERY_ACCEPT,
            timeout_s=options.timeout_s,
            stream=True,
        )
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        reader = io.BufferedReader(_ResponseReader(response, self.query_url))
        try:
            if media_type in _RESULTS_TYPES:
                fmt = getattr(pyoxigraph.QueryResultsFormat, _RESULTS_TYPES[media_type])
                return pyoxigraph.parse_query_results(reader, fmt)
            rdf_format = pyoxigraph.RdfFormat.from_media_type(media_type)
            if rdf_format is not None:
                return RemoteTriples(pyoxigraph.parse(reader, rdf_format))
        except SyntaxError as exc:
            reader.close()
            raise SourceUnavailable(
                f"the endpoint sent unreadable {media_type} results: {exc}", where=self.query_url
            ) from exc
        reader.close()
        raise SourceUnavailable(
            f"the endpoint answered with unsupported content type {media_type!r}",
            where=self.query_url,
        )

    def update(self, sparql: str, options: QueryOptions | None = None) -> None:
        options = options or QueryOptions()
        params = [("using-graph-uri", g) for g in options.default_graph_uris]
        params += [("using-named-graph-uri", g) for g in options.named_graph_uris]
        self._send(
            self.update_url,
            sparql,
            "application/sparql-update",
            params,
            timeout_s=options.timeout_s,
        ).close()

    def load(
        self,
        paths: Iterable[Path],
        *,
        graph: str | None = None,
        format: str | None = None,
        base_iri: str | None = None,
    ) -> LoadReport:
        """Check every file parses, then send them all in one streamed update.

        One ``INSERT DATA`` request for all files keeps the load atomic on any
        endpoint that applies an update atomically, and blank nodes are renamed
        per file so that ``_:b1`` in two files stays two nodes.  With a Graph
        Store URL each file is one atomic POST instead (not with ``base_iri``: the
        files are then resolved here and sent as one update).
        """
        started = time.monotonic()
        files = [Path(p) for p in paths]
        total = 0
        graphs: set[str] = set()
        for path in files:
            count, file_graphs = _check_file(path, format, graph, base_iri)
            total += count
            graphs |= file_graphs
        if (
            base_iri is None
            and self.graph_store_url is not None
            and all(not _rdf_format(p, format).supports_datasets for p in files)
        ):
            for path in files:
                self._post_graph_store(path, format, graph)
        else:
            body = _insert_data_stream(files, format, graph, base_iri=base_iri)
            self._send(
                self.update_url, body, "application/sparql-update", [], timeout_s=None
            ).close()
        return LoadReport(
            files=tuple(str(p) for p in files),
            triples=total,
            graphs=tuple(sorted(graphs)),
            seconds=time.monotonic() - started,
        )

    def graphs(self) -> list[str]:
        result = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        return sorted(row["g"].value for row in result)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteSparqlSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteSparqlSource({self.query_url!r})"

    # ------------------------------------------------------------------ HTTP

    def _send(
        self,
        url: str,
        body: str | bytes | Iterator[bytes],
        content_type: str,
        params: Sequence[tuple[str, str]],
        *,
        accept: str | None = None,
        timeout_s: float | None = None,
        stream: bool = False,
    ) -> Any:
        """POST ``body``; return the (open) response or raise the matching eokg error."""
        import httpx

        headers = {"Content-Type": f"{content_type}; charset=utf-8"}
        if accept:
            headers["Accept"] = accept
        content = body.encode("utf-8") if isinstance(body, str) else body
        request = self._client.build_request(
            "POST",
            url,
            params=list(params),
            content=content,
            headers=headers,
            timeout=httpx.Timeout(timeout_s) if timeout_s else httpx.USE_CLIENT_DEFAULT,
        )
        try:
            response = self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(
                f"no answer within {timeout_s or self.timeout_s} s", where=url
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"cannot reach the endpoint: {exc}", where=url) from exc
        if response.status_code < 300:
            return response
        if stream:
            response.read()
        response.close()
        raise _error_for(response, url)

    def _post_graph_store(self, path: Path, format: str | None, graph: str | None) -> None:
        rdf_format = _rdf_format(path, format)
        params = [("graph", graph)] if graph else [("default", "")]

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while block := handle.read(1 << 16):
                    yield block

        assert self.graph_store_url is not None
        self._send(self.graph_store_url, chunks(), rdf_format.media_type, params).close()


def _error_for(response: Any, url: str) -> EokgError:
    """Turn a failed response into the eokg error a caller can act on.

    An eokg endpoint says exactly what went wrong in its problem document's
    ``code``; for other servers the status (and a word of the text) decide.
    """
    status = response.status_code
    message, code = _message(response)
    where = f"{url} (HTTP {status})"
    by_code: dict[str, type[EokgError]] = {
        "bad-query": QueryError,
        "query-timeout": QueryTimeout,
        "result-too-large": ResultTooLarge,
        "request-too-large": RequestTooLarge,
    }
    if code in by_code:
        return by_code[code](message, where=where)
    if status == 400:
        return QueryError(message, where=where)
    if status in (401, 403):
        return Unauthorized(message, where=where)
    if status == 413:
        return RequestTooLarge(message, where=where)
    if status == 503 and "timeout" in message.lower().replace(" ", ""):
        return QueryTimeout(message, where=where)
    return SourceUnavailable(message or "the endpoint failed", where=where)


def _message(response: Any) -> tuple[str, str | None]:
    """(human message, problem code or None) from an error response."""
    text = response.text.strip()
    if "json" in response.headers.get("content-type", ""):
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if isinstance(problem, dict) and isinstance(problem.get("detail"), str):
            code = problem.get("code")
            return problem["detail"], code if isinstance(code, str) else None
    return text[:_MESSAGE_LIMIT], None


# ---------------------------------------------------------------------- loading


def _rdf_format(path: Path, format: str | None) -> Any:
    """The pyoxigraph format for a file: ``format`` (same names as the embedded store,
    an extension or a media type), else the file's extension."""
    import pyoxigraph

    from eokg.kg.store import FORMAT_NAMES

    if format:
        name = FORMAT_NAMES.get(format.lower())
        found = (
            getattr(pyoxigraph.RdfFormat, name)
            if name
            else pyoxigraph.RdfFormat.from_extension(format.lstrip("."))
            or pyoxigraph.RdfFormat.from_media_type(format)
        )
        if found is None:
            raise RDFParseError(f"unknown RDF format {format!r}", where=str(path))
        return found
    found = pyoxigraph.RdfFormat.from_extension(path.suffix.lstrip("."))
    if found is None:
        raise RDFParseError(
            f"cannot tell the RDF format from the extension {path.suffix!r}; pass a format",
            where=str(path),
        )
    return found


def _parse(path: Path, format: str | None, base_iri: str | None = None) -> Iterator[Any]:
    """Parse one file into quads, turning syntax errors into ``RDFParseError`` at file:line."""
    import pyoxigraph

    if not path.is_file():
        raise RDFParseError("no such file", where=str(path))
    try:
        yield from pyoxigraph.parse(
            path=path,
            format=_rdf_format(path, format),
            base_iri=base_iri,
            rename_blank_nodes=True,
        )
    except SyntaxError as exc:
        line = exc.lineno if exc.lineno is not None else "?"
        raise RDFParseError(exc.msg or str(exc), where=f"{path}:{line}") from exc


def _check_file(
    path: Path, format: str | None, graph: str | None, base_iri: str | None = None
) -> tuple[int, set[str]]:
    count = 0
    graphs: set[str] = {graph} if graph else set()
    for quad in _parse(path, format, base_iri):
        count += 1
        if graph is None and type(quad.graph_name).__name__ != "DefaultGraph":
            graphs.add(quad.graph_name.value)
    return count, graphs


def _insert_data_stream(
    files: list[Path],
    format: str | None,
    graph: str | None,
    batch: int = 2000,
    *,
    base_iri: str | None = None,
) -> Iterator[bytes]:
    """One ``INSERT DATA`` update for all files, produced while it is being sent."""
    yield b"INSERT DATA {\n"
    for path in files:
        current: str | None = None  # graph of the open GRAPH block, "" for default
        lines: list[str] = []
        for quad in _parse(path, format, base_iri):
            target = graph
            if target is None and type(quad.graph_name).__name__ != "DefaultGraph":
                target = quad.graph_name.value
            target = target or ""
            if target != current:
                if current:
                    lines.append("}\n")
                if target:
                    lines.append(f"GRAPH <{target}> {{\n")
                current = target
            lines.append(f"{quad.subject} {quad.predicate} {quad.object} .\n")
            if len(lines) >= batch:
                yield "".join(lines).encode("utf-8")
                lines = []
        if current:
            lines.append("}\n")
        yield "".join(lines).encode("utf-8")
    yield b"}\n"
