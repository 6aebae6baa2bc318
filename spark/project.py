"""Project records onto the columns a mapping reads.

Whatever the input format, the executor sees one Arrow batch whose columns are
named after the references (``val:<ref>`` / ``raw:<ref>``).  ``val`` columns
hold lexical strings (``list<string>`` when a reference yields several values,
as a JSON array does); ``raw`` columns keep a value whole: JSON text for
objects and arrays, WKB bytes for binary geometry.  Doing the format-specific
work here keeps the executor format-agnostic, which is what lets the same code
run locally and inside Spark's ``mapInArrow``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from eokg.spark.model import Reference

ROW_COLUMN = "__row"


class MissingColumn(KeyError):
    """A reference names a column the source does not have."""


# ------------------------------------------------------------- python records


def lexical(value: Any) -> str | None:
    """The RDF lexical form of a JSON scalar."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _walk(value: Any, path: Sequence[str]) -> list[Any]:
    """Values at ``path``; arrays on the way fan out, as JSONPath does."""
    current = [value]
    for key in path:
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict):
                if key in item:
                    nxt.append(item[key])
            elif isinstance(item, list):
                for element in item:
                    if isinstance(element, dict) and key in element:
                        nxt.append(element[key])
        current = nxt
    return current


def extract(record: Any, ref: Reference) -> Any:
    """One reference from one record: str, list[str] (val) or JSON text (raw), or None."""
    found = _walk(record, ref.path)
    if ref.raw:
        if not found or found[0] is None:
            return None
        value = found[0] if len(found) == 1 else found
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return lexical(value)
    flat: list[str] = []
    for item in found:
        if isinstance(item, list):
            flat.extend(s for s in (lexical(v) for v in item) if s is not None)
        else:
            text = lexical(item)
            if text is not None:
                flat.append(text)
    if not flat:
        return None if not any(isinstance(i, list) for i in found) else []
    if len(flat) == 1 and not any(isinstance(i, list) for i in found):
        return flat[0]
    return flat


def project_records(
    records: Sequence[Any], refs: Iterable[Reference], first_row: int = 0, typed: bool = False
) -> pa.RecordBatch:
    """Python records (parsed JSON) -> projected batch.

    With ``typed`` (RML-Core natural mapping), a reference that yields JSON
    numbers or booleans also gets a :func:`type_column` of their XSD datatypes.
    """
    arrays: list[pa.Array] = [pa.array(range(first_row, first_row + len(records)), pa.int64())]
    names = [ROW_COLUMN]
    for ref in refs:
        values = [extract(r, ref) for r in records]
        multi = any(isinstance(v, list) for v in values)
        if multi:
            values = [v if isinstance(v, list) or v is None else [v] for v in values]
        arrays.append(pa.array(values, type=pa.list_(pa.string()) if multi else pa.string()))
        names.append(ref.column)
        if typed and not ref.raw:
            types = _natural_types(records, ref, multi)
            if types is not None:
                arrays.append(types)
                names.append(type_column(ref))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def type_column(ref: Reference) -> str:
    """Name of the column of natural datatypes beside a reference's values."""
    return "type:" + ref.text


_XSD = "http://www.w3.org/2001/XMLSchema#"


def natural_datatype(value: Any) -> str | None:
    """XSD datatype of a JSON scalar: integer, double, boolean; None for strings."""
    if isinstance(value, bool):
        return _XSD + "boolean"
    if isinstance(value, int):
        return _XSD + "integer"
    if isinstance(value, float):
        return _XSD + "double"
    return None


def _natural_types(records: Sequence[Any], ref: Reference, multi: bool) -> pa.Array | None:
    """Datatypes aligned with the reference's values, or None when all are strings."""
    out: list[Any] = []
    for record in records:
        found = _walk(record, ref.path)
        flat = [v for item in found for v in (item if isinstance(item, list) else [item])]
        kinds = [natural_datatype(v) for v in flat if lexical(v) is not None]
        out.append(kinds if multi else (kinds[0] if kinds else None))
    if not any(k for k in out if k):
        return None
    return pa.array(out, pa.list_(pa.string()) if multi else pa.string())


