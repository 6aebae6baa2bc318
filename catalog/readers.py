"""Stream STAC documents out of files without loading big files whole.

Accepts a STAC item, an ItemCollection/FeatureCollection, a STAC collection,
or newline-delimited JSON (one item per line, streamed).  Each yielded record
says where it came from (file and line or feature index) so failures can be
traced back to the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eokg.errors import InputError

NDJSON_SUFFIXES = {".ndjson", ".jsonl", ".geojsonl", ".geojsons"}


@dataclass(frozen=True)
class Record:
    kind: Literal["item", "collection", "broken"]
    doc: Any
    where: str
    error: str | None = None


def read_records(path: Path) -> Iterator[Record]:
    """Yield the items and collections in ``path`` (a file, or a folder walked for JSON)."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and (
                child.suffix in NDJSON_SUFFIXES or child.suffix in (".json", ".geojson")
            ):
                yield from read_records(child)
        return
    if not path.is_file():
        raise InputError("no such file", where=str(path))
    if path.suffix in NDJSON_SUFFIXES:
        yield from _ndjson(path)
        return
    try:
        with path.open("rb") as handle:
            doc = json.load(handle)
    except json.JSONDecodeError as exc:
        # A .json file may still be newline-delimited: try that before giving up.
        if exc.msg == "Extra data":
            yield from _ndjson(path)
            return
        yield Record("broken", None, f"{path}:{exc.lineno}", f"not JSON: {exc.msg}")
        return
    yield from classify(doc, str(path))


def _ndjson(path: Path) -> Iterator[Record]:
    # bytes, decoded line by line: one line that is not UTF-8 is that line's
    # failure, and the good items around it are still indexed
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                doc = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield Record("broken", None, where, f"not UTF-8 (byte {exc.start + 1})")
                continue
            except json.JSONDecodeError as exc:
                yield Record("broken", None, where, f"not JSON: {exc.msg}")
                continue
            yield from classify(doc, where)


def classify(doc: Any, where: str) -> Iterator[Record]:
    """Records in one parsed STAC document: an item, a collection, or an ItemCollection."""
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        for position, feature in enumerate(doc.get("features") or []):
            yield Record("item", feature, f"{where}#features[{position}]")
    elif kind == "Collection":
        yield Record("collection", doc, where)
    else:
        # Items and anything else: item validation reports what is wrong.
        yield Record("item", doc, where)
