"""The SPARQL 1.1 Protocol endpoint at ``/sparql`` and the VoID document at ``/void``.

Queries run on a worker thread of their own: pyoxigraph result iterators may
only be used on the thread that created them, and a thread lets the event loop
give up on a query that runs past ``api.query_timeout_s`` (503) while other
requests carry on.  The worker writes the response in the negotiated format and
hands it over in chunks through a small bounded pipe, so results stream with
constant memory.  Errors found before the first byte (syntax, timeout, too many
results within the first page) become problem documents; an error after the
first byte can only abort the connection, which clients see as a truncated
response rather than a silently short result.

Before a query or update runs, ``kg/service_policy.py`` checks every SERVICE and
LOAD target it names against ``settings.outbound`` (403 ``target-forbidden``):
SERVICE needs the API key unless ``outbound.anonymous_service`` is on.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from eokg.api import openapi_docs as docs
from eokg.api.urls import public_root
from eokg.config import StoreSettings
from eokg.errors import (
    EokgError,
    NotAcceptable,
    QueryError,
    QueryTimeout,
    RequestTooLarge,
    StoreError,
    Unauthorized,
    UnsupportedMediaType,
    WritesDisabled,
)
from eokg.kg.results import (
    FORMAT_NAMES,
    RDF_MEDIA_TYPES,
    RESULTS_MEDIA_TYPES,
    guarded,
    result_kind,
    variable_names,
    write_boolean,
    write_solutions,
    write_triples,
)
from eokg.kg.service_policy import OutboundPolicy
from eokg.kg.source import QueryOptions
from eokg.kg.sparql_syntax import check_limits, warm_up

log = logging.getLogger(__name__)

router = APIRouter(tags=["sparql"])

FORM = "application/x-www-form-urlencoded"
#: The form type as the W3C protocol tests' descriptions misspell it (validators send it so).
MISSPELT_FORM = "application/x-www-url-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
#: Bytes handed to the event loop at a time.
CHUNK_BYTES = 1 << 16
#: Chunks the worker may run ahead of a slow client.
PIPE_DEPTH = 8
#: Seconds a service description stays cached (an update clears it at once).
DESCRIPTION_TTL_S = 60.0


def setup(app: FastAPI) -> None:
    """Open the store named by the settings unless the caller handed one in."""
    if getattr(app.state, "store", None) is None:
        from eokg.kg.open import open_source

        app.state.store = open_source(app.state.settings.store)
    app.state.sparql_descriptions = {}
    warm_up()  # the grammar's first-use cost at startup, not in the first request


# ------------------------------------------------------------------ negotiation


def _accept_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media_range = fields[0].lower()
        if not media_range:
            continue
        quality = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range, quality))
    return ranges


def negotiate(accept: str | None, offered: Sequence[str]) -> str | None:
    """The offered type the client rates highest (ties: server order); None if none fits.

    The most specific matching range decides a type's quality, as RFC 9110 says:
    ``text/csv;q=0, */*`` excludes CSV but takes anything else.
    """
    if not accept or not accept.strip():
        return offered[0] if offered else None
    ranges = _accept_ranges(accept)
    best, best_quality = None, 0.0
    for offer in offered:
        major = offer.split("/")[0]
        specificity, quality = -1, 0.0
        for media_range, q in ranges:
            if media_range == offer:
                rank = 2
            elif media_range == f"{major}/*":
                rank = 1
            elif media_range in ("*/*", "*"):
                rank = 0
            else:
                continue
            if rank > specificity:
                specificity, quality = rank, q
        if quality > best_quality:
            best, best_quality = offer, quality
    return best


def accept_of(request: Request, params: dict[str, list[str]]) -> str:
    """``?format=csv`` (handy in a browser) overrides the Accept header."""
    names = params.get("format") or request.query_params.getlist("format")
    if names:
        return ", ".join(FORMAT_NAMES.get(n.lower(), n) for n in names)
    return request.headers.get("accept", "")


# ------------------------------------------------------------------ worker pipe


class _Cancelled(Exception):
    """The client went away or the query timed out: stop producing."""


