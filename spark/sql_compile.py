"""Compile function-free triples maps to Spark SQL column expressions.

The Spark job maps most sources by running the Arrow executor per batch inside
``mapInArrow``; every value then crosses the JVM/Python boundary twice.  When
every triples map over a source needs no Python at all (constants, references
and templates over plain columns, datatypes, language tags, term types; no
FnML functions, no geometry), this module writes the same N-Triples/N-Quads
lines, the same reject records and the same counts with Spark SQL expressions
instead, so the source never leaves the JVM.

The expressions mirror :mod:`eokg.spark.arrow_exec` step by step, and output is
identical by construction rather than by approximation:

* constant terms are rendered by the Arrow executor itself, on the driver;
* IRI-safe percent-encoding, ``<...>`` escaping and blank-node labels apply
  the executor's own character classes (Java regex understands the same
  ``\\x{...}`` syntax), code point by code point, only on values that need it;
* datatype checks use the executor's lexical patterns with ``$`` turned into
  ``\\z`` (Java's ``$`` also matches before a final newline, RE2's does not);
* a record whose subject misses a reference is rejected for every map of the
  source, with the reject JSON built exactly as ``json.dumps`` would, and the
  ``row`` number the ``mapInArrow`` path would report (the position in its
  Arrow batch: partition position modulo ``maxRecordsPerBatch``).

A source stays on the Python path if anything is not expressible that way:
functions, nested JSON paths, list/float/timestamp/binary columns, sources
Spark does not read itself (JSON lines, GDAL files), ambiguous column names.
Keeping whole sources on one path is what keeps the reject rule ("a record
rejected by any map of a source yields no triples from any map") intact.
Counts reach the driver through a Spark :class:`~pyspark.sql.Observation`
collected during the one write, so the data is still read once.

``run_spark(..., compile_sql=True)`` turns this on; it is off by default
because on the benchmark mapping (1M CSV records, 7M triples, local[2]) the
row-wise SQL string building was slower than the vectorised Arrow executor
plus the Arrow transfer (about 7 s against 4.7 s of compute).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from eokg.spark.arrow_exec import (
    _IRI_UNSAFE,
    _IRIREF_FORBIDDEN,
    _LEXICAL,
    _LITERAL_ESCAPES,
    RDF_TYPE,
    XSD,
    Executor,
)
from eokg.spark.model import LogicalSource, MappingPlan, Reference, TermMap, TriplesMap
from eokg.spark.project import ROW_COLUMN

_BLANK_UNSAFE = r"[^A-Za-z0-9_\-]"
#: What ``json.dumps`` escapes in a string (ensure_ascii=False), and how.
_JSON_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\b", "\\b"),
    ("\f", "\\f"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    *((chr(c), f"\\u{c:04x}") for c in range(0x20) if chr(c) not in "\b\f\n\r\t"),
)
_JSON_SPECIAL = r'[\x00-\x1f"\\]'
#: Spark column types whose string cast equals the Arrow executor's lexical form.
_PLAIN_TYPES = ("StringType", "ByteType", "ShortType", "IntegerType", "LongType", "BooleanType")
#: Bits of ``monotonically_increasing_id()`` that hold the position in the partition.
_POSITION_MASK = (1 << 33) - 1
_POSITION = "__position"


class NotCompilable(Exception):
    """The source needs the Python path; the message says why (for logs and tests)."""


def _java_regex(pattern: str) -> str:
    """An executor (RE2) pattern for Java: only a trailing ``$`` differs."""
    if pattern.count("$") != 1 or not pattern.endswith("$"):
        raise NotCompilable(f"pattern {pattern!r} has an unexpected '$'")
    return pattern[:-1] + r"\z"


@dataclass
class CompiledSource:
    """The (kind, line) frame of one source and the observations holding its counts."""

    frame: Any
    maps: tuple[str, ...]
    observation: Any  # pyspark Observation: n, t<i>, r<i>

    def collect_counts(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(records, triples, rejects) per map, as the ``c`` rows of ``mapInArrow`` give them."""
        metrics = self.observation.get
        n = int(metrics.get("n") or 0)
        records: dict[str, int] = {}
        triples: dict[str, int] = {}
        rejects: dict[str, int] = {}
        for i, iri in enumerate(self.maps):
            if n:
                records[iri] = records.get(iri, 0) + n
            t = int(metrics.get(f"t{i}") or 0)
            r = int(metrics.get(f"r{i}") or 0)
            if t:
                triples[iri] = triples.get(iri, 0) + t
            if r:
                rejects[iri] = rejects.get(iri, 0) + r
        return records, triples, rejects


