"""Backend-neutral pieces of a search: request -> CQL2, page tokens, fields, explanations,
and collection search (over the handful of collections a catalogue holds).

Both backends turn the STAC core parameters (bbox, intersects, datetime, ids,
collections) into one CQL2 JSON tree ANDed with the user's filter, so there is
one translator per backend instead of two code paths.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eokg.catalog.concepts import ConceptQuery, normalise
from eokg.catalog.cql2_parse import parse_json
from eokg.catalog.index import CollectionPage, CollectionSearch, FieldsSpec, Match, SearchRequest
from eokg.catalog.items import CONCEPTS_PROPERTY
from eokg.catalog.queryables import ALWAYS_QUERYABLE, UNSORTABLE
from eokg.catalog.timeutil import parse_instant
from eokg.errors import InputError, QueryError

#: Fields extension, include/exclude semantics 1: what ``fields: {}`` (or ``?fields=``,
#: or empty/null lists) returns, so the entity is still a valid STAC item.
DEFAULT_FIELDS = (
    "type",
    "stac_version",
    "id",
    "collection",
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
)
#: added to an ``include`` list: enough to tell which item a slimmed entity is and to
#: fetch the rest of it (its ``self`` link).  None of these is mandatory in the
#: extension ("implementations may return attributes not specified, e.g. id, but must
#: avoid anything other than a minimal entity"), so an explicit exclude drops them.
MINIMAL_FIELDS = ("type", "id", "collection", "links")


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


def _rules(spec: FieldsSpec, item: dict[str, Any]) -> tuple[bool, dict[tuple[str, ...], bool]]:
    """Path -> keep?, and whether unnamed fields are kept, for one item.

    Later rules override earlier ones at the same path: the base set (default or
    minimal), then excludes, then includes (a path in both lists is included).
    """
    given = "include" in spec.model_fields_set
    keep_rest = not spec.include and not given and bool(spec.exclude)
    base: tuple[str, ...] = ()
    if not keep_rest:
        base = MINIMAL_FIELDS if spec.include else DEFAULT_FIELDS
        if not spec.include and (item.get("properties") or {}).get("datetime") is None:
            base += ("properties.start_datetime", "properties.end_datetime")
    rules: dict[tuple[str, ...], bool] = {tuple(p.split(".")): True for p in base}
    rules.update({tuple(p.split(".")): False for p in spec.exclude})
    rules.update({tuple(p.split(".")): True for p in spec.include})
    return keep_rest, rules


def _select(
    node: dict[str, Any], at: tuple[str, ...], rules: dict[tuple[str, ...], bool], keep: bool
) -> dict[str, Any]:
    """The parts of ``node`` the rules keep; the most specific rule on a path wins."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = (*at, key)
        verdict = rules.get(path, keep)
        deeper = any(len(r) > len(path) and r[: len(path)] == path for r in rules)
        if deeper and isinstance(value, dict):
            inner = _select(value, path, rules, verdict)
            if inner or verdict:
                out[key] = inner
        elif verdict:
            out[key] = copy.deepcopy(value)
    return out


def apply_fields(item: dict[str, Any], spec: FieldsSpec | None) -> dict[str, Any]:
    """STAC Fields extension on one item.

    * no ``fields``: the whole item;
    * ``{}``, empty or null lists (``?fields=``): the default set (``DEFAULT_FIELDS``);
    * ``include``: those paths plus ``MINIMAL_FIELDS``, less what ``exclude`` names;
    * only ``exclude``: the whole item less those paths; ``exclude`` with ``include``
      given as ``[]``/``null``: the default set less those paths.

    Nested paths are honoured both ways, the more specific winning:
    ``-properties,+properties.platform`` keeps only ``platform`` of the properties,
    ``properties,-properties.title`` all of them but ``title``.
    """
    if spec is None:
        return item
    keep_rest, rules = _rules(spec, item)
    return _select(item, (), rules, keep_rest)


def selects(spec: FieldsSpec | None, field: str, item: dict[str, Any]) -> bool:
    """Whether ``spec`` keeps the top-level ``field`` of ``item`` (the API's ``links``)."""
    if spec is None:
        return True
    keep_rest, rules = _rules(spec, item)
    return rules.get((field,), keep_rest)


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


def collection_matches(collection: dict[str, Any], terms: list[str]) -> bool:
    """Collection-search free text: any term (ORed, as for items) is a phrase of the
    collection's id, title, description or keywords, accents and case ignored.

    Done here over the backend's ``collections()`` list, so both backends answer
    alike; catalogues hold tens of collections, not millions.
    """
    fields = [collection.get(name) for name in ("id", "title", "description")]
    keywords = collection.get("keywords")
    fields += keywords if isinstance(keywords, list) else []
    text = " ".join(normalise(str(v)) for v in fields if v)
    padded = f" {text} "
    return any(f" {needle} " in padded for needle in map(normalise, terms) if needle)


def _numbers(value: Any) -> bool:
    return all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )


def extent_boxes(collection: dict[str, Any]) -> list[tuple[float, float, float, float]]:
    """The collection's ``extent.spatial.bbox`` boxes as (west, south, east, north).

    Six-number boxes lose their heights; a flat box (one list of numbers, a common
    mistake) counts as one box; anything else is skipped: an extent that cannot be
    read cannot be shown to intersect.
    """
    extent = collection.get("extent")
    spatial = extent.get("spatial") if isinstance(extent, dict) else None
    boxes = spatial.get("bbox") if isinstance(spatial, dict) else None
    if not isinstance(boxes, list):
        return []
    if boxes and _numbers(boxes):
        boxes = [boxes]
    out = []
    for box in boxes:
        if isinstance(box, list) and len(box) in (4, 6) and _numbers(box):
            w, s, e, n = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
            out.append((float(w), float(s), float(e), float(n)))
    return out


def _longitudes(west: float, east: float) -> list[tuple[float, float]]:
    """A box's longitude range, split in two when it crosses the antimeridian."""
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def boxes_intersect(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether two WGS 84 boxes share a point (edges count, as in ``s_intersects``)."""
    if a[1] > b[3] or b[1] > a[3]:
        return False
    return any(
        x0 <= y1 and y0 <= x1
        for x0, x1 in _longitudes(a[0], a[2])
        for y0, y1 in _longitudes(b[0], b[2])
    )


def extent_intervals(collection: dict[str, Any]) -> list[tuple[float, float]]:
    """The collection's ``extent.temporal.interval`` as epoch bounds (open ends infinite).

    An unreadable interval is skipped, like an unreadable box.
    """
    extent = collection.get("extent")
    temporal = extent.get("temporal") if isinstance(extent, dict) else None
    intervals = temporal.get("interval") if isinstance(temporal, dict) else None
    if not isinstance(intervals, list):
        return []
    if len(intervals) == 2 and not any(isinstance(v, list) for v in intervals):
        intervals = [intervals]  # a flat [start, end]
    out = []
    for interval in intervals:
        if not (isinstance(interval, list) and len(interval) == 2):
            continue
        if not all(v is None or isinstance(v, str) for v in interval):
            continue
        try:
            start, end = (-math.inf, math.inf)
            if interval[0] is not None:
                start = parse_instant(interval[0], where="extent")
            if interval[1] is not None:
                end = parse_instant(interval[1], where="extent")
        except (InputError, OverflowError, ValueError):  # out of range years too
            continue
        out.append((start, end))
    return out


def collection_selected(collection: dict[str, Any], request: CollectionSearch) -> bool:
    """Collection Search on one collection: every given parameter must match.

    ``bbox`` and ``datetime`` match when they intersect *any* box or interval of the
    collection's extent (the extension says "any"), ``q`` as ``collection_matches``.
    """
    if request.q and not collection_matches(collection, request.q):
        return False
    if request.bbox is not None:
        query = tuple(request.bbox)
        if not any(boxes_intersect(box, query) for box in extent_boxes(collection)):
            return False
    window = request.interval()
    if window is not None:
        low = -math.inf if window[0] is None else window[0]
        high = math.inf if window[1] is None else window[1]
        if not any(s <= high and low <= e for s, e in extent_intervals(collection)):
            return False
    return True


def collection_page(
    collections: Iterable[dict[str, Any]], request: CollectionSearch
) -> CollectionPage:
    """One page of a collection search over a backend's ``collections()``, by id.

    Done here, over the whole list, so both backends answer alike (catalogues hold
    tens of collections, not millions).  Tokens are keysets on the id: ``next``
    pages start after the last id shown, ``prev`` pages end before the first, so a
    collection added meanwhile neither repeats nor hides one.
    """
    matching = sorted(
        (c for c in collections if collection_selected(c, request)), key=lambda c: str(c["id"])
    )
    ids = [str(c["id"]) for c in matching]
    start = 0
    if request.token:
        direction, anchor = decode_token(request.token, 2)
        if direction not in ("next", "prev") or not isinstance(anchor, str):
            raise InputError("the page token is not one this server issued", where="token")
        if direction == "next":
            start = bisect.bisect_right(ids, anchor)
        else:
            start = max(0, bisect.bisect_left(ids, anchor) - request.limit)
    page = matching[start : start + request.limit]
    shown = ids[start : start + request.limit]
    following = (
        encode_token(["next", shown[-1]]) if shown and start + len(shown) < len(ids) else None
    )
    previous = encode_token(["prev", shown[0]]) if shown and start > 0 else None
    return CollectionPage(page, len(ids), following, previous)


def fts_query(terms: list[str]) -> str:
    """Free-text terms (STAC ``q``, ORed) as a safe FTS5 query of quoted phrases."""
    phrases = []
    for term in terms:
        words = normalise(term).split()
        if words:
            phrases.append('"' + " ".join(words) + '"')
    return " OR ".join(phrases)