class _Pipe:
    """Worker thread -> event loop, with back-pressure and cancellation."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._slots = threading.Semaphore(PIPE_DEPTH)
        self.cancelled = threading.Event()

    def send(self, kind: str, value: Any = None) -> None:
        """Called by the worker; blocks while the client is behind."""
        while not self._slots.acquire(timeout=0.25):
            if self.cancelled.is_set():
                raise _Cancelled
        if self.cancelled.is_set():
            raise _Cancelled
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError as exc:  # the loop is closed: nobody is listening
            raise _Cancelled from exc

    async def receive(self, timeout: float | None = None) -> tuple[str, Any]:
        item = await asyncio.wait_for(self._queue.get(), timeout)
        self._slots.release()
        return item

    def cancel(self) -> None:
        self.cancelled.set()


class _ChunkWriter:
    """A binary file object that forwards what it is given in ~64 KiB chunks."""

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._pipe.send("chunk", bytes(self._buffer))
            self._buffer.clear()


def _as_eokg_error(exc: BaseException) -> EokgError:
    if isinstance(exc, EokgError):
        return exc
    if isinstance(exc, SyntaxError):
        return QueryError(str(exc), where="query")
    return StoreError(f"the store failed: {exc}", where="/sparql")


def _produce(
    pipe: _Pipe,
    source: Any,
    sparql: str,
    options: QueryOptions,
    accept: str,
    deadline: float,
    max_results: int,
    prefetch: int,
) -> None:
    """Evaluate and serialise one query on this thread (see the module docstring).

    The result lives only in ``_send``'s frame, made after the store returned:
    frames alive while the store worked (rdflib's parser keeps tracebacks of
    them in reference cycles) must not hold it, or the garbage collector frees
    it later on another thread, which pyoxigraph refuses.
    """
    try:
        _send(pipe, source.query(sparql, options), accept, deadline, max_results, prefetch)
    except _Cancelled:
        return
    except BaseException as exc:
        if not isinstance(exc, EokgError):
            log.exception("query failed in the store")
        error = _detached(exc)
        del exc
        try:
            pipe.send("error", error)
        except _Cancelled:
            return


def _send(
    pipe: _Pipe,
    result: Any,
    accept: str,
    deadline: float,
    max_results: int,
    prefetch: int,
) -> None:
    """Serialise ``result`` into ``pipe`` (head, chunks, end), limits enforced."""
    kind = result_kind(result)
    offered = RDF_MEDIA_TYPES if kind == "triples" else RESULTS_MEDIA_TYPES
    media_type = negotiate(accept, offered)
    if media_type is None:
        form = "CONSTRUCT/DESCRIBE" if kind == "triples" else "SELECT/ASK"
        raise NotAcceptable(f"{form} results are available as {', '.join(offered)}", where="Accept")
    if kind == "boolean":
        pipe.send("head", media_type)
        pipe.send("chunk", write_boolean(bool(result), media_type))
        pipe.send("end")
        return
    rows = guarded(
        result,
        deadline=deadline,
        max_results=max_results,
        cancelled=pipe.cancelled.is_set,
    )
    # Everything up to the first page is computed before the status line is
    # sent, so limits hit there still produce a proper problem response.
    first = list(itertools.islice(rows, prefetch))
    pipe.send("head", media_type)
    stream = itertools.chain(first, rows)
    writer = _ChunkWriter(pipe)
    if kind == "solutions":
        for piece in write_solutions(variable_names(result), stream, media_type):
            writer.write(piece)
    else:
        from eokg.ontologies.namespaces import PREFIXES

        write_triples(stream, media_type, writer, prefixes=PREFIXES)
    writer.flush()
    pipe.send("end")


def _detached(exc: BaseException) -> EokgError:
    """The eokg error for ``exc``, with every traceback it carries dropped.

    Tracebacks keep the frames of the worker thread alive, and those frames hold
    pyoxigraph results, which must be freed on the thread that made them:
    pyoxigraph aborts the process if one is dropped anywhere else.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    error = _as_eokg_error(exc)
    error.__traceback__ = None
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