def parse_json_lines(
    lines: Sequence[str | None], first_row: int = 0
) -> tuple[list[Any], list[int], list[tuple[int, str, str]]]:
    """Parse NDJSON lines; bad ones come back as (row, text, reason), never raise."""
    records: list[Any] = []
    rows: list[int] = []
    bad: list[tuple[int, str, str]] = []
    for offset, line in enumerate(lines):
        if line is None or not line.strip():
            continue
        try:
            records.append(json.loads(line))
            rows.append(first_row + offset)
        except ValueError as exc:
            bad.append((first_row + offset, line[:2000], f"unparseable JSON: {exc}"))
    return records, rows, bad


# -------------------------------------------------------------- arrow batches


def _to_lexical(col: pa.Array) -> pa.Array:
    """Typed Arrow column -> lexical strings (list<string> for list columns)."""
    t = col.type
    if pa.types.is_string(t):
        return col
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return col.cast(pa.string())
    if pa.types.is_dictionary(t):
        return _to_lexical(col.dictionary_decode())
    if pa.types.is_timestamp(t):
        text = pc.strftime(col.cast(pa.timestamp("us", t.tz)), format="%Y-%m-%dT%H:%M:%S")
        text = pc.replace_substring_regex(text, r"\.0+$", "")
        text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
        if t.tz is not None:
            text = pc.binary_join_element_wise(text, "Z", "")
        return text
    if pa.types.is_floating(t):
        bad = pc.or_(pc.is_nan(col), pc.is_inf(col))
        return pc.if_else(bad, pa.scalar(None, pa.string()), col.cast(pa.string()))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        values = _to_lexical(pc.list_flatten(col))
        offsets = col.offsets if not pa.types.is_fixed_size_list(t) else None
        if offsets is None:
            return pa.array(
                [None if v is None else [lexical(x) for x in v] for v in col.to_pylist()],
                pa.list_(pa.string()),
            )
        base = offsets[0].as_py()
        offsets = pc.subtract(offsets, base) if base else offsets
        return pa.ListArray.from_arrays(offsets, values, mask=col.is_null())
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return pa.array([lexical(v) for v in col.to_pylist()], pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pa.array([v.hex() if v is not None else None for v in col.to_pylist()], pa.string())
    return col.cast(pa.string())


def _to_raw(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return col.cast(pa.binary())
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or (pa.types.is_struct(t) or pa.types.is_map(t))
    ):
        return pa.array(
            [None if v is None else json.dumps(v, separators=(",", ":")) for v in col.to_pylist()],
            pa.string(),
        )
    return _to_lexical(col)


def _column(batch: pa.RecordBatch, name: str) -> pa.Array:
    index = batch.schema.get_field_index(name)
    if index < 0:
        raise MissingColumn(name)
    col = batch.column(index)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def project_arrow(
    batch: pa.RecordBatch | pa.Table, refs: Iterable[Reference], first_row: int = 0
) -> pa.RecordBatch:
    """Arrow batch of the source's own columns -> projected batch.

    Raises :class:`MissingColumn` when a reference names no column, which the
    caller reports as a mapping error naming the term map.
    """
    if isinstance(batch, pa.Table):
        batch = (
            batch.combine_chunks().to_batches()[0]
            if batch.num_rows
            else pa.RecordBatch.from_pylist([], schema=batch.schema)
        )
    n = batch.num_rows
    arrays: list[pa.Array] = []
    names: list[str] = []
    if ROW_COLUMN in batch.schema.names:
        arrays.append(_column(batch, ROW_COLUMN))
    else:
        arrays.append(pa.array(range(first_row, first_row + n), pa.int64()))
    names.append(ROW_COLUMN)
    records: list[Any] | None = None
    for ref in refs:
        if ref.column in batch.schema.names:  # already projected (e.g. from the driver)
            arrays.append(_column(batch, ref.column))
            names.append(ref.column)
            if type_column(ref) in batch.schema.names:  # natural datatypes travel along
                arrays.append(_column(batch, type_column(ref)))
                names.append(type_column(ref))
            continue
        if len(ref.path) == 1 or ref.text in batch.schema.names:
            name = ref.text if ref.text in batch.schema.names else ref.path[0]
            col = _column(batch, name)
            arrays.append(_to_raw(col) if ref.raw else _to_lexical(col))
        else:
            if ref.path[0] not in batch.schema.names:
                raise MissingColumn(ref.path[0])
            if records is None:
                records = batch.to_pylist()
            single = project_records(records, [ref])
            arrays.append(single.column(1))
        names.append(ref.column)
    return pa.RecordBatch.from_arrays(arrays, names=names)
