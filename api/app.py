"""The application factory: one FastAPI app serving every eokg HTTP interface.

Routers are listed in ``ROUTERS`` and mounted if their module exists, so each
interface (SPARQL endpoint, STAC discovery, federation, search) is added in its
own module.  Settings and the backends they choose are built here once and kept
on ``app.state``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from fastapi import FastAPI

from eokg import __version__
from eokg.api.problems import install_problem_handlers
from eokg.config import Settings, load_settings

#: modules that define ``router`` (an APIRouter) and optionally ``startup(app)``.
ROUTERS: tuple[str, ...] = (
    "eokg.api.sparql",
    "eokg.api.stac",
    "eokg.api.federation",
    "eokg.api.search",
)


def create_app(settings: Settings | None = None, **state: Any) -> FastAPI:
    """Build the app.  ``state`` lets callers (tests, the pipeline) hand in ready backends."""
    settings = settings or load_settings()
    app = FastAPI(
        title="eokg",
        version=__version__,
        description="GeoSPARQL endpoint and STAC metadata discovery for Earth Observation.",
    )
    app.state.settings = settings
    for key, value in state.items():
        setattr(app.state, key, value)
    install_problem_handlers(app)
    for name in ROUTERS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app)
        app.include_router(module.router)
    return app