async def _stream(pipe: _Pipe) -> AsyncIterator[bytes]:
    try:
        while True:
            kind, value = await pipe.receive()
            if kind == "chunk":
                yield value
            elif kind == "end":
                return
            else:
                log.warning("aborting a streamed SPARQL response: %s", value)
                raise value
    finally:
        pipe.cancel()


async def _run_query(request: Request, sparql: str, options: QueryOptions, accept: str) -> Any:
    settings = request.app.state.settings
    await check_query_targets(request, sparql)
    timeout_s = settings.api.query_timeout_s
    if negotiate(accept, (*RESULTS_MEDIA_TYPES, *RDF_MEDIA_TYPES)) is None:
        raise NotAcceptable(
            "this endpoint serves " + ", ".join((*RESULTS_MEDIA_TYPES, *RDF_MEDIA_TYPES)),
            where="Accept",
        )
    # The limits are enforced here, row by row, while the result streams; handing
    # them to the store as well would only make it buffer the result to apply them.
    max_results = settings.api.max_results
    prefetch = min(max_results + 1, max(settings.store.page_size, 1))
    deadline = time.monotonic() + timeout_s
    if getattr(request.app.state.store, "cancels_queries", False):
        # The store evaluates in worker processes and kills one whose query runs out
        # of time; it reads at most max_results rows there, then they stream from here.
        options = replace(options, timeout_s=timeout_s, max_results=max_results)
    pipe = _Pipe(asyncio.get_running_loop())
    worker = threading.Thread(
        target=_produce,
        args=(
            pipe,
            request.app.state.store,
            sparql,
            options,
            accept,
            deadline,
            max_results,
            prefetch,
        ),
        name="eokg-sparql-query",
        daemon=True,
    )
    worker.start()
    try:
        kind, value = await pipe.receive(timeout=max(deadline - time.monotonic(), 0.0))
    except TimeoutError:
        pipe.cancel()
        raise QueryTimeout(
            f"the query did not finish within {timeout_s:g} s",
            where="/sparql",
            timeout_s=timeout_s,
        ) from None
    except BaseException:
        pipe.cancel()
        raise
    if kind == "error":
        raise value
    return StreamingResponse(_stream(pipe), media_type=value)


# ------------------------------------------------------------------ requests


