"""The application factory: one FastAPI app serving every eokg HTTP interface.

Routers are listed in ``ROUTERS`` and mounted if their module exists, so each
interface (SPARQL endpoint, STAC discovery, federation, search) is added in its
own module.  Settings and the backends they choose are built here once and kept
on ``app.state``.  The HTTP edge is here too: the OpenAPI document under its own
media type, ``OPTIONS`` answered on every route, and CORS for the read API only
(``settings.cors``).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from eokg import __version__
from eokg.api.openapi_docs import OPENAPI_MEDIA_TYPE
from eokg.api.problems import install_problem_handlers
from eokg.config import CREDENTIAL_HEADERS, CorsSettings, Settings, load_settings

#: modules that define ``router`` (an APIRouter) and optionally ``startup(app)``.
ROUTERS: tuple[str, ...] = (
    "eokg.api.sparql",
    "eokg.api.graph_store",
    "eokg.api.stac",
    "eokg.api.federation",
    "eokg.api.search",
    "eokg.api.browser",
)
#: request bodies that write (SPARQL 1.1 Protocol): never answered cross-origin.
WRITE_MEDIA_TYPES = frozenset({"application/sparql-update"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def is_write(scope: Scope) -> bool:
    """A request that carries the API key or an update body, or a preflight asking to
    send the key: kept same-origin (no CORS headers, so the browser refuses it)."""
    if any(_header(scope, name.encode()) is not None for name in CREDENTIAL_HEADERS):
        return True
    asked = _header(scope, b"access-control-request-headers") or ""
    if {h.strip().lower() for h in asked.split(",")} & CREDENTIAL_HEADERS:
        return True
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return content_type in WRITE_MEDIA_TYPES


class ReadOnlyCors:
    """CORS (preflights included) for the read API; writes pass by without it."""

    def __init__(self, app: ASGIApp, settings: CorsSettings) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=settings.allow_origins,
            allow_methods=settings.allow_methods,
            allow_headers=settings.allow_headers,
            expose_headers=settings.expose_headers,
            max_age=settings.max_age_s,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_write(scope):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _routes(app: FastAPI) -> list[Any]:
    """Every route, flattened: FastAPI 0.16x nests included routers, older ones did not."""
    import fastapi.routing

    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:
        return list(app.routes)
    return [context.route for context in contexts(app.routes)]


def allowed_methods(app: FastAPI, scope: Scope) -> set[str]:
    """The methods some route answers at ``scope``'s path (empty: no such path)."""
    methods: set[str] = set()
    for route in _routes(app):
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or {"GET", "HEAD"})
    return methods


class OptionsMiddleware:
    """``OPTIONS`` (not a CORS preflight) answers 204 with ``Allow``, not Starlette's 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            methods = allowed_methods(scope["app"], scope)
            if methods:
                allow = ", ".join(sorted(methods | {"OPTIONS"}))
                headers = [(b"allow", allow.encode()), (b"content-length", b"0")]
                await send({"type": "http.response.start", "status": 204, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def _add_docs(app: FastAPI) -> None:
    """``/openapi.json`` under the media type the STAC ``service-desc`` link names."""

    async def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi(), media_type=OPENAPI_MEDIA_TYPE)

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")

    app.add_api_route("/openapi.json", openapi_document, include_in_schema=False)
    app.add_api_route("/docs", swagger_ui, include_in_schema=False)


def create_app(settings: Settings | None = None, **state: Any) -> FastAPI:
    """Build the app.  ``state`` lets callers (tests, the pipeline) hand in ready backends."""
    settings = settings or load_settings()
    app = FastAPI(
        title="eokg",
        version=__version__,
        description="GeoSPARQL endpoint and STAC metadata discovery for Earth Observation.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    for key, value in state.items():
        setattr(app.state, key, value)
    install_problem_handlers(app)
    _add_docs(app)
    for name in ROUTERS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app)
        app.include_router(module.router)
    app.add_middleware(OptionsMiddleware)
    if settings.cors.allow_origins:
        app.add_middleware(ReadOnlyCors, settings=settings.cors)
    return app
