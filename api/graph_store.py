"""SPARQL 1.1 Graph Store HTTP Protocol at ``/store``.

``/store?graph=<IRI>`` names a graph (indirect identification), ``/store?default``
the default graph, and ``/store/<path>`` the graph whose IRI is that URL (direct
identification; the service's public URL, ``api.public_url``, when set).
GET and HEAD read it (content negotiation as for CONSTRUCT), PUT replaces it,
POST adds to it (POST to ``/store`` alone makes a new graph ``/store/<uuid>`` and
answers 201 with it as Location), DELETE drops it.  Multipart POST bodies are
not read (415).  Writes need the API key, as SPARQL UPDATE does,
and go through the GeoSPARQL store, so the spatial index follows every write:
PUT is one transaction (readers see the old graph or the new one), POST is an
atomic load.  Bodies are RDF graph formats (Turtle, N-Triples, RDF/XML,
JSON-LD, N3); relative IRIs in them resolve against the graph's IRI (the
endpoint's URL for the default graph).  Bodies are limited to
``api.max_request_bytes``; load bigger files with ``eokg load``.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eokg.api import openapi_docs as docs
from eokg.api.urls import public_root
from eokg.errors import (
    NotAcceptable,
    NotFound,
    NotSupported,
    QueryError,
    RDFParseError,
    UnsupportedMediaType,
)
from eokg.kg.results import RDF_MEDIA_TYPES
from eokg.kg.source import QueryOptions

router = APIRouter(tags=["graph store"])
PATH = "/store"


def _target(request: Request) -> str | None:
    """The graph the request names: its IRI, or None for ``?default``."""
    import pyoxigraph

    from eokg.api.sparql import query_params

    params = query_params(request)
    graphs = params.get("graph", [])
    direct = request.url.path.rstrip("/") != PATH
    if direct and not graphs and "default" not in params:
        graphs = [_public_url(request)]
    elif direct or ("default" in params) == bool(graphs) or len(graphs) > 1:
        raise QueryError(
            "name one graph: /store?graph=<IRI>, /store?default or /store/<path>", where="graph"
        )
    if not graphs:
        return None
    try:
        return str(pyoxigraph.NamedNode(graphs[0]).value)
    except ValueError as exc:
        raise QueryError(f"not an absolute IRI: {exc}", where="graph") from None


def _public_url(request: Request, path: str | None = None) -> str:
    """The public URL of ``path`` (default: the request's), as clients name it."""
    return public_root(request) + (request.url.path if path is None else path)


def _store(request: Request) -> Any:
    store = request.app.state.store
    if not callable(getattr(store, "replace_graph", None)):
        raise NotSupported(
            "the Graph Store Protocol needs the local GeoSPARQL store (not a remote endpoint)",
            where=PATH,
        )
    return store


def _existing(request: Request, graph: str | None) -> Any:
    store = _store(request)
    if not store.has_graph(graph):
        raise NotFound(f"no graph <{graph}> in the store", where="graph")
    return store


def _read_query(graph: str | None) -> str:
    if graph is None:
        return "CONSTRUCT WHERE { ?s ?p ?o }"
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"


#: Read the graph as it is stored: its own default graph, no entailment.
_AS_STORED = QueryOptions(union_default_graph=False, entailment=False)


@router.get(
    PATH, name="graph_store_get", openapi_extra=docs.GRAPH_READ, responses=docs.GRAPH_READ_RESPONSES
)
@router.get(PATH + "/{path:path}", include_in_schema=False)
async def get_graph(request: Request) -> Any:
    """The graph in the negotiated RDF format (404 when it does not exist)."""
    from eokg.api.sparql import _run_query, accept_of, query_params

    graph = _target(request)
    _existing(request, graph)
    accept = accept_of(request, query_params(request))
    return await _run_query(request, _read_query(graph), _AS_STORED, accept)


@router.head(
    PATH,
    name="graph_store_head",
    openapi_extra=docs.GRAPH_READ,
    responses=docs.GRAPH_READ_RESPONSES,
)
@router.head(PATH + "/{path:path}", include_in_schema=False)
async def head_graph(request: Request) -> Response:
    """GET's status and Content-Type, without the body."""
    from eokg.api.sparql import accept_of, negotiate, query_params

    graph = _target(request)
    _existing(request, graph)
    media = negotiate(accept_of(request, query_params(request)), RDF_MEDIA_TYPES)
    if media is None:
        raise NotAcceptable("this endpoint serves " + ", ".join(RDF_MEDIA_TYPES), where="Accept")
    return Response(status_code=200, media_type=media)


async def _body_file(request: Request, folder: str) -> tuple[Path, str]:
    """The request body in a file of ``folder``, and its pyoxigraph format name."""
    import pyoxigraph

    from eokg.api.sparql import read_body

    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    rdf_format = pyoxigraph.RdfFormat.from_media_type(media) if media else None
    name = _GRAPH_FORMATS.get(str(rdf_format)) if rdf_format is not None else None
    if rdf_format is None or name is None:
        raise UnsupportedMediaType(
            "send one graph as Turtle, N-Triples, RDF/XML, JSON-LD or N3, "
            f"not {media or 'no type'!r}",
            where="Content-Type",
        )
    path = Path(folder) / f"body.{rdf_format.file_extension}"
    path.write_bytes(await read_body(request, where=PATH))
    return path, name


#: Graph formats a body may be in: pyoxigraph's name of each (datasets are refused).
_GRAPH_FORMATS = {
    "Turtle": "TURTLE",
    "N-Triples": "N_TRIPLES",
    "RDF/XML": "RDF_XML",
    "N3": "N3",
    "JSON-LD": "JSON_LD",
}


def _base(request: Request, graph: str | None) -> str:
    from eokg.api.sparql import _urls

    return graph if graph is not None else _urls(request)[0]


async def _write(request: Request, graph: str | None, replace: bool) -> bool:
    """Replace or add to ``graph`` from the body; whether the graph was created."""
    import anyio.to_thread

    from eokg.api.sparql import require_api_key

    require_api_key(request, "writing with the Graph Store Protocol")
    store = _store(request)
    with tempfile.TemporaryDirectory(prefix="eokg-gsp-") as folder:
        path, fmt = await _body_file(request, folder)
        base = _base(request, graph)

        def write() -> bool:
            if replace:
                return bool(store.replace_graph(path, graph=graph, format=fmt, base_iri=base))
            created = not store.has_graph(graph)
            store.load([path], graph=graph, format=fmt, base_iri=base)
            return created

        try:
            created = await anyio.to_thread.run_sync(write)
        except RDFParseError as exc:  # named by the body's line, not the server's temp file
            line, column = exc.details.get("line"), exc.details.get("column")
            raise RDFParseError(
                exc.message.replace(str(path), "body"),
                where=f"body line {line}" if line else "body",
                line=line,
                column=column,
            ) from None
    request.app.state.sparql_descriptions = {}
    return created


@router.put(
    PATH,
    name="graph_store_put",
    openapi_extra=docs.GRAPH_WRITE,
    responses=docs.GRAPH_WRITE_RESPONSES,
)
@router.put(PATH + "/{path:path}", include_in_schema=False)
async def put_graph(request: Request) -> Response:
    """Replace the graph with the body: 201 when it is new, else 204."""
    graph = _target(request)
    created = await _write(request, graph, replace=True)
    return Response(status_code=201 if created else 204)


@router.post(
    PATH,
    name="graph_store_post",
    openapi_extra=docs.GRAPH_WRITE,
    responses=docs.GRAPH_WRITE_RESPONSES,
)
@router.post(PATH + "/{path:path}", include_in_schema=False)
async def post_graph(request: Request) -> Response:
    """Add the body to the graph (201 when new, else 204); without a graph, a new one."""
    from eokg.api.sparql import query_params

    params = query_params(request)
    if request.url.path.rstrip("/") == PATH and "graph" not in params and "default" not in params:
        new = _public_url(request, f"{PATH}/{uuid.uuid4()}")
        await _write(request, new, replace=False)
        return Response(status_code=201, headers={"Location": new})
    graph = _target(request)
    created = await _write(request, graph, replace=False)
    return Response(status_code=201 if created else 204)


@router.delete(
    PATH,
    name="graph_store_delete",
    openapi_extra=docs.GRAPH_DELETE,
    responses=docs.GRAPH_DELETE_RESPONSES,
)
@router.delete(PATH + "/{path:path}", include_in_schema=False)
async def delete_graph(request: Request) -> Response:
    """Drop the graph (the default graph: empty it); 404 when it does not exist."""
    import anyio.to_thread

    from eokg.api.sparql import require_api_key

    graph = _target(request)
    require_api_key(request, "writing with the Graph Store Protocol")
    store = _existing(request, graph)
    update = "CLEAR DEFAULT" if graph is None else f"DROP GRAPH <{graph}>"
    await anyio.to_thread.run_sync(lambda: store.update(update))
    request.app.state.sparql_descriptions = {}
    return Response(status_code=204)


__all__ = ["PATH", "router"]