async def read_body(request: Request, *, where: str = "/sparql") -> bytes:
    """The body, refused with 413 as soon as it passes ``api.max_request_bytes``."""
    limit = request.app.state.settings.api.max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(
            f"the request body has {declared} bytes; the limit is {limit}",
            where=where,
            max_request_bytes=limit,
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestTooLarge(
                f"the request body is over the limit of {limit} bytes",
                where=where,
                max_request_bytes=limit,
            )
    return bytes(body)


def decode_text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QueryError(f"not UTF-8 at byte {exc.start}", where=where) from exc


def form_params(body: bytes, url_params: dict[str, list[str]]) -> dict[str, list[str]]:
    """An urlencoded form body's fields, plus those of the URL (the protocol allows both)."""
    params = parse_qs(decode_text(body, "form"), keep_blank_values=True)
    for key, values in url_params.items():
        params.setdefault(key, []).extend(values)
    return params


def single_param(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise QueryError(f"give one '{name}' parameter, not {len(values)}", where=name)
    return values[0] if values else None


def _options(
    params: dict[str, list[str]], default: str, named: str, store: StoreSettings | None = None
) -> QueryOptions:
    return QueryOptions(
        default_graph_uris=list(params.get(default, [])),
        named_graph_uris=list(params.get(named, [])),
        entailment=store.entailment if store else True,
        union_default_graph=store.union_default_graph if store else True,
    )


def _wants_explain(params: dict[str, list[str]]) -> bool:
    value = single_param(params, "explain")
    return value is not None and value.lower() in ("", "1", "true", "yes")


async def _explain(request: Request, sparql: str, options: QueryOptions) -> Response:
    """The plan of a query (which operators used the index, set sizes, times), as JSON."""
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    store = request.app.state.store
    if not callable(getattr(store, "explain", None)):
        raise QueryError("explain needs the local GeoSPARQL store", where="explain")
    await check_query_targets(request, sparql)  # explaining runs the query
    timeout_s = request.app.state.settings.api.query_timeout_s
    try:
        report = await asyncio.wait_for(
            run_in_threadpool(store.explain, sparql, options), timeout=timeout_s
        )
    except TimeoutError:
        raise QueryTimeout(
            f"the query did not finish within {timeout_s:g} s",
            where="explain",
            timeout_s=timeout_s,
        ) from None
    return JSONResponse(report)


def _given_key(request: Request) -> str | None:
    """The key sent as ``X-API-Key`` or ``Authorization: Bearer <key>``, if any."""
    given = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if given is None and scheme.lower() == "bearer":
        given = token.strip()
    return given or None


def has_api_key(request: Request) -> bool:
    """True when the request carries the configured API key (False if none is configured)."""
    key = request.app.state.settings.api.api_key
    given = _given_key(request)
    return bool(key) and given is not None and hmac.compare_digest(given.encode(), key.encode())


def require_api_key(request: Request, what: str = "SPARQL UPDATE") -> None:
    """WritesDisabled (403) without a configured key, Unauthorized (401) without it."""
    key = request.app.state.settings.api.api_key
    if not key:
        raise WritesDisabled(
            f"{what} is disabled: no API key is configured (api.api_key)",
            where=request.url.path,
        )
    if not has_api_key(request):
        raise Unauthorized(
            f"{what} needs the API key, as 'Authorization: Bearer <key>' or 'X-API-Key'",
            where=request.url.path,
        )


def outbound_policy(request: Request) -> OutboundPolicy:
    """The SERVICE/LOAD policy of ``settings.outbound`` (see ``kg/service_policy.py``)."""
    return OutboundPolicy.from_settings(request.app.state.settings)


async def check_query_targets(request: Request, sparql: str, *, free: Sequence[str] = ()) -> None:
    """``TargetForbidden`` (403) for a SERVICE this caller may not use; before anything runs.

    The parse (shared with the planner through its cache) runs off the event loop.
    """
    import anyio.to_thread

    policy = outbound_policy(request)
    authenticated = has_api_key(request)

    def check() -> None:
        policy.check_query(sparql, authenticated=authenticated, free=free)

    await anyio.to_thread.run_sync(check)


async def _run_update(request: Request, sparql: str, options: QueryOptions) -> Response:
    import anyio.to_thread

    require_api_key(request)
    options = replace(options, base_iri=_urls(request)[0])  # the service's base
    source = request.app.state.store
    policy = outbound_policy(request)
    # LOAD and SERVICE targets are checked before the store sees the update
    await anyio.to_thread.run_sync(lambda: policy.check_update(sparql, authenticated=True))

    def apply() -> None:
        try:
            source.update(sparql, options)
        except Exception as exc:
            raise _detached(exc) from None

    await anyio.to_thread.run_sync(apply)
    request.app.state.sparql_descriptions = {}
    return Response(status_code=204)


def query_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


@router.get(
    "/sparql", name="sparql_get", openapi_extra=docs.SPARQL_GET, responses=docs.SPARQL_RESPONSES
)
async def sparql_get(request: Request) -> Any:
    """SPARQL query by GET; without ``query``, the query page or the service description."""
    params = query_params(request)
    query = single_param(params, "query")
    if query is None:
        if "update" in params:
            raise QueryError("SPARQL UPDATE must be sent with POST", where="update")
        return await _describe_or_page(request)
    limit = request.app.state.settings.api.max_request_bytes
    if len(query.encode("utf-8")) > limit:
        raise RequestTooLarge(f"the query is over the limit of {limit} bytes", where="query")
    check_limits(query)
    options = _options(params, "default-graph-uri", "named-graph-uri", _store_settings(request))
    if _wants_explain(params):
        return await _explain(request, query, options)
    return await _run_query(request, query, options, accept_of(request, params))


def _store_settings(request: Request) -> StoreSettings:
    settings: StoreSettings = request.app.state.settings.store
    return settings


@router.post(
    "/sparql",
    name="sparql_post",
    openapi_extra=docs.SPARQL_POST,
    responses=docs.SPARQL_POST_RESPONSES,
)
async def sparql_post(request: Request) -> Any:
    """SPARQL query or update by POST, as a form or a direct body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    url_params = query_params(request)
    body = await read_body(request)
    if content_type in (FORM, MISSPELT_FORM):
        params = form_params(body, url_params)
        query, update = single_param(params, "query"), single_param(params, "update")
        if (query is None) == (update is None):
            raise QueryError("send exactly one of 'query' or 'update'", where="form")
        if update is not None:
            check_limits(update, where="update")
            options = _options(params, "using-graph-uri", "using-named-graph-uri")
            return await _run_update(request, update, options)
        assert query is not None
        check_limits(query)
        options = _options(params, "default-graph-uri", "named-graph-uri", _store_settings(request))
        if _wants_explain(params):
            return await _explain(request, query, options)
        return await _run_query(request, query, options, accept_of(request, params))
    if content_type == SPARQL_QUERY:
        options = _options(
            url_params, "default-graph-uri", "named-graph-uri", _store_settings(request)
        )
        query = decode_text(body, "query")
        check_limits(query)
        if _wants_explain(url_params):
            return await _explain(request, query, options)
        return await _run_query(request, query, options, accept_of(request, url_params))
    if content_type == SPARQL_UPDATE:
        options = _options(url_params, "using-graph-uri", "using-named-graph-uri")
        update_text = decode_text(body, "update")
        check_limits(update_text, where="update")
        return await _run_update(request, update_text, options)
    raise UnsupportedMediaType(
        f"POST {FORM}, {SPARQL_QUERY} or {SPARQL_UPDATE}, not {content_type or 'no type'!r}",
        where="Content-Type",
    )


# ------------------------------------------------------------------ description


def _urls(request: Request) -> tuple[str, str]:
    base = public_root(request)
    return f"{base}/sparql", f"{base}/void"


async def _description(request: Request, media_type: str) -> Response:
    import anyio.to_thread

    from eokg.kg.service import describe_service

    cache: dict[str, tuple[float, bytes]] = getattr(request.app.state, "sparql_descriptions", {})
    endpoint_url, void_url = _urls(request)
    key = f"{media_type} {endpoint_url}"
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < DESCRIPTION_TTL_S:
        return Response(hit[1], media_type=media_type)
    settings = request.app.state.settings
    source = request.app.state.store

    def build() -> bytes:
        try:
            return describe_service(
                source,
                endpoint_url=endpoint_url,
                void_url=void_url,
                update_enabled=bool(settings.api.api_key),
                media_type=media_type,
                timeout_s=settings.api.query_timeout_s,
            )
        except Exception as exc:
            raise _detached(exc) from None

    body = await anyio.to_thread.run_sync(build)
    cache[key] = (time.monotonic(), body)
    request.app.state.sparql_descriptions = cache
    return Response(body, media_type=media_type)


async def _describe_or_page(request: Request) -> Response:
    accept = accept_of(request, {})
    chosen = negotiate(accept, (*RDF_MEDIA_TYPES, "text/html"))
    if chosen is None:
        raise NotAcceptable(
            "the service description is available as " + ", ".join(RDF_MEDIA_TYPES),
            where="Accept",
        )
    if chosen == "text/html":
        return HTMLResponse(_query_page())
    return await _description(request, chosen)


def _query_page() -> str:
    from importlib.resources import files

    return (files("eokg.api") / "static" / "query.html").read_text(encoding="utf-8")


@router.get("/void", name="void", responses=docs.VOID_RESPONSES)
async def void(request: Request) -> Response:
    """VoID statistics and the service description (the federation engine reads this)."""
    chosen = negotiate(request.headers.get("accept", ""), RDF_MEDIA_TYPES)
    if chosen is None:
        raise NotAcceptable("VoID is available as " + ", ".join(RDF_MEDIA_TYPES), where="Accept")
    return await _description(request, chosen)