class _Compiler:
    def __init__(
        self, plan: MappingPlan, source: LogicalSource, df: Any, sedona: bool = False
    ) -> None:
        self.plan = plan
        #: geometry function terms become Sedona SQL (eokg.spark.sedona_sql)
        self.sedona = sedona
        self.calls: dict[TermMap, Any] = {}  # TermMap -> sedona_sql.CompiledCall
        self.source = source
        self.executor = Executor(plan)
        self.maps = self.executor.maps_for(source.key)
        names = list(df.columns)
        if len({n.lower() for n in names}) != len(names):
            raise NotCompilable("column names differ only in case")
        self.types = {
            n: type(f.dataType).__name__ for n, f in zip(names, df.schema.fields, strict=True)
        }
        self.names = names
        # Positional renaming: no quoting, dot or case rules can bite afterwards.
        self.df = df.toDF(*[f"c{i}" for i in range(len(names))])
        self.refs = plan.references_for(source)
        #: Term maps computed once per row, as columns, before the lines are assembled.
        self.columns: dict[TermMap, tuple[str, Any]] = {}
        self._iri_safe: dict[int, Any] = {}
        self._one_row = pa.RecordBatch.from_arrays([pa.array([0], pa.int64())], [ROW_COLUMN])

    # ------------------------------------------------------------- checks
    def check(self) -> None:
        if not self.maps:
            raise NotCompilable("no triples map reads this source")
        if self.source.natural_types:
            raise NotCompilable("JSON values keep their types (projected in Python)")
        for tm in self.maps:
            objects = {o for pom in tm.poms for o in pom.objects}
            for term in self.term_maps(tm):
                _check_rml_core(term)
                if term.kind == "function" and self.sedona and term in objects:
                    self.call(term)
                elif term.kind not in ("constant", "reference", "template"):
                    raise NotCompilable(f"{term.where} calls a function")
        for ref in self.refs:
            self.column_of(ref)
        self.probe_geometries()

    def call(self, term: TermMap) -> Any:
        """The compiled geometry function of ``term`` (a ``sedona_sql.CompiledCall``)."""
        from eokg.spark import sedona_sql

        if term not in self.calls:
            prefix = f"__s{len(self.calls)}"
            self.calls[term] = sedona_sql.compile_call(
                term, self.value, _json_value, prefix, self.geometry_column(term)
            )
        return self.calls[term]

    def geometry_column(self, term: TermMap) -> int:
        """The source column of a function's geometry parameter (-1: none, not compilable)."""
        from eokg.spark.functions import P_GEOMETRY

        param = term.function.param(P_GEOMETRY) if term.function else None
        if param is None or param.reference is None:
            return -1
        return self.column_of(param.reference)

    def staged(self) -> Any:
        """The source frame plus the geometry calls' intermediate columns, stage by stage."""
        df = self.df
        depth = max((len(call.stages) for call in self.calls.values()), default=0)
        for level in range(depth):
            columns: dict[str, Any] = {}
            for call in self.calls.values():
                if level < len(call.stages):
                    columns.update(call.stages[level])
            df = df.select("*", *[expr.alias(name) for name, expr in columns.items()])
        return df

    def probe_geometries(self) -> None:
        """One look at the geometry columns: a ``<crs>`` prefix or GeoJSON needs shapely.

        The only pass over the data before the write, and only for sources with
        geometry functions; it stops at the first such value.
        """
        from pyspark.sql import functions as F

        from eokg.spark.sedona_sql import NOT_WKT

        columns = {self.column_of(call.geometry) for call in self.calls.values()}
        if not columns:
            return
        cond = F.lit(False)
        for index in sorted(columns):
            cond = cond | F.col(f"c{index}").rlike(NOT_WKT)
        if self.df.where(cond).limit(1).count():
            raise NotCompilable("some geometries carry a CRS prefix or are GeoJSON")

    def term_maps(self, tm: TriplesMap) -> list[TermMap]:
        terms = [tm.subject, *tm.subject_graphs]
        for pom in tm.poms:
            terms.extend([*pom.predicates, *pom.objects, *pom.graphs])
            for rom in pom.ref_objects:
                if not rom.joins:
                    terms.append(self.plan.get(rom.parent).subject)
        return terms

    def column_of(self, ref: Reference) -> int:
        """The position of the source column ``project_arrow`` would read for ``ref``."""
        if ref.text in self.names:
            name = ref.text
        elif len(ref.path) == 1 and ref.path[0] in self.names:
            name = ref.path[0]
        else:
            raise NotCompilable(f"reference {ref.text!r} is not a plain column")
        if self.types[name] not in _PLAIN_TYPES:
            raise NotCompilable(f"column {name!r} is {self.types[name]}")
        if ref.raw and self.types[name] != "StringType":  # raw of a string is the string
            raise NotCompilable(f"reference {ref.text!r} is read whole (raw)")
        return self.names.index(name)

    # -------------------------------------------------------------- terms
    def value(self, ref: Reference) -> Any:
        """The lexical string of a reference, as ``_to_lexical`` gives it."""
        from pyspark.sql import functions as F

        index = self.column_of(ref)
        col = F.col(f"c{index}")
        return col if self.types[self.names[index]] == "StringType" else col.cast("string")

    def iri_safe(self, ref: Reference) -> Any:
        """The IRI-safe form of a reference: a column of its own (stage 1), so each
        value is encoded once per record however many templates read it."""
        from pyspark.sql import functions as F

        index = self.column_of(ref)
        if index not in self._iri_safe:
            self._iri_safe[index] = _encode_chars(self.value(ref), _IRI_UNSAFE, _percent)
        return F.col(f"__e{index}")

    def term(self, term: TermMap) -> Any:
        """N-Triples text of a term map's (single) term, null where there is none."""
        from pyspark.sql import functions as F

        if term.kind == "constant":
            text = self.executor.terms(term, self._one_row, None).values[0].as_py()
            return F.lit(text).cast("string")
        if term.kind == "function":
            lexical = self.call(term).value
        elif term.kind == "reference":
            assert term.reference is not None
            lexical = self.value(term.reference)
        else:
            parts = []
            for part in term.template:
                if isinstance(part, str):
                    parts.append(F.lit(part))
                else:
                    if term.term_type == "iri":
                        parts.append(self.iri_safe(part))
                    else:
                        parts.append(self.value(part))
            lexical = F.concat(*parts) if parts else F.lit("")
        if term.term_type == "iri":
            if term.kind == "reference":  # a value that is no IRI makes no term (as Arrow)
                lexical = F.when(~lexical.rlike(_IRIREF_FORBIDDEN), lexical)
            elif term.kind != "template":
                lexical = _encode_chars(lexical, _IRIREF_FORBIDDEN, _percent)
            return F.concat(F.lit("<"), lexical, F.lit(">"))
        if term.term_type == "blank":
            return F.concat(F.lit("_:"), _encode_chars(lexical, _BLANK_UNSAFE, _blank_char))
        pattern = _LEXICAL.get(term.datatype or "")
        if pattern is not None:
            if term.datatype in (XSD + "integer", XSD + "int", XSD + "long"):
                lexical = F.regexp_replace(lexical, r"^([+-]?[0-9]+)\.0*\z", "$1")
            lexical = F.when(lexical.rlike(_java_regex(pattern)), lexical)
        for old, new in _LITERAL_ESCAPES:
            lexical = F.replace(lexical, F.lit(old), F.lit(new))
        if term.language:
            suffix = f'"@{term.language}'
        elif term.datatype and term.datatype != XSD + "string":
            suffix = f'"^^<{term.datatype}>'
        else:
            suffix = '"'
        return F.concat(F.lit('"'), lexical, F.lit(suffix))

    # -------------------------------------------------------------- lines
    def lines(self, tm: TriplesMap) -> list[tuple[Any, list[str]]]:
        """Every line of one map (``Executor.run_map`` in columns), each with the term
        columns that must all have a value for the line to exist.  Lines that can
        never exist (a constant literal of the wrong lexical form) are left out."""
        from pyspark.sql import functions as F

        def term(t: TermMap) -> tuple[Any, list[str]] | None:
            if t.kind == "constant":
                text = self.executor.terms(t, self._one_row, None).values[0].as_py()
                return None if text is None else (F.lit(text), [])
            if t not in self.columns:
                self.columns[t] = (f"__t{len(self.columns)}", self.term(t))
            name = self.columns[t][0]
            return F.col(name), [name]

        def join(*terms: tuple[Any, list[str]] | None) -> tuple[Any, list[str]] | None:
            if any(t is None for t in terms):
                return None
            parts: list[Any] = []
            deps: list[str] = []
            for t in terms:
                assert t is not None
                parts += [t[0], F.lit(" ")]
                deps += [d for d in t[1] if d not in deps]
            return F.concat(*parts, F.lit(".")), deps

        def quads(
            s: Any, p: Any, o: Any, graphs: list[tuple[Any, list[str]] | None]
        ) -> list[tuple[Any, list[str]]]:
            found = [join(s, p, o)] if not graphs else [join(s, p, o, g) for g in graphs]
            return [line for line in found if line is not None]

        subject = term(tm.subject)
        subject_graphs = [term(g) for g in tm.subject_graphs]
        out: list[tuple[Any, list[str]]] = []
        rdf_type: tuple[Any, list[str]] = (F.lit(RDF_TYPE), [])
        for cls in tm.classes:
            out.extend(quads(subject, rdf_type, (F.lit(f"<{cls}>"), []), subject_graphs))
        for pom in tm.poms:
            graphs = subject_graphs + [term(g) for g in pom.graphs]
            objects = [term(o) for o in pom.objects]
            for rom in pom.ref_objects:
                if not rom.joins:
                    objects.append(term(self.plan.get(rom.parent).subject))
            for pred in pom.predicates:
                for obj in objects:
                    out.extend(quads(subject, term(pred), obj, graphs))
        return out

    # ------------------------------------------------------------ rejects
    def missing(self, tm: TriplesMap) -> tuple[Any, Any] | None:
        """(is rejected, reason) of one map: a subject reference with no value, then the
        first geometry function that rejects, in the order the executor calls them."""
        from pyspark.sql import functions as F

        reasons = [self.calls[o].reason for p in tm.poms for o in p.objects if o in self.calls]
        refs = tm.subject.references() if tm.subject.kind in ("reference", "template") else []
        if not refs and not reasons:
            return None
        bad = F.lit(False)
        reason = F.coalesce(*reasons) if reasons else F.lit(None).cast("string")
        for ref in reversed(refs):  # the first missing reference names the reason
            text = f"{tm.subject.where}: missing value for reference {ref.text!r}"
            null = self.value(ref).isNull()
            bad = null | bad
            reason = F.when(null, F.lit(json.dumps(text, ensure_ascii=False))).otherwise(reason)
        for call_reason in reasons:
            bad = bad | call_reason.isNotNull()
        return bad, reason

    def reject_line(self, tm: TriplesMap, reason: Any, row: Any) -> Any:
        """The reject JSON ``reject_line`` writes, field for field."""
        from pyspark.sql import functions as F

        def dumps(value: Any) -> str:
            return json.dumps(value, ensure_ascii=False)

        head = (
            f'{{"triples_map": {dumps(tm.iri)}, "mapping": {dumps(tm.mapping_file)}, '
            f'"source": {dumps(str(self.source.path))}, "row": '
        )
        parts: list[Any] = [F.lit(head), row.cast("string"), F.lit(', "reason": '), reason]
        parts.append(F.lit(', "record": {'))
        seen: list[str] = []
        for ref in self.refs:
            if ref.text in seen:  # a dict keeps the first position, the last value
                raise NotCompilable(f"reference {ref.text!r} projected twice")
            seen.append(ref.text)
        for i, ref in enumerate(self.refs):
            parts.append(F.lit((", " if i else "") + dumps(ref.text) + ": "))
            parts.append(_json_value(self.value(ref)))
        parts.append(F.lit("}}"))
        return F.concat(*parts)

    # ------------------------------------------------------------- frame
    def build(self, batch_rows: int) -> CompiledSource:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        self.check()
        position = F.col(_POSITION)
        row = position % F.lit(batch_rows) if batch_rows > 0 else position
        entries: list[Any] = []
        present: list[Any] = []  # per map: how many of its lines a good record yields
        rejected: list[tuple[Any, Any, Any]] = []
        for i, tm in enumerate(self.maps):
            count: Any = F.lit(0)
            for line, deps in self.lines(tm):
                entries.append(
                    F.struct(F.lit("t").alias("kind"), line.alias("line"), F.lit(i).alias("m"))
                )
                has_all = F.lit(True)
                for dep in deps:
                    has_all = has_all & F.col(dep).isNotNull()
                count = count + F.when(has_all, 1).otherwise(0) if deps else count + 1
            present.append(count)
            missing = self.missing(tm)
            if missing is not None:
                bad, reason = missing
                rejected.append((bad, self.reject_line(tm, reason, row), F.lit(i)))
        # Stage 1: the position in the partition and the IRI-safe values, in a projection
        # of their own: the id is nondeterministic, so Spark never inlines this stage
        # into the next (where the id would only advance on the rows reaching a branch).
        positioned = self.staged().select(
            "*",
            F.monotonically_increasing_id().bitwiseAND(F.lit(_POSITION_MASK)).alias(_POSITION),
            *[expr.alias(f"__e{index}") for index, expr in self._iri_safe.items()],
        )
        # Stage 2: every term once, and the reject line of the first map that rejects.
        stage2 = [position]
        stage2 += [expr.alias(name) for name, expr in self.columns.values()]
        reject_line: Any = F.lit(None).cast("string")
        reject_map: Any = F.lit(None).cast("int")
        for bad, line, index in reversed(rejected):  # the first map that rejects wins
            reject_line = F.when(bad, line).otherwise(reject_line)
            reject_map = F.when(bad, index).otherwise(reject_map)
        stage2 += [reject_line.alias("__reject"), reject_map.alias("__reject_map")]
        selected = positioned.select(*stage2)
        # Counts per record (not per line: a million rows, not seven million), observed
        # while the job's one write runs.
        good = F.col("__reject").isNull()
        metrics = [F.count(F.lit(1)).alias("n")]
        for i, count in enumerate(present):
            metrics.append(F.sum(F.when(good, count).otherwise(0)).alias(f"t{i}"))
            metrics.append(F.sum(F.when(F.col("__reject_map") == i, 1).otherwise(0)).alias(f"r{i}"))
        observation = Observation()
        terms = selected.observe(observation, *metrics)
        # Stage 3: the lines of a good record, or its one reject.
        triples = (
            F.array(*entries)
            if entries
            else F.array().cast("array<struct<kind:string,line:string,m:int>>")
        )
        reject = F.struct(
            F.lit("r").alias("kind"),
            F.col("__reject").alias("line"),
            F.col("__reject_map").alias("m"),
        )
        chosen = F.when(good, triples).otherwise(F.array(reject))
        frame = terms.select(F.inline(chosen).alias("kind", "line", "m"))
        frame = frame.where(F.col("line").isNotNull()).select("kind", "line")
        return CompiledSource(
            frame=frame, maps=tuple(tm.iri for tm in self.maps), observation=observation
        )


