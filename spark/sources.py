"""Stream a logical source as projected Arrow batches, without Spark.

Every reader yields ``(batch, rejects)`` pairs of bounded size so that a file
larger than memory is mapped in constant memory; records that cannot even be
parsed (a broken NDJSON line) come back as rejects rather than exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from eokg.errors import MappingError
from eokg.spark.model import Formulation, LogicalSource, MappingPlan, Reference
from eokg.spark.project import (
    MissingColumn,
    parse_json_lines,
    project_arrow,
    project_records,
)

SourceBatch = tuple[pa.RecordBatch, list[dict[str, Any]]]
#: Called with the parsed JSON records of each batch, before the batch is yielded.
RecordTee = Callable[[list[Any]], None]


def is_line_json(source: LogicalSource) -> bool:
    """NDJSON (one record a line) rather than one JSON document."""
    if source.formulation == "stac":
        return source.path.suffix.lower() != ".json" or source.iterator in (None, "$")
    return source.formulation == "jsonpath" and (
        source.path.suffix.lower() in (".ndjson", ".jsonl") and source.iterator in (None, "$")
    )


def item_sources(plan: MappingPlan) -> list[LogicalSource]:
    """The STAC sources whose records go to an item sink, one per file.

    Two logical sources of one file (another iterator, another mapping) read the
    same items: only the first feeds the sink, so each item arrives once.
    """
    chosen: dict[Path, LogicalSource] = {}
    for source in plan.sources():
        if source.formulation == "stac":
            chosen.setdefault(source.path.resolve(), source)
    return list(chosen.values())


def reference_sites(plan: MappingPlan, source: LogicalSource) -> dict[str, str]:
    """Reference column -> the first term map that reads it, for error messages."""
    sites: dict[str, str] = {}
    for tm in plan.triples_maps:
        terms = [tm.subject, *tm.subject_graphs]
        for pom in tm.poms:
            terms.extend([*pom.predicates, *pom.objects, *pom.graphs])
        for term in terms:
            for ref in term.references():
                sites.setdefault(ref.text, term.where)
        for pom in tm.poms:
            for rom in pom.ref_objects:
                for join in rom.joins:
                    sites.setdefault(join.child.text, rom.where)
                    sites.setdefault(join.parent.text, rom.where)
    return sites


def missing_reference_error(
    plan: MappingPlan,
    source: LogicalSource,
    column: str,
    refs: Sequence[Reference],
    available: Sequence[str],
) -> MappingError:
    sites = reference_sites(plan, source)
    ref = next((r for r in refs if r.path[0] == column or r.text == column), None)
    where = sites.get(ref.text if ref else column, source.where)
    shown = ", ".join(a for a in available if not a.startswith("__"))
    return MappingError(
        f"unknown reference {column!r}: {source.path.name} has columns [{shown}]", where=where
    )


_VECTOR = ("geojson", "geoparquet", "parquet", "shapefile")
_VECTOR_SUFFIX: dict[str, Formulation] = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".shp": "shapefile",
    ".zip": "shapefile",
    ".parquet": "geoparquet",
    ".gpkg": "geojson",
}


def read_source(
    plan: MappingPlan,
    source: LogicalSource,
    batch_rows: int = 10_000,
    *,
    on_records: RecordTee | None = None,
) -> Iterator[SourceBatch]:
    """Projected batches of ``source`` with the columns ``plan`` reads.

    ``on_records`` (JSON sources only: NDJSON, STAC, JSON documents) receives
    the parsed records of each batch, unprojected, from the same read; lines
    that do not parse are rejects and are not passed on.
    """
    refs = plan.references_for(source)
    if not source.path.exists():
        raise MappingError(f"source file not found: {source.path}", where=source.where)
    fmt = source.formulation
    if fmt in _VECTOR:  # vector formats are interchangeable: --input may swap the file type
        fmt = _VECTOR_SUFFIX.get(source.path.suffix.lower(), fmt)
    if fmt == "csv":
        yield from _arrow_batches(plan, source, refs, _csv_batches(source.path, batch_rows))
    elif fmt in ("parquet", "geoparquet"):
        yield from _arrow_batches(
            plan, source, refs, _parquet_batches(source.path, refs, batch_rows)
        )
    elif fmt in ("geojson", "shapefile"):
        yield from _arrow_batches(plan, source, refs, _ogr_batches(source.path, batch_rows))
    elif is_line_json(source):
        yield from _ndjson(source, refs, batch_rows, on_records)
    else:
        yield from _json_document(source, refs, batch_rows, on_records)


def _arrow_batches(
    plan: MappingPlan,
    source: LogicalSource,
    refs: list[Reference],
    batches: Iterator[pa.RecordBatch],
) -> Iterator[SourceBatch]:
    row = 0
    for batch in batches:
        try:
            projected = project_arrow(batch, refs, first_row=row)
        except MissingColumn as exc:
            raise missing_reference_error(
                plan, source, exc.args[0], refs, batch.schema.names
            ) from None
        row += batch.num_rows
        yield projected, []


def csv_header(path: Path) -> list[str]:
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def _csv_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """CSV with every column read as text: RML gives CSV values as strings."""
    from pyarrow import csv

    header = csv_header(path)
    reader = csv.open_csv(
        path,
        read_options=csv.ReadOptions(block_size=max(1 << 20, batch_rows * 200)),
        convert_options=csv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=True
        ),
    )
    yield from reader


def _parquet_batches(
    path: Path, refs: list[Reference], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    wanted = sorted({r.text if r.text in names else r.path[0] for r in refs})
    missing = [w for w in wanted if w not in names]
    if missing:
        raise MissingColumn(missing[0])
    yield from file.iter_batches(batch_size=batch_rows, columns=wanted or None)


def _ogr_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """GeoJSON/Shapefile via GDAL's Arrow stream; geometry as WKB column ``geometry``."""
    from pyogrio.raw import open_arrow

    with open_arrow(path, batch_size=batch_rows, use_pyarrow=True) as (meta, reader):
        geom_name = meta.get("geometry_name") or "wkb_geometry"
        for batch in reader:
            names = ["geometry" if n == geom_name else n for n in batch.schema.names]
            yield pa.RecordBatch.from_arrays(batch.columns, names=names)


