"""Backend-neutral pieces of a search: request -> CQL2, page tokens, fields, explanations.

Both backends turn the STAC core parameters (bbox, intersects, datetime, ids,
collections) into one CQL2 JSON tree ANDed with the user's filter, so there is
one translator per backend instead of two code paths.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

from eokg.catalog.concepts import ConceptQuery, normalise
from eokg.catalog.cql2_parse import parse_json
from eokg.catalog.index import FieldsSpec, Match, SearchRequest
from eokg.catalog.items import CONCEPTS_PROPERTY
from eokg.catalog.queryables import ALWAYS_QUERYABLE, UNSORTABLE
from eokg.errors import InputError, QueryError

#: fields a client always gets back, whatever ``fields`` says (pystac needs them).
ALWAYS = ("type", "id", "collection", "stac_version", "links")


def core_to_cql2(request: SearchRequest) -> dict[str, Any] | None:
    """The request's core parameters and filter as one CQL2 JSON ``and`` tree."""
    parts: list[dict[str, Any]] = []
    if request.collections:
        parts.append({"op": "in", "args": [{"property": "collection"}, list(request.collections)]})
    if request.ids:
        parts.append({"op": "in", "args": [{"property": "id"}, list(request.ids)]})
    if request.bbox is not None:
        parts.append(
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": request.bbox}]}
        )
    if request.intersects is not None:
        parts.append({"op": "s_intersects", "args": [{"property": "geometry"}, request.intersects]})
    if request.datetime:
        start, _, end = request.datetime.partition("/")
        if "/" in request.datetime:
            literal: Any = {"interval": [start.strip() or "..", end.strip() or ".."]}
        else:
            literal = {"timestamp": request.datetime}
        parts.append({"op": "t_intersects", "args": [{"property": "datetime"}, literal]})
    user = request.cql2_json()
    if user is not None:
        parts.append(user)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"op": "and", "args": parts}


def filter_properties(tree: Any, where: str = "filter") -> Iterator[tuple[Any, str]]:
    """Every ``{"property": name}`` node of a CQL2 JSON tree with its path, in order."""
    stack: list[tuple[Any, str]] = [(tree, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            if "property" in node:
                yield node["property"], at
                continue
            children = [(v, f"{at}.{k}") for k, v in node.items()]
        elif isinstance(node, list):
            children = [(v, f"{at}[{i}]") for i, v in enumerate(node)]
        else:
            continue
        stack.extend(reversed(children))


def check_queryables(request: SearchRequest, is_queryable: Callable[[str], bool]) -> None:
    """Refuse a filter or sort key naming a property that is not a queryable (400).

    The queryables document says ``additionalProperties: false``, so, as OGC API
    Features Part 3 requires, an unknown name is an error naming it, never a
    silent empty page; the same rule for GET and POST, cql2-text and cql2-json.
    ``is_queryable`` is the backend's lookup of names seen at ingest.
    """

    def known(name: Any, where: str) -> str:
        if not isinstance(name, str) or not name.removeprefix("properties."):
            raise QueryError("a property name must be a non-empty string", where=where)
        bare = name.removeprefix("properties.")
        if bare not in ALWAYS_QUERYABLE and not is_queryable(bare):
            raise QueryError(
                f"unknown property {bare!r}: it is not a queryable of this catalogue "
                "(see /stac/queryables)",
                where=where,
                property=bare,
            )
        return bare

    for name, where in filter_properties(request.cql2_json()):
        known(name, where)
    for i, spec in enumerate(request.sortby or []):
        if known(spec.field, f"sortby[{i}]") in UNSORTABLE:
            raise QueryError(f"cannot sort by {spec.field!r}", where=f"sortby[{i}]")


def encode_token(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, expected: int) -> list[Any]:
    """Decode a page token; a tampered or stale token is a 400 naming ``token``."""
    try:
        padded = token + "=" * (-len(token) % 4)
        values = parse_json(base64.urlsafe_b64decode(padded.encode()), where="token")
    except Exception as exc:
        raise InputError("the page token is not one this server issued", where="token") from exc
    if not isinstance(values, list) or len(values) != expected:
        raise InputError("the page token does not fit this sort order", where="token")
    if not all(isinstance(v, str | int | float | bool | None) for v in values):
        raise InputError("the page token is not one this server issued", where="token")
    return values


def _get(doc: dict[str, Any], path: list[str]) -> tuple[bool, Any]:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _set(doc: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        doc = doc.setdefault(key, {})
    doc[path[-1]] = value


def _delete(doc: dict[str, Any], path: list[str]) -> None:
    for key in path[:-1]:
        doc = doc.get(key)  # type: ignore[assignment]
        if not isinstance(doc, dict):
            return
    doc.pop(path[-1], None)


def apply_fields(item: dict[str, Any], spec: FieldsSpec | None) -> dict[str, Any]:
    """STAC Fields extension: keep ``include`` paths, then drop ``exclude`` paths.

    A path in both lists is included (the extension says include wins).
    """
    if spec is None or (not spec.include and not spec.exclude):
        return item
    if spec.include:
        result: dict[str, Any] = {k: item[k] for k in ALWAYS if k in item}
        for dotted in spec.include:
            found, value = _get(item, dotted.split("."))
            if found:
                _set(result, dotted.split("."), copy.deepcopy(value))
    else:
        result = copy.deepcopy(item)
    included = set(spec.include)
    for dotted in spec.exclude:
        if dotted not in included and dotted not in ALWAYS:
            _delete(result, dotted.split("."))
    return result


def explain(item: dict[str, Any], terms: list[str], concepts: ConceptQuery | None) -> list[Match]:
    """Why ``item`` matched the semantic part of a search (concepts and free text)."""
    reasons: list[Match] = []
    props = item.get("properties") or {}
    if concepts is not None:
        for requested, via in concepts.explain(props.get(CONCEPTS_PROPERTY) or []):
            reasons.append(Match("concept", requested, via))
    for term in terms:
        needle = normalise(term)
        if not needle:
            continue
        for name in ("title", "description", "keywords", "platform", "mlm:name"):
            value = props.get(name)
            text = " ".join(value) if isinstance(value, list) else str(value or "")
            if needle in normalise(text):
                reasons.append(Match("text", term, f"properties.{name}"))
                break
    return reasons


def fts_query(terms: list[str]) -> str:
    """Free-text terms (STAC ``q``, ORed) as a safe FTS5 query of quoted phrases."""
    phrases = []
    for term in terms:
        words = normalise(term).split()
        if words:
            phrases.append('"' + " ".join(words) + '"')
    return " OR ".join(phrases)
