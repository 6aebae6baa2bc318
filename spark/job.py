"""The Spark mapping job: sources as DataFrames, the plan per Arrow batch, part files out.

Sources are read by Spark where Spark reads them well (Parquet/GeoParquet
natively, CSV with its reader, NDJSON/STAC as text lines split across tasks);
JSON documents and GDAL formats (GeoJSON, Shapefile) are streamed on the
driver in Arrow batches.  Each partition runs the same vectorised Arrow
executor as the local engine inside ``mapInArrow`` (about 4x faster than
``mapInPandas`` here), so both engines give the same triples by construction.
Referencing object maps with join conditions become DataFrame joins.

The job makes one pass over the data: every output row is tagged ``t``
(triple), ``r`` (reject, JSON) or ``c`` (per-batch counts) and written with
``partitionBy("kind")``; the driver then moves part files into place and sums
the counts into ``_summary.json``.

Item sink (``run_spark(..., item_sink=...)``, indexing while mapping): the
executors that map a STAC source also emit each JSON line they parsed,
verbatim, as a fourth kind ``i`` in the same output, so the input is read
once and nothing is cached.  After the write the driver streams the
``kind=i`` part files line by line into the sink, on the driver thread, and
removes them with the rest of ``_staging``.  Executors never talk to the
sink (they could not reach a driver-side SQLite file, and a catalogue client
per task would multiply connections and lose transactions); they only write
files, next to the triples, which the driver already reads back for the
counts.  The alternatives were rejected: ``cache()`` + ``toLocalIterator()``
would keep the whole input in executor memory/disk and pull it through one
socket; a second ``spark.read`` is the second pass this avoids.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from eokg.errors import MappingError
from eokg.spark.local import ItemSink, JoinSpec, join_specs, prepare_output
from eokg.spark.model import LogicalSource, MappingPlan
from eokg.spark.sql_compile import CompiledSource, NotCompilable, compile_source
from eokg.spark.summary import JobSummary, spark_output

OUT_SCHEMA = "kind string, line string"
_OUT_ARROW = pa.schema([("kind", pa.string()), ("line", pa.string())])

#: A ``mapInArrow`` function: Arrow batches in, Arrow batches out (runs on executors).
_ArrowMapper = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]
#: Spark frame and projection mode of each record stream, by :attr:`LogicalSource.key`.
_Frames = dict[tuple[str, str, str | None], tuple[Any, str]]


def _source_kind(source: LogicalSource) -> str:
    """How Spark reads the source: parquet, csv, lines, xml or driver."""
    from eokg.spark.sources import _VECTOR, _VECTOR_SUFFIX, is_line_json

    fmt = source.formulation
    if fmt in _VECTOR:
        fmt = _VECTOR_SUFFIX.get(source.path.suffix.lower(), fmt)
    if fmt in ("parquet", "geoparquet"):
        return "parquet"
    if fmt == "csv":
        return "csv"
    if fmt in ("jsonpath", "stac", "statoil") and is_line_json(source):
        return "lines"
    if fmt == "xpath":
        return "xml"
    return "driver"


def source_frame(
    spark: Any,
    plan: MappingPlan,
    source: LogicalSource,
    batch_rows: int,
    on_records: Callable[[list[Any]], None] | None = None,
) -> tuple[Any, str]:
    """The DataFrame of ``source`` and how its batches are projected.

    ``on_records`` gets the parsed records of sources streamed on the driver
    (JSON documents); sources read by Spark ignore it.  A plan with logical
    targets (``rml:logicalTarget``) is refused: this engine does not write them.
    """
    from eokg.spark.sources import read_source
    from eokg.spark.targets import refuse_on_spark

    refuse_on_spark(plan)
    if not source.path.exists():
        raise MappingError(f"source file not found: {source.path}", where=source.where)
    kind = _source_kind(source)
    path = str(source.path)
    refs = plan.references_for(source)
    if kind == "parquet":
        df = spark.read.parquet(path)
        names = df.columns
        wanted = sorted({r.text if r.text in names else r.path[0] for r in refs})
        for name in wanted:
            if name not in names:
                from eokg.spark.sources import missing_reference_error

                raise missing_reference_error(plan, source, name, refs, names)
        return df.select(*wanted) if wanted else df, "arrow"
    if kind == "csv":
        return _csv_frame(spark, source, batch_rows), "arrow"
    if kind == "lines":
        return spark.read.text(path), "lines"
    if kind == "xml":
        return _xml_frame(spark, source, refs, batch_rows), "projected"
    # Driver-side streaming: projected Arrow batches become a DataFrame.
    # (JSON documents and GDAL files fail as a whole or not at all: no per-record rejects here.)
    tables = [
        pa.Table.from_batches([batch])
        for batch, _ in read_source(plan, source, batch_rows, on_records=on_records)
    ]
    if not tables:
        return None, "projected"
    table = pa.concat_tables(tables)
    return spark.createDataFrame(table), "projected"


#: File suffixes Spark decompresses by itself (Hadoop codecs): with no
#: ``rml:compression``, the local engine reads such a file as it is, so must Spark.
_HADOOP_CODECS = {".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy"}


def _csv_frame(spark: Any, source: LogicalSource, batch_rows: int) -> Any:
    """A CSV source's own columns as text, exactly as the local engine reads them.

    Spark's CSV reader cannot: it reads an unquoted empty cell as null (RML:
    an empty string unless ``rml:null ""`` is declared), takes one null value
    only, and reads neither zip/tar archives nor UTF-16.  So a UTF-8 file,
    plain or ``.gz``, is read by Spark as text lines, split across tasks, and
    each batch of lines is parsed by :func:`eokg.spark.sources.parse_csv_lines`
    (the local reader's options: delimiter, declared nulls, quoting); the
    header is the first line of the file's first split, dropped there.  Any
    other file (UTF-16, zip, tar, gzip without ``.gz``) is read whole by one
    task with the local reader.  Rows the reader rejects (ragged rows,
    undecodable cells) ride along as rows whose :data:`READER_REJECT` column
    holds the reject (``with_reader_rejects``); the mapping functions take
    them out of the batch and write them as rejects, so one read of the file
    serves both.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    from eokg.spark.sources import csv_header

    header = csv_header(source)
    schema = StructType([StructField(name, StringType()) for name in (*header, READER_REJECT)])
    suffix = source.path.suffix.lower()
    spark_reads = source.encoding == "utf-8" and (
        (source.compression is None and suffix not in _HADOOP_CODECS)
        or (source.compression == "gzip" and suffix == ".gz")
    )
    if not spark_reads:

        def read(_: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            from eokg.spark.sources import csv_file_batches

            for batch, rejects in csv_file_batches(source, batch_rows):
                yield with_reader_rejects(batch, rejects)

        seed = spark.createDataFrame([(str(source.path),)], "path string").repartition(1)
        return seed.mapInArrow(read, schema)

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from eokg.spark.sources import parse_csv_lines

        header_seen = False
        for batch in batches:
            lines = batch.column(0).to_pylist()
            if not header_seen:
                starts = batch.column(1).to_pylist()
                if 0 in starts:  # this task holds the file's first split: its first line
                    header_seen = True
                    del lines[starts.index(0)]
            rejects: list[dict[str, Any]] = []
            kept = [line for line in lines if line is not None]
            yield with_reader_rejects(parse_csv_lines(source, header, kept, rejects), rejects)

    text = spark.read.text(str(source.path))
    text = text.select("value", F.input_file_block_start().alias("start"))
    return text.mapInArrow(parse, schema)


#: A source frame's column holding, on the rows the reader rejected, the reject
#: (``reject_line`` JSON); null on every row read.  Only CSV frames have it.
READER_REJECT = "_eokg_reader_reject"


def with_reader_rejects(batch: pa.RecordBatch, rejects: list[dict[str, Any]]) -> pa.RecordBatch:
    """``batch`` plus a :data:`READER_REJECT` column, and one all-null row per reject."""
    from eokg.spark.arrow_exec import reject_line

    n, m = batch.num_rows, len(rejects)
    columns = [
        pa.concat_arrays([column, pa.nulls(m, column.type)]) if m else column
        for column in batch.columns
    ]
    marks = pa.array([None] * n + [reject_line(r) for r in rejects], pa.string())
    return pa.RecordBatch.from_arrays([*columns, marks], names=[*batch.schema.names, READER_REJECT])


def split_reader_rejects(
    batch: pa.RecordBatch,
) -> tuple[pa.RecordBatch, list[dict[str, Any]]]:
    """The rows read (without :data:`READER_REJECT`) and the rejects riding along."""
    import pyarrow.compute as pc

    if READER_REJECT not in batch.schema.names:
        return batch, []
    marks = batch.column(READER_REJECT)
    names = [name for name in batch.schema.names if name != READER_REJECT]
    read = batch.select(names)
    if marks.null_count == len(marks):
        return read, []
    rejects = [json.loads(text) for text in marks.filter(pc.is_valid(marks)).to_pylist()]
    return read.filter(pc.is_null(marks)), rejects


def _reader_reject_frame(df: Any, source: LogicalSource) -> Any:
    """The (kind, line) rows of the reader's rejects of a source frame, counts included.

    For sources compiled to SQL, which read the frame apart from the mapping
    functions; their CSV parse then runs twice (``--compile-sql`` only).
    """
    from pyspark.sql import functions as F

    counts = json.dumps({"records": {}, "triples": {}, "rejects": {str(source.path): 1}})
    bad = df.where(F.col(READER_REJECT).isNotNull())
    rows = bad.select(F.lit("r").alias("kind"), F.col(READER_REJECT).alias("line"))
    return rows.unionByName(bad.select(F.lit("c").alias("kind"), F.lit(counts).alias("line")))


def _xml_frame(spark: Any, source: LogicalSource, refs: list[Any], batch_rows: int) -> Any:
    """An XML file read by one task, streamed into projected Arrow batches.

    The file is one partition (XML cannot be split at byte offsets); the task
    streams it with :func:`eokg.spark.xml_source.xml_batches` and the mapping
    runs on the batches as they come, in the same stage, so no node holds the
    whole file for a simple-path iterator.  Every column is ``list<string>``
    so that the schema is known before the file is read, and named by
    :func:`~eokg.spark.xml_source.xpath_key`: Spark cannot resolve a column
    whose name holds a dot (``val:../@id``); the executor finds the values by
    that key (``Reference.path[0]``) all the same.
    """
    from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

    from eokg.spark.project import ROW_COLUMN
    from eokg.spark.xml_source import xml_plan

    xml_plan(source, refs)  # unsupported XPath fails here, on the driver, by name
    keyed = list({ref.path[0]: ref for ref in refs}.values())  # "val:x" and "raw:x" read x once
    schema = StructType(
        [StructField(ROW_COLUMN, LongType())]
        + [StructField(ref.path[0], ArrayType(StringType())) for ref in keyed]
    )

    def read(_: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from eokg.spark.sources import open_bytes
        from eokg.spark.xml_source import xml_batches

        for batch in xml_batches(source, keyed, batch_rows, open_bytes, lists=True):
            yield batch.rename_columns([ROW_COLUMN, *(ref.path[0] for ref in keyed)])

    seed = spark.createDataFrame([(str(source.path),)], "path string").repartition(1)
    return seed.mapInArrow(read, schema)


def _mapper(
    plan: MappingPlan, source: LogicalSource, mode: str, items: bool = False
) -> _ArrowMapper:
    """The mapInArrow function for one source (runs on executors).

    With ``items`` (line sources only) every line that parses as JSON is also
    emitted verbatim as a ``kind = 'i'`` row, for the driver's item sink.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from eokg.spark.arrow_exec import Executor, reject_line
        from eokg.spark.project import parse_json_lines, project_arrow, project_records
        from eokg.spark.sources import source_reject

        executor = Executor(plan)
        refs = plan.references_for(source)
        for batch in batches:
            source_rejects: list[dict[str, Any]] = []
            item_lines: list[str] = []
            if mode == "lines":
                texts = batch.column(0).to_pylist()
                records, rows, bad = parse_json_lines(texts)
                if items:
                    item_lines = [texts[row] for row in rows]
                projected = project_records(records, refs)
                source_rejects = [
                    source_reject(source, None, text, reason) for _, text, reason in bad
                ]
            else:
                batch, source_rejects = split_reader_rejects(batch)
                projected = project_arrow(batch, refs)
            result = executor.run(source.key, projected, str(source.path))
            kinds: list[str] = []
            lines: list[pa.Array] = []
            triples = result.triple_count()
            for arrays in result.lines.values():
                for array in arrays:
                    lines.append(array)
                    kinds.append("t")
            rejects = source_rejects + result.rejects
            reject_counts: dict[str, int] = {}
            for r in rejects:
                key = r["triples_map"] or r["source"]
                reject_counts[key] = reject_counts.get(key, 0) + 1
            extra = [reject_line(r) for r in rejects]
            extra.append(
                json.dumps(
                    {"records": result.records, "triples": triples, "rejects": reject_counts}
                )
            )
            kind_col = [pa.array(["t"] * len(a), pa.string()) for a in lines]
            kind_col.append(pa.array(["r"] * len(rejects) + ["c"], pa.string()))
            line_col = [*lines, pa.array(extra, pa.string())]
            if item_lines:
                kind_col.append(pa.array(["i"] * len(item_lines), pa.string()))
                line_col.append(pa.array(item_lines, pa.string()))
            yield pa.RecordBatch.from_arrays(
                [pa.concat_arrays(kind_col), pa.concat_arrays(line_col)], schema=_OUT_ARROW
            )

    return run


def _keys_mapper(
    plan: MappingPlan, spec: JoinSpec, source: LogicalSource, mode: str, side: str
) -> _ArrowMapper:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from eokg.spark.arrow_exec import Executor
        from eokg.spark.project import parse_json_lines, project_arrow, project_records

        executor = Executor(plan)
        refs = plan.references_for(source)
        tm = spec.child if side == "child" else plan.get(spec.rom.parent)
        for batch in batches:
            if mode == "lines":
                records, _, _ = parse_json_lines(batch.column(0).to_pylist())
                projected = project_records(records, refs)
            else:  # the reader's rejects are written by the source's own mapping function
                projected = project_arrow(split_reader_rejects(batch)[0], refs)
            table = executor.join_keys(tm, spec.rom, projected, side)
            yield from table.to_batches()

    return run


def _join_frame(spark: Any, plan: MappingPlan, spec: JoinSpec, frames: _Frames) -> Any:
    from pyspark.sql import functions as F

    keys = [f"k{i}" for i in range(len(spec.rom.joins))]
    schema = "term string, " + ", ".join(f"{k} string" for k in keys)
    child_src = spec.child.source
    parent_src = plan.get(spec.rom.parent).source
    cdf, cmode = frames[child_src.key]
    pdf, pmode = frames[parent_src.key]
    if cdf is None or pdf is None:
        return None
    child = cdf.mapInArrow(_keys_mapper(plan, spec, child_src, cmode, "child"), schema)
    parent = pdf.mapInArrow(_keys_mapper(plan, spec, parent_src, pmode, "parent"), schema)
    parent = parent.withColumnRenamed("term", "pterm")
    joined = child.join(parent, on=keys, how="inner")
    outs = []
    for pred in spec.predicates:
        for graph in spec.graphs or (None,):
            parts = [F.col("term"), F.lit(pred), F.col("pterm")]
            if graph:
                parts.append(F.lit(graph))
            parts.append(F.lit("."))
            outs.append(
                joined.select(F.lit("t").alias("kind"), F.concat_ws(" ", *parts).alias("line"))
            )
    frame = outs[0]
    for other in outs[1:]:
        frame = frame.unionByName(other)
    return frame


def run_spark(
    plan: MappingPlan,
    output: Path | str,
    spark: Any,
    *,
    distinct: bool = False,
    batch_rows: int = 10_000,
    item_sink: ItemSink | None = None,
    compile_sql: bool = False,
    geometry_engine: str = "auto",
) -> JobSummary:
    """Map ``plan`` with Spark into ``output``: part files, ``_rejects/``, ``_summary.json``.

    With ``compile_sql``, sources whose maps need no Python are mapped with
    Spark SQL expressions (:mod:`eokg.spark.sql_compile`), the others with the
    Arrow executor in ``mapInArrow``; the output is the same.  Off by default:
    on the benchmark mapping (1M CSV records, local[2]) the SQL expressions
    took about 7 s against 4.7 s for the Arrow executor in ``mapInArrow``.

    ``item_sink`` is called once, on the driver, after the Spark write, with
    an iterator that streams every STAC item the job read (the parsed JSON of
    each line, exactly once, in no particular order; lines that are not JSON
    are rejects and are not passed on).  See the module docstring for how the
    items travel.  STAC sources that are JSON documents are read on the driver
    anyway: their items are kept from that read and handed out first.

    ``geometry_engine`` "sedona" compiles the geometry functions of a source
    to Apache Sedona SQL (the source then never leaves the JVM; the session
    must have Sedona); "shapely" and "auto" keep them in ``mapInArrow``:
    "auto" takes the engine measured faster, and for mapping that is shapely
    (bench/README.md, "Sedona on Spark": vectorised GEOS per Arrow batch beats
    Sedona's per-row geometry (de)serialisation on 2 cores).  A source Sedona
    cannot map exactly as shapely does stays on shapely; the summary's
    ``geometry_engine`` and ``geometry_fallbacks`` say what ran and why.
    """
    from pyspark.sql import functions as F

    from eokg.spark.session import has_sedona
    from eokg.spark.sources import item_sources

    start = time.perf_counter()
    out_dir = Path(output)
    prepare_output(out_dir)
    frames: _Frames = {}
    outputs = []
    teed = {s.key for s in item_sources(plan)} if item_sink is not None else set()
    driver_items: list[Any] = []
    compiled: list[CompiledSource] = []
    arrow_rows = int(spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch", "10000"))
    sedona = _use_sedona(spark, geometry_engine)
    engines: dict[str, str] = {}  # geometry sources -> "sedona" | "shapely"
    fallbacks: dict[str, str] = {}
    for source in plan.sources():
        tee = driver_items.extend if source.key in teed else None
        df, mode = source_frame(spark, plan, source, batch_rows, on_records=tee)
        frames[source.key] = (df, mode)
        if df is None:
            continue
        geometric = uses_geometry(plan, source)
        if geometric:
            engines[source.name] = "shapely"
        if (compile_sql or (sedona and geometric)) and source.key not in teed:
            read = df
            if READER_REJECT in df.columns:
                read = df.where(F.col(READER_REJECT).isNull()).drop(READER_REJECT)
            try:
                compiled.append(compile_source(plan, source, read, mode, arrow_rows, sedona))
                outputs.append(compiled[-1].frame)
                if read is not df:
                    outputs.append(_reader_reject_frame(df, source))
                if geometric:
                    engines[source.name] = "sedona"
                continue
            except NotCompilable as exc:  # the whole source stays on the Arrow executor
                if geometric and sedona:
                    fallbacks[source.name] = str(exc)
        elif geometric and sedona:
            fallbacks[source.name] = "its records are tee'd to the item sink"
        mapper = _mapper(plan, source, mode, items=source.key in teed)
        outputs.append(df.mapInArrow(mapper, OUT_SCHEMA))
    for spec in join_specs(plan):
        frame = _join_frame(spark, plan, spec, frames)
        if frame is not None:
            outputs.append(frame)
    if not outputs:
        raise MappingError("the mapping has no readable source", where=", ".join(plan.files))
    result = outputs[0]
    for other in outputs[1:]:
        result = result.unionByName(other)
    if distinct:
        triples = result.filter(F.col("kind") == "t").dropDuplicates(["line"])
        result = triples.unionByName(result.filter(F.col("kind") != "t"))
    staging = out_dir / "_staging"
    with spark_output(out_dir):
        result.write.partitionBy("kind").mode("overwrite").text(str(staging))
        summary = JobSummary(engine="spark", output=str(out_dir), distinct=distinct)
        suffix = ".nq" if plan.uses_graphs else ".nt"
        summary.add_counts(*_collect(staging, out_dir, suffix))
        for source_sql in compiled:
            summary.add_counts(*source_sql.collect_counts())
        try:
            if item_sink is not None:
                item_sink(_staged_items(staging, driver_items))  # stopping early drops the rest
        finally:
            shutil.rmtree(staging)
        triples_written = summary.triples_per_map
        summary.triples = sum(triples_written.values())
        if distinct or join_specs(plan):
            summary.triples = _count_lines(out_dir.glob(f"part-*{suffix}"))
        summary.sedona = has_sedona(spark)
        summary.geometry_engine = _engine_word(set(engines.values()))
        summary.geometry_fallbacks = fallbacks
        summary.seconds = round(time.perf_counter() - start, 3)
        summary.write(out_dir)
    return summary


def uses_geometry(plan: MappingPlan, source: LogicalSource) -> bool:
    """True when a map of ``source`` calls a geometry function (one with a geometry)."""
    from eokg.spark.functions import FUNCTIONS, P_GEOMETRY

    def calls(term: Any) -> bool:
        if term.kind != "function" or term.function is None:
            return False
        spec = FUNCTIONS.get(term.function.function)
        return (spec is not None and P_GEOMETRY in spec.params) or any(
            calls(p) for _, p in term.function.params
        )

    for tm in plan.triples_maps:
        if tm.source.key == source.key:
            terms = [tm.subject, *tm.subject_graphs]
            terms += [t for pom in tm.poms for t in (*pom.predicates, *pom.objects, *pom.graphs)]
            if any(calls(t) for t in terms):
                return True
    return False


def _use_sedona(spark: Any, geometry_engine: str) -> bool:
    from eokg.spark.session import has_sedona

    if geometry_engine not in ("auto", "sedona", "shapely"):
        raise MappingError(f"unknown geometry engine {geometry_engine!r}", where="geometry_engine")
    if geometry_engine != "sedona":  # "auto": shapely measured faster for mapping
        return False
    if not has_sedona(spark):
        raise MappingError(
            "the Spark session has no Apache Sedona (its jars: scripts/install.sh)",
            where="geometry_engine",
        )
    return True


def _engine_word(used: set[str]) -> str | None:
    """ "sedona", "shapely", "sedona+shapely", or None for a mapping without geometry."""
    return "+".join(sorted(used, reverse=True)) or None


def _collect(
    staging: Path, out_dir: Path, suffix: str
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Move part files into place; sum the per-batch count rows."""
    records: dict[str, int] = {}
    triples: dict[str, int] = {}
    rejects: dict[str, int] = {}
    n = 0
    for path in sorted((staging / "kind=t").glob("part-*")):
        if path.stat().st_size:
            path.rename(out_dir / f"part-{n:05d}{suffix}")
            n += 1
    m = 0
    for path in sorted((staging / "kind=r").glob("part-*")):
        if path.stat().st_size:
            (out_dir / "_rejects").mkdir(exist_ok=True)
            path.rename(out_dir / "_rejects" / f"part-{m:05d}.jsonl")
            m += 1
    for path in sorted((staging / "kind=c").glob("part-*")):
        for line in path.read_text(encoding="utf-8").splitlines():
            counts = json.loads(line)
            for target, key in ((records, "records"), (triples, "triples"), (rejects, "rejects")):
                for name, value in counts[key].items():
                    target[name] = target.get(name, 0) + value
    return records, triples, rejects


def _staged_items(staging: Path, first: list[Any]) -> Iterator[dict[str, Any]]:
    """The items kept from the driver-side read, then the ``kind=i`` part files, streamed."""
    yield from first
    first.clear()
    for path in sorted((staging / "kind=i").glob("part-*")):
        with path.open("rb") as handle:  # Spark wrote one JSON document a line
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def _count_lines(paths: Iterator[Path]) -> int:
    total = 0
    for path in paths:
        with path.open("rb") as handle:
            read_chunk = functools.partial(handle.read, 1 << 20)
            total += sum(chunk.count(b"\n") for chunk in iter(read_chunk, b""))
    return total
