"""One exception hierarchy for everything eokg raises on purpose.

Every error says *where* it happened (file and line, mapping rule, triple
pattern, STAC item id, ...) so that a user with a 100 GB input can find the bad
record, and carries a stable machine-readable ``code`` that the HTTP layer turns
into an RFC 9457 problem document.  The tree::

    EokgError
    ├── ConfigError                 bad settings file or env var
    ├── MissingDependency           an optional extra is not installed
    ├── InputError                  bad user data (HTTP 400)
    │   ├── GeometryError           malformed WKT/GeoJSON, invalid geometry
    │   │   └── CRSError            unknown or unsupported CRS
    │   ├── RDFParseError           a triple file that does not parse
    │   ├── MappingError            a broken mapping or a record it cannot map
    │   ├── ShapeViolation          data that fails the SHACL shapes
    │   ├── ItemValidationError     an invalid STAC item
    │   ├── QueryError              invalid SPARQL / CQL2 / search request
    │   │   └── UpdateRefused       a well-formed update the store would not apply
    │   ├── RequestTooLarge         an oversized request body (HTTP 413)
    │   ├── NotAcceptable           no result format the client accepts (HTTP 406)
    │   └── UnsupportedMediaType    a request body of the wrong type (HTTP 415)
    ├── NotFound                    unknown collection, item, graph (HTTP 404)
    ├── Unauthorized                missing or wrong API key (HTTP 401)
    │   └── WritesDisabled          no API key configured, so writes are off (403)
    ├── TargetForbidden             a SERVICE/LOAD URL the outbound policy refuses (403)
    ├── LimitExceeded               query timeout or result-size limit (HTTP 503/413)
    │   ├── QueryTimeout
    │   └── ResultTooLarge
    ├── NotSupported                not served by this deployment (HTTP 501)
    ├── StoreError                  the store refused an operation
    ├── SourceUnavailable           a remote endpoint or server failed (HTTP 502)
    └── JobFailed                   a Spark job failed; none of its output is kept
"""

from __future__ import annotations

from typing import Any


class EokgError(Exception):
    """Root of all eokg errors.

    ``where`` names the place of the fault in the user's terms; ``code`` is a
    stable identifier for clients; ``status`` is the HTTP status the API uses.
    """

    code = "eokg-error"
    status = 500

    def __init__(self, message: str, *, where: str | None = None, **details: Any) -> None:
        self.message = message
        self.where = where
        self.details = details
        super().__init__(f"{where}: {message}" if where else message)

    def to_problem(self) -> dict[str, Any]:
        """Render as an RFC 9457 ``application/problem+json`` body."""
        problem: dict[str, Any] = {
            "type": f"https://eokg.dev/problems/{self.code}",
            "title": type(self).__name__,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if self.where:
            problem["instance"] = self.where
        for key, value in self.details.items():
            problem.setdefault(key, value)
        return problem


class ConfigError(EokgError):
    code = "config"


class MissingDependency(EokgError):
    """An optional extra is needed; the message carries the install command."""

    code = "missing-dependency"

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this feature needs '{module}', which is not installed; "
            f"install it with: pip install 'eokg[{extra}]'",
            where=module,
        )


class InputError(EokgError):
    code = "bad-input"
    status = 400


class GeometryError(InputError):
    code = "bad-geometry"


class CRSError(GeometryError):
    code = "unknown-crs"


class RDFParseError(InputError):
    code = "rdf-syntax"


class MappingError(InputError):
    code = "bad-mapping"


class ShapeViolation(InputError):
    code = "shape-violation"


class ItemValidationError(InputError):
    code = "invalid-item"


class QueryError(InputError):
    code = "bad-query"


class UpdateRefused(QueryError):
    """A well-formed update the store would not carry out (e.g. CLEAR or DROP of a graph
    that does not exist, without SILENT); nothing it asked for was applied."""

    code = "update-refused"


class RequestTooLarge(InputError):
    code = "request-too-large"
    status = 413


class NotAcceptable(InputError):
    code = "not-acceptable"
    status = 406


class UnsupportedMediaType(InputError):
    code = "unsupported-media-type"
    status = 415


class NotFound(EokgError):
    code = "not-found"
    status = 404


class Unauthorized(EokgError):
    code = "unauthorized"
    status = 401


class WritesDisabled(Unauthorized):
    """No API key is configured, so no key can be right: writes are off."""

    code = "writes-disabled"
    status = 403


class TargetForbidden(EokgError):
    """A query or update names a remote URL (SERVICE, LOAD) this caller may not reach.

    ``url`` names the refused target; nothing has been sent to it.
    """

    code = "target-forbidden"
    status = 403


class LimitExceeded(EokgError):
    code = "limit-exceeded"
    status = 503


class QueryTimeout(LimitExceeded):
    code = "query-timeout"
    status = 503


class ResultTooLarge(LimitExceeded):
    code = "result-too-large"
    status = 413


class NotSupported(EokgError):
    """A request this deployment cannot serve (e.g. Graph Store writes to a remote store)."""

    code = "not-supported"
    status = 501


class StoreError(EokgError):
    code = "store"


class SourceUnavailable(EokgError):
    code = "source-unavailable"
    status = 502


class JobFailed(EokgError):
    """A distributed job failed (lost executors past Spark's retries, a task error).

    Raised after the job's output folder was emptied, so a failed run never
    leaves part files that look like a complete output.
    """

    code = "job-failed"


def require(module: str, extra: str) -> Any:
    """Import an optional heavy module, or explain which extra to install.

    Heavy libraries (pyspark, tensorflow, elasticsearch) are imported only in the
    functions that need them so that ``import eokg`` stays fast and light.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module, extra) from exc
