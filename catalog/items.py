"""STAC item checks and the derived fields every backend indexes.

Validation is deliberately schema-free (no pystac, no jsonschema): it checks what
the catalogue relies on (id, geometry, time, collection) and says which field is
wrong, so a bulk load of millions of items reports each bad record precisely
and keeps the good ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from eokg.catalog.index import BulkReport, ItemFailure
from eokg.catalog.timeutil import parse_instant
from eokg.errors import ItemValidationError

#: item property holding the SKOS concept IRIs the item is about.
CONCEPTS_PROPERTY = "eokg:concepts"
#: property added to search hits that explains why the hit matched.
MATCHED_PROPERTY = "eokg:matched"


@dataclass(frozen=True)
class IndexedItem:
    """An item plus what the indexes need, computed once at ingest."""

    item: dict[str, Any]
    id: str
    collection: str
    geometry: BaseGeometry | None
    bbox: tuple[float, float, float, float] | None
    start: float | None
    end: float | None
    text: dict[str, str]
    concepts: list[str]
    derived: dict[str, Any] = field(default_factory=dict)


def _fail(item_id: str, message: str, field_name: str) -> ItemValidationError:
    return ItemValidationError(message, where=f"item {item_id!r}", field=field_name)


def unsafe_id(value: str) -> str | None:
    """Why an item or collection id cannot be a URL path segment, or None if it can.

    Ids become ``/collections/{collection}/items/{id}``; a ``/`` there is decoded
    before routing even when escaped as ``%2F``, so such an item could be
    indexed but never fetched.  Refusing it at ingest is the honest answer.
    """
    if "/" in value:
        return "contains '/', which cannot be part of its URL (/collections/{c}/items/{id})"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains control characters"
    return None


def check_collection_id(cid: Any) -> str:
    """A collection id the catalogue can serve, or ItemValidationError."""
    if not isinstance(cid, str) or not cid.strip():
        raise ItemValidationError("collection has no string 'id'", where="collection ?")
    reason = unsafe_id(cid)
    if reason:
        raise ItemValidationError(f"collection id {reason}", where=f"collection {cid!r}")
    return cid


def _geometry(item: dict[str, Any], item_id: str) -> BaseGeometry | None:
    raw = item.get("geometry")
    if raw is None:
        return None
    if not isinstance(raw, dict) or "type" not in raw:
        raise _fail(item_id, "geometry is not a GeoJSON geometry object", "geometry")
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types for bad GeoJSON
        raise _fail(item_id, f"geometry does not parse: {exc}", "geometry") from exc
    if geom.is_empty:
        raise _fail(item_id, "geometry is empty", "geometry")
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise _fail(item_id, "geometry has non-finite coordinates", "geometry")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise _fail(item_id, "geometry is outside lon/lat range (WGS 84 expected)", "geometry")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def _times(props: dict[str, Any], item_id: str) -> tuple[float | None, float | None]:
    def instant(name: str) -> float | None:
        value = props.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _fail(item_id, f"{name} must be an RFC 3339 string", f"properties.{name}")
        try:
            return parse_instant(value, where=f"properties.{name}")
        except Exception as exc:
            raise _fail(
                item_id, f"{name} is not RFC 3339: {value!r}", f"properties.{name}"
            ) from exc

    if "datetime" not in props:
        raise _fail(item_id, "properties.datetime is required (may be null)", "properties.datetime")
    moment = instant("datetime")
    start = instant("start_datetime")
    end = instant("end_datetime")
    if moment is None and (start is None or end is None):
        raise _fail(
            item_id,
            "datetime is null, so start_datetime and end_datetime are both required",
            "properties.datetime",
        )
    if start is not None and end is not None and start > end:
        raise _fail(item_id, "start_datetime is after end_datetime", "properties.start_datetime")
    return (start if start is not None else moment), (end if end is not None else moment)


def _keywords(props: dict[str, Any]) -> str:
    words: list[str] = []
    for key in ("keywords", "platform", "constellation", "instruments", "mlm:name", "mlm:tasks"):
        value = props.get(key)
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, list):
            words.extend(str(v) for v in value if isinstance(v, str))
    return " ".join(words)


def _derived(props: dict[str, Any]) -> dict[str, Any]:
    """Flattened views of nested extension fields so they are queryable as plain lists.

    ``label:classes`` is a list of ``{name, classes}`` objects; a filter such as
    ``a_contains("label:classes", ('sea-ice'))`` wants the class values themselves.
    """
    derived: dict[str, Any] = {}
    classes = props.get("label:classes")
    if isinstance(classes, list):
        values: list[Any] = []
        for entry in classes:
            if isinstance(entry, dict):
                values.extend(entry.get("classes") or [])
        derived["label:classes"] = values
    return derived


def prepare_item(item: Any, *, default_collection: str | None = None) -> IndexedItem:
    """Check one STAC item and compute its index fields, or raise ItemValidationError."""
    if not isinstance(item, dict):
        raise ItemValidationError("an item must be a JSON object", where="item ?")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id.strip():
        raise ItemValidationError("item has no string 'id'", where="item ?", field="id")
    reason = unsafe_id(item_id)
    if reason:
        raise _fail(item_id, f"id {reason}", "id")
    if item.get("type") != "Feature":
        raise _fail(item_id, "type must be 'Feature'", "type")
    props = item.get("properties")
    if not isinstance(props, dict):
        raise _fail(item_id, "properties must be an object", "properties")
    collection = item.get("collection") or default_collection
    if not isinstance(collection, str) or not collection:
        raise _fail(item_id, "item names no collection", "collection")
    reason = unsafe_id(collection)
    if reason:
        raise _fail(item_id, f"collection id {reason}", "collection")
    if "geometry" not in item:
        raise _fail(
            item_id,
            "item has no 'geometry' member (GeoJSON requires one: null for an item "
            "without a location)",
            "geometry",
        )
    geom = _geometry(item, item_id)
    start, end = _times(props, item_id)
    for name in ("links", "assets"):
        expected = list if name == "links" else dict
        if name in item and not isinstance(item[name], expected):
            raise _fail(item_id, f"{name} must be a {expected.__name__}", name)
    concepts = props.get(CONCEPTS_PROPERTY) or []
    if not isinstance(concepts, list) or not all(isinstance(c, str) for c in concepts):
        raise _fail(item_id, f"{CONCEPTS_PROPERTY} must be a list of IRIs", CONCEPTS_PROPERTY)
    stored = dict(item)
    stored["collection"] = collection
    if geom is not None:
        stored["bbox"] = list(geom.bounds)
    text = {
        "title": str(props.get("title") or ""),
        "description": str(props.get("description") or ""),
        "keywords": _keywords(props),
    }
    return IndexedItem(
        item=stored,
        id=item_id,
        collection=collection,
        geometry=geom,
        bbox=tuple(geom.bounds) if geom is not None else None,
        start=start,
        end=end,
        text=text,
        concepts=list(dict.fromkeys(concepts)),
        derived=_derived(props),
    )


def placeholder_collection(cid: str) -> dict[str, Any]:
    """A minimal STAC collection for items whose collection was never added."""
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": cid,
        "description": f"Items of {cid}",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }


def valid_items(
    items: Iterable[Any],
    report: BulkReport,
    on_failure: Callable[[ItemFailure], None] | None = None,
) -> Iterator[IndexedItem]:
    """Prepared items in input order; each invalid one is recorded in ``report``
    (and handed to ``on_failure`` at once) and skipped, so one bad item never
    costs the good ones around it."""
    for position, raw in enumerate(items):
        try:
            yield prepare_item(raw)
        except ItemValidationError as exc:
            item_id = raw.get("id") if isinstance(raw, dict) else None
            report.failures.append(
                ItemFailure(
                    item_id if isinstance(item_id, str) else None,
                    exc.message,
                    exc.details.get("field"),
                    f"#{position}",
                )
            )
            if on_failure is not None:
                on_failure(report.failures[-1])
