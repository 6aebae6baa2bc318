"""Stream a logical source as projected Arrow batches, without Spark.

Every reader yields ``(batch, rejects)`` pairs of bounded size so that a file
larger than memory is mapped in constant memory; records that cannot even be
parsed (a broken NDJSON line) come back as rejects rather than exceptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

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
        rejects: list[dict[str, Any]] = []
        batches = _csv_batches(source, batch_rows, rejects)
        yield from _arrow_batches(plan, source, refs, batches, rejects)
    elif fmt in ("parquet", "geoparquet"):
        yield from _arrow_batches(
            plan, source, refs, _parquet_batches(source.path, refs, batch_rows)
        )
    elif fmt in ("geojson", "shapefile"):
        yield from _arrow_batches(plan, source, refs, _ogr_batches(source.path, batch_rows))
    elif fmt == "xpath":
        from eokg.spark.xml_source import xml_batches

        for batch in xml_batches(source, refs, batch_rows, open_bytes):
            yield batch, []
    elif is_line_json(source):
        yield from _ndjson(source, refs, batch_rows, on_records)
    else:
        yield from _json_document(source, refs, batch_rows, on_records)


def _arrow_batches(
    plan: MappingPlan,
    source: LogicalSource,
    refs: list[Reference],
    batches: Iterator[pa.RecordBatch],
    rejects: list[dict[str, Any]] | None = None,
) -> Iterator[SourceBatch]:
    """Project each batch; ``rejects`` is filled by the reader as it reads (CSV)."""
    row = 0
    for batch in batches:
        try:
            projected = project_arrow(batch, refs, first_row=row)
        except MissingColumn as exc:
            raise missing_reference_error(
                plan, source, exc.args[0], refs, batch.schema.names
            ) from None
        row += batch.num_rows
        found = list(rejects or ())
        if rejects:
            rejects.clear()
        yield projected, found


def open_bytes(source: LogicalSource | Path) -> IO[bytes]:
    """The source's bytes, decompressed: gzip, or the first file of a zip/tar archive."""
    if isinstance(source, Path):
        return source.open("rb")
    path, compression = source.path, source.compression
    if compression == "gzip":
        import gzip

        return cast(IO[bytes], gzip.GzipFile(path, "rb"))  # typeshed: GzipFile is no IO
    if compression == "zip":
        import zipfile

        archive = zipfile.ZipFile(path)
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        if not names:
            raise MappingError(f"{path.name} is an empty zip archive", where=source.where)
        return archive.open(names[0])
    if compression in ("tar", "targz"):
        import tarfile

        tar = tarfile.open(path, "r:gz" if compression == "targz" else "r:")  # noqa: SIM115
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        if member is None:
            raise MappingError(f"{path.name} is an empty tar archive", where=source.where)
        handle = tar.extractfile(member)
        assert handle is not None
        return handle
    return path.open("rb")


def csv_delimiter(source: LogicalSource | Path) -> str:
    """Tab for ``.tsv`` files (RML-IO reads TSV with the CSV formulation), else comma."""
    path = source if isinstance(source, Path) else source.path
    name = path.name.lower().removesuffix(".gz").removesuffix(".zip")
    return "\t" if name.endswith(".tsv") else ","


def csv_header(source: LogicalSource | Path) -> list[str]:
    import csv
    import io

    encoding = "utf-8" if isinstance(source, Path) else source.encoding
    with open_bytes(source) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        header = next(csv.reader(text, delimiter=csv_delimiter(source)), [])
    return [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)]


def csv_convert_options(source: LogicalSource, header: list[str], text_type: pa.DataType) -> Any:
    """Every column as text; only the declared ``rml:null`` values are nulls (RML-IO)."""
    from pyarrow import csv

    return csv.ConvertOptions(
        column_types={name: text_type for name in header},
        null_values=list(source.null_values),
        strings_can_be_null=bool(source.null_values),
        quoted_strings_can_be_null=False,
    )


def parse_csv_lines(
    source: LogicalSource,
    header: list[str],
    lines: Sequence[str],
    rejects: list[dict[str, Any]] | None = None,
) -> pa.RecordBatch:
    """Data lines of a CSV source (no header, valid text) parsed as :func:`read_source` does.

    The Spark engine reads CSV files as text lines, split across tasks, and
    parses each batch of lines here, so that both engines read the same
    values.  A ragged row is left out and, given ``rejects``, reported there
    as the local reader reports it (its file line is not known on a split).
    """
    import io

    from pyarrow import csv

    if not lines:
        return pa.RecordBatch.from_pylist([], schema=csv_schema(header))

    def ragged(row: Any) -> str:
        if rejects is not None:
            rejects.append(source_reject(source, None, row.text, _ragged_reason(row)))
        return "skip"

    data = ("\n".join(lines) + "\n").encode("utf-8")
    table = csv.read_csv(
        io.BytesIO(data),
        read_options=csv.ReadOptions(column_names=header, use_threads=False),
        parse_options=csv.ParseOptions(delimiter=csv_delimiter(source), invalid_row_handler=ragged),
        convert_options=csv_convert_options(source, header, pa.string()),
    )
    return pa.RecordBatch.from_arrays(
        [c.combine_chunks() for c in table.columns], schema=csv_schema(header)
    )