def _ndjson(
    source: LogicalSource,
    refs: list[Reference],
    batch_rows: int,
    on_records: RecordTee | None = None,
) -> Iterator[SourceBatch]:
    with source.path.open(encoding="utf-8") as handle:
        row = 0
        lines: list[str] = []
        for line in handle:
            lines.append(line)
            if len(lines) >= batch_rows:
                yield _json_lines_batch(source, refs, lines, row, on_records)
                row += len(lines)
                lines = []
        if lines:
            yield _json_lines_batch(source, refs, lines, row, on_records)


def _json_lines_batch(
    source: LogicalSource,
    refs: list[Reference],
    lines: list[str],
    first_row: int,
    on_records: RecordTee | None = None,
) -> SourceBatch:
    records, rows, bad = parse_json_lines(lines, first_row)
    if on_records is not None:
        on_records(records)
    batch = project_records(records, refs)
    batch = batch.set_column(0, "__row", pa.array(rows, pa.int64()))
    rejects = [source_reject(source, row, text, reason) for row, text, reason in bad]
    return batch, rejects


def source_reject(source: LogicalSource, row: int | None, text: str, reason: str) -> dict[str, Any]:
    return {
        "triples_map": None,
        "mapping": None,
        "source": str(source.path),
        "row": row,
        "reason": f"{source.path.name} record {row}: {reason}",
        "record": text,
    }


def select_iterator(document: Any, iterator: str | None, where: str) -> list[Any]:
    """Records selected by a simple JSONPath iterator: ``$``, ``$[*]``, ``$.a.b[*]``."""
    from eokg.spark.model import parse_reference

    if iterator in (None, "$", "$[*]", "$.*"):
        if isinstance(document, list):
            return document
        return [document]
    try:
        ref = parse_reference(iterator.replace("[*]", ""))
    except ValueError as exc:
        raise MappingError(f"unsupported rml:iterator {iterator!r}: {exc}", where=where) from exc
    current: Any = document
    for key in ref.path:
        if not isinstance(current, dict) or key not in current:
            raise MappingError(f"rml:iterator {iterator!r} selects nothing", where=where)
        current = current[key]
    return current if isinstance(current, list) else [current]


def _json_document(
    source: LogicalSource,
    refs: list[Reference],
    batch_rows: int,
    on_records: RecordTee | None = None,
) -> Iterator[SourceBatch]:
    try:
        with source.path.open(encoding="utf-8") as handle:
            document = json.load(handle)
    except ValueError as exc:
        raise MappingError(
            f"{source.path.name} is not valid JSON: {exc}", where=source.where
        ) from exc
    records = select_iterator(document, source.iterator, source.where)
    for start in range(0, len(records), batch_rows):
        chunk = records[start : start + batch_rows]
        if on_records is not None:
            on_records(chunk)
        yield project_records(chunk, refs, first_row=start), []
