"""RFC 9457 problem responses for every ``EokgError``.

One table (the exception's own ``status`` and ``code``) decides the HTTP status,
so backends raise eokg errors and never think about HTTP.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from eokg.errors import EokgError

PROBLEM_JSON = "application/problem+json"


def problem_response(exc: EokgError) -> JSONResponse:
    return JSONResponse(exc.to_problem(), status_code=exc.status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn eokg errors and request validation errors into problem documents."""

    async def on_eokg_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EokgError)
        return problem_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()))
        body = {
            "type": "https://eokg.dev/problems/bad-request",
            "title": "RequestValidationError",
            "status": 400,
            "detail": first.get("msg", "invalid request"),
            "code": "bad-request",
            "instance": where,
        }
        return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)

    app.add_exception_handler(EokgError, on_eokg_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