def csv_schema(header: list[str]) -> pa.Schema:
    return pa.schema([pa.field(name, pa.string()) for name in header])


def csv_file_batches(
    source: LogicalSource, batch_rows: int
) -> Iterator[tuple[pa.RecordBatch, list[dict[str, Any]]]]:
    """The source's own columns as text, read as :func:`read_source` reads them, each
    batch with the rejects (ragged rows, undecodable cells) met while reading it."""
    rejects: list[dict[str, Any]] = []
    for batch in _csv_batches(source, batch_rows, rejects):
        yield batch, rejects[:]
        rejects.clear()


def _csv_batches(
    source: LogicalSource, batch_rows: int, rejects: list[dict[str, Any]]
) -> Iterator[pa.RecordBatch]:
    """CSV with every column read as text: RML gives CSV values as strings.

    Only the source's declared null values (``rml:null``) are nulls.  A ragged
    row or a cell that is not valid text in the source's encoding is a
    reject (file, line, reason) appended to ``rejects``; the rest is read.
    """
    from pyarrow import csv

    header = csv_header(source)
    skipped: list[int] = []  # file lines of ragged rows, in order

    def ragged(row: Any) -> str:
        if row.number is not None:
            skipped.append(row.number)
        rejects.append(
            source_reject(
                source,
                None,
                row.text,
                _ragged_reason(row),
                line=row.number,
            )
        )
        return "skip"

    reader = csv.open_csv(
        open_bytes(source),
        read_options=csv.ReadOptions(
            block_size=max(1 << 20, batch_rows * 200),
            column_names=header,
            skip_rows=1,
            use_threads=False,  # row numbers of ragged rows are known only when serial
            encoding=source.encoding,
        ),
        parse_options=csv.ParseOptions(delimiter=csv_delimiter(source), invalid_row_handler=ragged),
        convert_options=csv_convert_options(source, header, pa.binary()),
    )
    row = 0
    for batch in reader:
        yield _decoded(source, batch, row, rejects, skipped)
        row += batch.num_rows


def _ragged_reason(row: Any) -> str:
    return f"{row.actual_columns} fields where the header has {row.expected_columns}"


def _file_line(row: int, skipped: list[int]) -> int:
    """File line of data row ``row`` (0-based), past the header and the skipped ragged rows."""
    line = row + 2
    for bad in skipped:
        if bad <= line:
            line += 1
    return line


