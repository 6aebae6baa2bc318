"""``/federation/sparql``: the SPARQL 1.1 Protocol over the whole federation.

Same protocol as ``/sparql`` (GET or POST, form or direct body, content
negotiation, 400 with a problem document on a bad query), answered by the
federation engine over the local store and ``settings.federation.sources``.
``?explain=true`` returns the plan as JSON without running the query;
``?explain=run`` runs it and returns the plan with per-source request counts,
rows and time.  A partial answer (``on_source_failure = "partial"`` and a source
failed) carries ``X-EOKG-Partial: <source names>`` and, in SPARQL JSON, a
top-level ``"eokg:partial"`` member naming the failed sources and why.

``SERVICE <url>`` may name a member (anyone: it only narrows the sources
asked) or a URL in ``outbound.allowed_urls`` (with the API key, or anonymously
if ``outbound.anonymous_service``); anything else is 403 before any request.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from eokg.api import openapi_docs as docs
from eokg.api.sparql import (
    FORM,
    SPARQL_QUERY,
    accept_of,
    check_query_targets,
    decode_text,
    form_params,
    negotiate,
    query_params,
    read_body,
    single_param,
)
from eokg.errors import (
    NotAcceptable,
    QueryError,
    QueryTimeout,
    RequestTooLarge,
    ResultTooLarge,
    UnsupportedMediaType,
)
from eokg.kg.results import (
    RDF_MEDIA_TYPES,
    RESULTS_MEDIA_TYPES,
    write_boolean,
    write_solutions,
    write_triples,
)
from eokg.kg.sparql_syntax import check_limits

router = APIRouter(tags=["federation"])

PARTIAL_HEADER = "X-EOKG-Partial"
WHERE = "/federation/sparql"


def setup(app: FastAPI) -> None:
    """Build the engine from the settings (with the local store as a member) unless given."""
    if getattr(app.state, "federation", None) is not None:
        return
    from eokg.kg.federation.engine import FederationEngine

    app.state.federation = FederationEngine.from_settings(
        app.state.settings, local_store=getattr(app.state, "store", None)
    )


def engine_of(request: Request) -> Any:
    return request.app.state.federation


async def run_federated(request: Request, query: str) -> Any:
    """Execute on a worker thread (own event loop), within ``api.query_timeout_s``."""
    import anyio.to_thread

    settings = request.app.state.settings
    timeout_s = settings.api.query_timeout_s
    engine = engine_of(request)
    try:
        return await asyncio.wait_for(
            anyio.to_thread.run_sync(engine.run, query, abandon_on_cancel=True), timeout_s
        )
    except TimeoutError:
        raise QueryTimeout(
            f"the federated query did not finish within {timeout_s:g} s",
            where=WHERE,
            timeout_s=timeout_s,
        ) from None


def render(result: Any, accept: str, max_results: int) -> Response:
    """The negotiated serialisation, with the partial flag in a header and in JSON."""
    offered = RDF_MEDIA_TYPES if result.kind == "triples" else RESULTS_MEDIA_TYPES
    media_type = negotiate(accept, offered)
    if media_type is None:
        raise NotAcceptable(f"results are available as {', '.join(offered)}", where="Accept")
    headers = {PARTIAL_HEADER: ", ".join(sorted(result.failed))} if result.partial else {}
    if result.kind == "boolean":
        body = write_boolean(bool(result.boolean), media_type)
    elif result.kind == "triples":
        from eokg.ontologies.namespaces import PREFIXES

        buffer = io.BytesIO()
        write_triples(result.triples, media_type, buffer, prefixes=PREFIXES)
        body = buffer.getvalue()
    else:
        if len(result.rows) > max_results:
            raise ResultTooLarge(
                f"the query returned more than {max_results} results; add a LIMIT",
                where=WHERE,
                max_results=max_results,
            )
        body = b"".join(write_solutions(result.variables, result.rows, media_type))
    if result.partial and media_type in ("application/sparql-results+json", "application/json"):
        note = json.dumps({"failed": result.failed, "sources": sorted(result.failed)})
        body = body.rstrip()[:-1] + b',"eokg:partial":' + note.encode() + b"}"
    return Response(body, media_type=media_type, headers=headers)


async def _answer(request: Request, query: str, params: dict[str, list[str]]) -> Response:
    # as /sparql does: oversized or deeply nested text never reaches the (recursive) parser
    limit = request.app.state.settings.api.max_request_bytes
    if len(query.encode("utf-8")) > limit:
        raise RequestTooLarge(f"the query is over the limit of {limit} bytes", where="query")
    check_limits(query)
    explain = (single_param(params, "explain") or "").lower()
    members = engine_of(request).members
    await check_query_targets(
        request, query, free=[*(m.url for m in members), *(m.name for m in members)]
    )
    if explain in ("true", "1", "yes", "plan"):
        import anyio.to_thread

        plan = await anyio.to_thread.run_sync(engine_of(request).explain_sync, query)
        return JSONResponse(plan)
    accept = accept_of(request, params)
    if negotiate(accept, (*RESULTS_MEDIA_TYPES, *RDF_MEDIA_TYPES)) is None:
        raise NotAcceptable(
            "this endpoint serves " + ", ".join((*RESULTS_MEDIA_TYPES, *RDF_MEDIA_TYPES)),
            where="Accept",
        )
    result = await run_federated(request, query)
    if explain == "run":
        return JSONResponse(result.explain)
    return render(result, accept, request.app.state.settings.api.max_results)


@router.get(
    "/federation/sparql",
    name="federation_sparql_get",
    openapi_extra=docs.FEDERATION_GET,
    responses=docs.FEDERATION_RESPONSES,
)
async def federation_get(request: Request) -> Response:
    """A federated query by GET (``query`` parameter)."""
    params = query_params(request)
    query = single_param(params, "query")
    if query is None:
        raise QueryError("give the query in the 'query' parameter", where="query")
    return await _answer(request, query, params)


@router.post(
    "/federation/sparql",
    name="federation_sparql_post",
    openapi_extra=docs.FEDERATION_POST,
    responses=docs.FEDERATION_RESPONSES,
)
async def federation_post(request: Request) -> Response:
    """A federated query by POST, as a form or a direct ``application/sparql-query`` body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    params = query_params(request)
    body = await read_body(request)
    if content_type == FORM:
        form = form_params(body, params)
        if "update" in form:
            raise QueryError("the federation endpoint is read-only: no SPARQL UPDATE", where=WHERE)
        query = single_param(form, "query")
        if query is None:
            raise QueryError("send the query in the 'query' form field", where="form")
        return await _answer(request, query, form)
    if content_type == SPARQL_QUERY:
        return await _answer(request, decode_text(body, "query"), params)
    raise UnsupportedMediaType(
        f"POST {FORM} or {SPARQL_QUERY}, not {content_type or 'no type'!r}",
        where="Content-Type",
    )
