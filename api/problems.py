"""RFC 9457 problem responses for every error the app returns.

One table (the exception's own ``status`` and ``code``) decides the HTTP status
of an ``EokgError``, so backends raise eokg errors and never think about HTTP.
Everything else is a problem document too: request validation (400), the
router's own 404 and 405 (with ``Allow``), and any unexpected exception (500),
whose text and traceback go to the log only, since they may hold SQL, file
paths or internal URLs.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from eokg.errors import EokgError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

#: stable codes for the HTTP errors Starlette raises itself.
HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 413: "request-too-large"}


def problem_response(exc: EokgError) -> JSONResponse:
    return JSONResponse(exc.to_problem(), status_code=exc.status, media_type=PROBLEM_JSON)


def problem(
    status: int, code: str, detail: str, *, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A problem document for errors that are not ``EokgError``s."""
    body: dict[str, Any] = {
        "type": f"https://eokg.dev/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return body


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error into a problem document: eokg, validation, HTTP, unexpected."""

    async def on_eokg_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EokgError)
        return problem_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()))
        body = problem(400, "bad-request", str(first.get("msg", "invalid request")), instance=where)
        body["title"] = "RequestValidationError"
        return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = HTTP_CODES.get(status, f"http-{status}")
        if status == 404:
            detail = f"no resource at {request.url.path}"
        elif status == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        else:
            detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
        body = problem(status, code, detail, instance=request.url.path)
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        body = problem(
            500,
            "internal",
            "the server failed to answer this request; the error is logged",
            instance=request.url.path,
        )
        return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)

    app.add_exception_handler(EokgError, on_eokg_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
