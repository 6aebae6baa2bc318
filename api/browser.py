"""STAC Browser under ``/browser``: a web UI over this server's own STAC API.

The files are a build of ``@radiantearth/stac-browser`` made at install time by
``scripts/vendor_stac_browser.sh`` (``pathPrefix=/browser/``, history mode), never
at run time.  The build loads ``/browser/config.js`` before the app, and that file
is written here per request, so the catalogue URL is this server's ``/stac`` as
the API itself names it (``api.public_url`` or the request's base URL): the
browser compares every link against it, so the two must agree.  Any path that is
not a file gets ``index.html``, which is what history mode needs on a reload.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from eokg.api.problems import PROBLEM_JSON, problem
from eokg.api.stac import PREFIX as STAC_PREFIX
from eokg.api.urls import public_root

PREFIX = "/browser"
VERSION = "4.0.1"
#: Where scripts/vendor_stac_browser.sh puts the build: ``.vendor`` at the top of the install.
DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".vendor" / f"stac-browser-{VERSION}"

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, tags=["STAC Browser"], include_in_schema=False)


def browser_dir(request: Request) -> Path:
    """The build folder from settings, else the install's vendored one."""
    configured: Path | None = request.app.state.settings.api.browser_dir
    return configured or DEFAULT_DIR


def catalog_url(request: Request) -> str:
    """This server's STAC landing page, built as ``eokg.api.stac`` builds its links."""
    return public_root(request) + STAC_PREFIX


def browser_config(request: Request) -> dict[str, object]:
    """Run-time options (config.js overrides the build's): only this catalogue."""
    return {
        "catalogUrl": catalog_url(request),
        "catalogTitle": "eokg",
        # no /external/... pages: the UI browses this server's catalogue only
        "allowExternalAccess": False,
    }


def missing(root: Path) -> JSONResponse:
    """A problem document that says how to get the build (it is never made at run time);
    the folder goes to the log only, as server paths do everywhere in the API."""
    log.warning("no STAC Browser build in %s: run scripts/vendor_stac_browser.sh", root)
    body = problem(
        404,
        "stac-browser-missing",
        "STAC Browser is not built on this server: run scripts/vendor_stac_browser.sh",
        instance=PREFIX,
    )
    return JSONResponse(body, status_code=404, media_type=PROBLEM_JSON)


def resolve(root: Path, path: str) -> Path:
    """The file ``path`` names inside ``root``, or index.html (no escaping ``root``)."""
    index = root / "index.html"
    if not path:
        return index
    try:
        candidate = (root / path).resolve()
        inside = candidate.is_relative_to(root.resolve()) and candidate.is_file()
    except (OSError, ValueError):  # a NUL byte, a name longer than the OS allows
        return index
    return candidate if inside else index


@router.api_route("", methods=["GET", "HEAD"])
def browser_root() -> RedirectResponse:
    """The build's router base is ``/browser/``: the bare path would not match it."""
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.api_route("/config.js", methods=["GET", "HEAD"])
def config_js(request: Request) -> Response:
    """Shadows the build's empty config.js: index.html loads it before the app starts."""
    root = browser_dir(request)
    if not (root / "index.html").is_file():
        return missing(root)
    script = f"window.STAC_BROWSER_CONFIG = {json.dumps(browser_config(request))};\n"
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.api_route("/{path:path}", methods=["GET", "HEAD"])
def browser_file(request: Request, path: str) -> Response:
    """A file of the build, else index.html: the app's router reads the path itself."""
    root = browser_dir(request)
    if not (root / "index.html").is_file():
        return missing(root)
    target = resolve(root, path)
    # index.html names hashed bundles, so it must be revalidated; the bundles need not
    cache = "no-cache" if target.name == "index.html" else "public, max-age=86400"
    return FileResponse(target, headers={"Cache-Control": cache})