def _decoded(
    source: LogicalSource,
    batch: pa.RecordBatch,
    first_row: int,
    rejects: list[dict[str, Any]],
    skipped: list[int],
) -> pa.RecordBatch:
    """Binary CSV columns as text; rows with undecodable cells are rejected and dropped."""
    try:
        return pa.RecordBatch.from_arrays(
            [c.cast(pa.string()) for c in batch.columns], names=batch.schema.names
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    bad: set[int] = set()
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        for i, value in enumerate(col.to_pylist()):
            if value is None or i in bad:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad.add(i)
                rejects.append(
                    source_reject(
                        source,
                        first_row + i,
                        value.decode("utf-8", "replace"),
                        f"column {name!r} is not valid UTF-8: {exc.reason}",
                        line=_file_line(first_row + i, skipped),
                    )
                )
    keep = pa.array([i not in bad for i in range(batch.num_rows)])
    kept = batch.filter(keep)
    return pa.RecordBatch.from_arrays(
        [c.cast(pa.string()) for c in kept.columns], names=kept.schema.names
    )


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
    """NDJSON in batches of lines; a line that does not decode or parse is a reject."""
    with open_bytes(source) as handle:
        row = 0
        lines: list[str | None] = []
        undecodable: list[dict[str, Any]] = []
        for raw in handle:
            try:
                lines.append(raw.decode(source.encoding))
            except UnicodeDecodeError as exc:
                lines.append(None)  # keeps the row numbers of the lines after it
                text = raw.decode(source.encoding, "replace")[:2000]
                where = row + len(lines) - 1
                reason = f"not valid {source.encoding}: {exc.reason}"
                undecodable.append(source_reject(source, where, text, reason, line=where + 1))
            if len(lines) >= batch_rows:
                yield _json_lines_batch(source, refs, lines, row, on_records, undecodable)
                row += len(lines)
                lines, undecodable = [], []
        if lines:
            yield _json_lines_batch(source, refs, lines, row, on_records, undecodable)


def _json_lines_batch(
    source: LogicalSource,
    refs: list[Reference],
    lines: list[str | None],
    first_row: int,
    on_records: RecordTee | None = None,
    undecodable: list[dict[str, Any]] | None = None,
) -> SourceBatch:
    records, rows, bad = parse_json_lines(lines, first_row)
    if on_records is not None:
        on_records(records)
    batch = project_records(records, refs, typed=source.natural_types)
    batch = batch.set_column(0, "__row", pa.array(rows, pa.int64()))
    rejects = list(undecodable or ())
    rejects += [source_reject(source, row, text, reason, line=row + 1) for row, text, reason in bad]
    return batch, rejects


def source_reject(
    source: LogicalSource, row: int | None, text: str, reason: str, line: int | None = None
) -> dict[str, Any]:
    """A record the reader could not read: which file, which line, why."""
    if line is None and row is not None and source.formulation == "csv":
        line = row + 2  # the header is line 1 (no quoted line breaks assumed)
    if line is not None:
        reason = f"{source.path.name} line {line}: {reason}"
    elif row is not None:
        reason = f"{source.path.name} record {row}: {reason}"
    else:  # a record of a split read by Spark: its position in the file is not known
        reason = f"{source.path.name}: {reason}"
    return {
        "triples_map": None,
        "mapping": None,
        "source": str(source.path),
        "file": str(source.path),
        "line": line,
        "row": row,
        "reason": reason,
        "record": text,
    }


def select_iterator(document: Any, iterator: str | None, where: str) -> list[Any]:
    """Records selected by a JSONPath iterator.

    Supported: ``$``, ``.key``, ``['key']``, ``[*]``, ``.*``, ``[n]``, ``[n:m]`` and
    ``..key`` (descendants), in any nesting (``$.a[*].b[*]``).  A root array
    with the iterator ``$`` yields its elements, as ``$[*]`` would.
    """
    if iterator in (None, "$"):
        return document if isinstance(document, list) else [document]
    try:
        steps = _jsonpath_steps(iterator)
    except ValueError as exc:
        raise MappingError(f"unsupported rml:iterator {iterator!r}: {exc}", where=where) from exc
    current: list[Any] = [document]
    for kind, arg in steps:
        current = [out for node in current for out in _step(node, kind, arg)]
    if len(current) == 1 and isinstance(current[0], list) and steps[-1][0] == "key":
        return current[0]  # "$.items" naming an array iterates over it
    return current


_STEP = re.compile(
    r"\.\.(?P<desc>[A-Za-z0-9_\-:$@]+|\*)|\.(?P<key>[A-Za-z0-9_\-:$@]+)|\.(?P<star>\*)"
    r"|\[\s*(?P<quoted>'[^']*'|\"[^\"]*\")\s*\]|\[\s*(?P<all>\*)\s*\]"
    r"|\[\s*(?P<index>-?[0-9]+)\s*\]|\[\s*(?P<slice>-?[0-9]*:-?[0-9]*)\s*\]"
)


def _jsonpath_steps(path: str) -> list[tuple[str, str]]:
    """``$.a[*]..b`` -> [("key", "a"), ("all", ""), ("desc", "b")]."""
    body = path.strip()
    if not body.startswith("$"):
        body = "$." + body
    pos, steps = 1, []
    while pos < len(body):
        match = _STEP.match(body, pos)
        if match is None:
            raise ValueError(f"cannot read {body[pos:]!r}")
        kind = match.lastgroup or ""
        arg = match.group(kind) or ""
        if kind == "quoted":
            kind, arg = "key", arg[1:-1]
        elif kind == "star":
            kind = "all"
        steps.append((kind, arg))
        pos = match.end()
    return steps


def _step(node: Any, kind: str, arg: str) -> list[Any]:
    """One JSONPath step from one node."""
    if kind == "key":
        return [node[arg]] if isinstance(node, dict) and arg in node else []
    if kind == "all":
        if isinstance(node, list):
            return list(node)
        return list(node.values()) if isinstance(node, dict) else []
    if kind == "index":
        i = int(arg)
        return [node[i]] if isinstance(node, list) and -len(node) <= i < len(node) else []
    if kind == "slice":
        start, _, stop = arg.partition(":")
        if not isinstance(node, list):
            return []
        return node[int(start) if start else None : int(stop) if stop else None]
    return _descendants(node, arg)


def _descendants(node: Any, key: str) -> list[Any]:
    """``..key`` (or ``..*``): matches at any depth, document order."""
    out: list[Any] = []
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for name, child in children:
        if key == "*" or name == key:
            out.append(child)
        out.extend(_descendants(child, key))
    return out


def _json_document(
    source: LogicalSource,
    refs: list[Reference],
    batch_rows: int,
    on_records: RecordTee | None = None,
) -> Iterator[SourceBatch]:
    try:
        with open_bytes(source) as handle:
            document = json.loads(handle.read().decode(source.encoding))
    except ValueError as exc:  # UnicodeDecodeError included: one document fails whole
        raise MappingError(
            f"{source.path.name} is not valid JSON: {exc}", where=source.where
        ) from exc
    records = select_iterator(document, source.iterator, source.where)
    for start in range(0, len(records), batch_rows):
        chunk = records[start : start + batch_rows]
        if on_records is not None:
            on_records(chunk)
        yield project_records(chunk, refs, first_row=start, typed=source.natural_types), []
