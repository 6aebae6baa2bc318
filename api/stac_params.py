"""STAC search parameters, from a GET query string or a POST body, to a SearchRequest.

All parsing errors become ``InputError`` naming the offending parameter, which
the problem handler turns into a 400 the client can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from eokg.catalog.cql2_parse import parse_json
from eokg.catalog.index import (
    CollectionSearch,
    FieldsSpec,
    SearchRequest,
    SortField,
    request_error,
)
from eokg.errors import InputError

#: GET parameters that are not part of SearchRequest but of the endpoint.
EXTRA_GET = {"aggregations", "datetime_frequency_interval", "f"}


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _sortby(value: str) -> list[dict[str, str]]:
    out = []
    for part in _csv(value):
        direction = "desc" if part.startswith("-") else "asc"
        out.append({"field": part.lstrip("+-"), "direction": direction})
    return out


def _fields(value: str) -> dict[str, list[str]]:
    """``id,+bbox,-geometry`` as include/exclude lists; a list only if it has a member,
    since ``-geometry`` alone means the whole item less geometry (``apply_fields``)."""
    include: list[str] = []
    exclude: list[str] = []
    for part in _csv(value):
        (exclude if part.startswith("-") else include).append(part.lstrip("+-"))
    lists = {"include": include, "exclude": exclude}
    return {key: paths for key, paths in lists.items() if paths}


def from_query(params: Mapping[str, str], **fixed: Any) -> SearchRequest:
    """Parse GET query parameters (comma-separated lists, ``+/-`` sort prefixes)."""
    data: dict[str, Any] = {}
    for key, value in params.items():
        if key in EXTRA_GET:
            continue
        if key == "bbox":
            data["bbox"] = _bbox(value)
        elif key == "intersects":
            data["intersects"] = parse_json(value, where="intersects")
        elif key in ("ids", "collections", "q", "concepts"):
            data[key] = _csv(value)
        elif key == "sortby":
            data["sortby"] = _sortby(value)
        elif key == "fields":
            data["fields"] = _fields(value)
        elif key == "limit":
            data["limit"] = _limit(value)
        elif key in ("datetime", "token", "filter", "filter-lang", "filter-crs"):
            data[key] = value
        else:
            raise InputError(f"unknown query parameter {key!r}", where=key)
    data.update(fixed)
    return build(data)


def _bbox(value: str) -> list[float]:
    try:
        return [float(v) for v in _csv(value)]
    except ValueError as exc:
        raise InputError("bbox must be comma-separated numbers", where="bbox") from exc


def _limit(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise InputError("limit must be an integer", where="limit") from exc


def collections_from_query(params: Mapping[str, str]) -> CollectionSearch:
    """Parse ``GET /collections`` parameters (Collection Search: simple query, ``q``).

    An unknown parameter is a 400 naming it, as for items: a client sending
    ``sortby`` or ``filter``, which this endpoint does not claim, learns so instead of
    getting an unsorted or unfiltered page.
    """
    data: dict[str, Any] = {}
    for key, value in params.items():
        if key == "f":
            continue
        if key == "bbox":
            data["bbox"] = _bbox(value)
        elif key == "limit":
            data["limit"] = _limit(value)
        elif key == "q":
            data["q"] = _csv(value)
        elif key in ("datetime", "token"):
            data[key] = value
        else:
            raise InputError(f"unknown query parameter {key!r}", where=key)
    return CollectionSearch(**data)


def collections_to_query(request: CollectionSearch) -> dict[str, str]:
    """A CollectionSearch as GET query parameters (``next``/``prev`` links)."""
    out: dict[str, str] = {}
    if request.bbox is not None:
        out["bbox"] = ",".join(repr(v) for v in request.bbox)
    if request.datetime:
        out["datetime"] = request.datetime
    if request.q:
        out["q"] = ",".join(request.q)
    if request.token:
        out["token"] = request.token
    out["limit"] = str(request.limit)
    return out


def from_body(body: Any, **fixed: Any) -> SearchRequest:
    """Parse a POST body (JSON object as in the STAC API spec)."""
    if not isinstance(body, dict):
        raise InputError("the search body must be a JSON object", where="body")
    data = {k: v for k, v in body.items() if k not in EXTRA_GET}
    # a comma list where an array belongs, as in GET (pystac-client and others send it)
    for key in ("q", "collections", "ids"):
        if isinstance(data.get(key), str):
            data[key] = _csv(data[key])
    if isinstance(data.get("sortby"), str):
        data["sortby"] = _sortby(data["sortby"])
    if isinstance(data.get("fields"), str):
        data["fields"] = _fields(data["fields"])
    data.update(fixed)
    return build(data)


def build(data: dict[str, Any]) -> SearchRequest:
    try:
        return SearchRequest.model_validate(data)
    except ValidationError as exc:
        raise request_error(exc) from exc


def to_body(request: SearchRequest) -> dict[str, Any]:
    """A SearchRequest as a POST body (for ``next`` links of POST searches).

    Only what was given: ``fields.include: []`` differs from no ``include`` at all.
    """
    return request.model_dump(by_alias=True, exclude_none=True, exclude_unset=True)


def to_query(request: SearchRequest) -> dict[str, str]:
    """A SearchRequest as GET query parameters (for ``next`` links of GET searches)."""
    out: dict[str, str] = {}
    if request.bbox is not None:
        out["bbox"] = ",".join(repr(v) for v in request.bbox)
    if request.intersects is not None:
        out["intersects"] = json.dumps(request.intersects, separators=(",", ":"))
    for key in ("ids", "collections", "q", "concepts"):
        values = getattr(request, key)
        if values:
            out[key] = ",".join(values)
    for key in ("datetime", "token"):
        if getattr(request, key):
            out[key] = getattr(request, key)
    if request.filter is not None:
        out["filter"] = (
            request.filter if isinstance(request.filter, str) else json.dumps(request.filter)
        )
        out["filter-lang"] = request.filter_lang or (
            "cql2-json" if isinstance(request.filter, dict) else "cql2-text"
        )
    if request.sortby:
        out["sortby"] = ",".join(
            ("-" if s.direction == "desc" else "+") + s.field for s in request.sortby
        )
    if request.fields is not None:  # even empty: ``?fields=`` asks for the default set
        out["fields"] = ",".join(request.fields.include + ["-" + e for e in request.fields.exclude])
    out["limit"] = str(request.limit)
    return out


__all__ = [
    "FieldsSpec",
    "SortField",
    "build",
    "collections_from_query",
    "collections_to_query",
    "from_body",
    "from_query",
    "to_body",
    "to_query",
]