def compile_source(
    plan: MappingPlan,
    source: LogicalSource,
    df: Any,
    mode: str,
    batch_rows: int,
    sedona: bool = False,
) -> CompiledSource:
    """The SQL-compiled (kind, line) frame of ``source``; raises :class:`NotCompilable`.

    ``df`` is the source frame from :func:`~eokg.spark.job.source_frame` and
    ``batch_rows`` the session's ``maxRecordsPerBatch`` (for reject row numbers).
    With ``sedona`` (the session has it), geometry functions in object maps
    compile to Sedona SQL (:mod:`eokg.spark.sedona_sql`) instead of keeping
    the source on the Python path.
    """
    if mode != "arrow":
        raise NotCompilable(f"{mode} sources are projected in Python")
    return _Compiler(plan, source, df, sedona).build(batch_rows)


# ------------------------------------------------------------------ helpers


def _check_rml_core(term: TermMap) -> None:
    """RML-Core term map features only the Arrow engine implements (same output)."""
    if term.unsafe or term.base or term.datatype_map or term.language_map:
        raise NotCompilable(f"{term.where} uses unsafe IRIs, a base or a datatype/language map")


def _percent(char: Any) -> Any:
    """``%XX`` for every UTF-8 byte of one code point (uppercase, like ``iri_safe``)."""
    from pyspark.sql import functions as F

    return F.regexp_replace(F.hex(F.encode(char, "UTF-8")), "(..)", "%$1")


def _blank_char(char: Any) -> Any:
    """``x`` + the code point in uppercase hex, like ``_blank_label``."""
    from pyspark.sql import functions as F

    return F.concat(F.lit("x"), F.hex(F.ascii(char)))


def _encode_chars(col: Any, unsafe: str, encode: Any) -> Any:
    """Replace each code point matching ``unsafe`` by ``encode(char)``; other values untouched."""
    from pyspark.sql import functions as F

    chars = F.regexp_extract_all(col, F.lit("(?s)."), 0)
    mapped = F.transform(chars, lambda c: F.when(c.rlike(unsafe), encode(c)).otherwise(c))
    return F.when(col.rlike(unsafe), F.array_join(mapped, "")).otherwise(col)


def _json_value(col: Any) -> Any:
    """``json.dumps(value, ensure_ascii=False)`` of a nullable string column."""
    from pyspark.sql import functions as F

    escaped = col
    for old, new in _JSON_ESCAPES:
        escaped = F.replace(escaped, F.lit(old), F.lit(new))
    escaped = F.when(col.rlike(_JSON_SPECIAL), escaped).otherwise(col)
    return F.when(col.isNull(), F.lit("null")).otherwise(F.concat(F.lit('"'), escaped, F.lit('"')))
