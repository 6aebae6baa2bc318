"""The queryables JSON Schema (STAC Filter extension), from properties seen at ingest.

Core fields are always queryable; every other property (including label and MLM
extension fields such as ``label:classes``, ``mlm:name``, ``mlm:architecture``,
``mlm:tasks``) is listed with the JSON type observed when it was indexed.  The
list is exhaustive (``additionalProperties: false``): a filter or sort key naming
anything else is refused with a 400 that names it (``search_common.check_queryables``).
"""

from __future__ import annotations

from typing import Any

CORE: dict[str, dict[str, Any]] = {
    "id": {"description": "Item identifier", "type": "string"},
    "collection": {"description": "Collection identifier", "type": "string"},
    "geometry": {"description": "Footprint", "$ref": "https://geojson.org/schema/Geometry.json"},
    "datetime": {"description": "Acquisition time", "type": "string", "format": "date-time"},
    "start_datetime": {
        "description": "Start of the item's time",
        "type": "string",
        "format": "date-time",
    },
    "end_datetime": {
        "description": "End of the item's time",
        "type": "string",
        "format": "date-time",
    },
}
#: names every backend answers whatever was indexed.
ALWAYS_QUERYABLE = frozenset(CORE)
#: queryables a search cannot be ordered by.
UNSORTABLE = frozenset({"geometry"})
DATETIME_FIELDS = {"datetime", "start_datetime", "end_datetime", "created", "updated"}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def queryables_document(
    seen: dict[str, str], collection: str | None, base_url: str = "https://eokg.dev/stac"
) -> dict[str, Any]:
    properties: dict[str, Any] = dict(CORE)
    for name, kind in sorted(seen.items()):
        if name in properties:
            continue
        schema: dict[str, Any] = {"type": kind} if kind != "null" else {}
        if name in DATETIME_FIELDS and kind == "string":
            schema["format"] = "date-time"
        properties[name] = schema
    suffix = f"/collections/{collection}" if collection else ""
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base_url}{suffix}/queryables",
        "type": "object",
        "title": f"Queryables{' of ' + collection if collection else ''}",
        "properties": properties,
        "additionalProperties": False,
    }
