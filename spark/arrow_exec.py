"""Execute a mapping plan on projected Arrow batches, producing N-Triples/N-Quads lines.

One executor serves three callers: the local engine (small jobs, tests), the
Spark job (inside ``mapInArrow``, one call per Arrow batch) and the benchmark.
Term generation is vectorised with ``pyarrow.compute``: templates are one
``binary_join_element_wise``, escaping is a few ``replace_substring`` calls,
and only values that actually need percent-encoding or WKT parsing touch
Python per value.

Bad records never raise: a record whose subject cannot be built (missing
reference) or whose function fails (unparseable geometry, unknown CRS) is
returned as a reject with its reason, and the rest of the batch is mapped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eokg.spark.grel import function_spec
from eokg.spark.model import MappingPlan, PredicateObjectMap, RefObjectMap, TermMap, TriplesMap
from eokg.spark.project import ROW_COLUMN, _to_lexical, type_column
from eokg.spark.rml_vocab import LANGUAGE_TAG
from eokg.spark.targets import targets_of

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
XSD = "http://www.w3.org/2001/XMLSchema#"

# Characters R2RML's "IRI-safe" version keeps: iunreserved (RFC 3987).
_IRI_UNSAFE = (
    r"[^A-Za-z0-9\-._~\x{A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}\x{10000}-\x{10FFFF}]"
)
_IRIREF_FORBIDDEN = r'[\x00-\x20<>"{}|^`\\]'
_LITERAL_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"))

#: Lexical-form checks for the datatypes whose ill-typed values we drop.
_LEXICAL = {
    XSD + "integer": r"^[+-]?[0-9]+$",
    XSD + "int": r"^[+-]?[0-9]+$",
    XSD + "long": r"^[+-]?[0-9]+$",
    XSD + "nonNegativeInteger": r"^\+?[0-9]+$",
    XSD + "double": r"^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?INF|NaN)$",
    XSD + "float": r"^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?INF|NaN)$",
    XSD + "decimal": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    XSD + "boolean": r"^(true|false|1|0)$",
    XSD + "dateTime": r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?$",
    XSD + "date": r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?$",
    XSD + "gYear": r"^-?[0-9]{4,}(Z|[+-][0-9]{2}:[0-9]{2})?$",
}


# ------------------------------------------------------------------ escaping


def iri_safe(value: str) -> str:
    """Percent-encode every character outside iunreserved (R2RML IRI-safe form)."""
    out = []
    for char in value:
        if re.match(r"[A-Za-z0-9\-._~]", char) or (ord(char) >= 0xA0 and _ucschar(ord(char))):
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8")))
    return "".join(out)


def _ucschar(code: int) -> bool:
    return (
        0xA0 <= code <= 0xD7FF
        or 0xF900 <= code <= 0xFDCF
        or 0xFDF0 <= code <= 0xFFEF
        or 0x10000 <= code <= 0x10FFFF
    )


def _encode_where(values: pa.Array, pattern: str, encoder: Callable[[str], str]) -> pa.Array:
    """Apply a Python ``encoder`` only to the values that match ``pattern``."""
    needs = pc.match_substring_regex(values, pattern)
    if not pc.any(needs).as_py():
        return values
    items = values.to_pylist()
    flags = needs.to_pylist()
    return pa.array(
        [encoder(v) if f and v is not None else v for v, f in zip(items, flags, strict=True)],
        pa.string(),
    )


def _iriref_escape(value: str) -> str:
    """Percent-encode the characters N-Triples forbids inside ``<...>``."""
    return re.sub(
        _IRIREF_FORBIDDEN,
        lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")),
        value,
    )


def escape_literal(values: pa.Array) -> pa.Array:
    """N-Triples STRING_LITERAL_QUOTE escaping; UTF-8 is written as is."""
    if not pc.any(pc.match_substring_regex(values, r'[\\"\n\r]')).as_py():
        return values
    for old, new in _LITERAL_ESCAPES:
        values = pc.replace_substring(values, old, new)
    return values


def literal_term(lexical: str, datatype: str | None = None, language: str | None = None) -> str:
    """One N-Triples literal (for tests and small callers)."""
    text = lexical
    for old, new in _LITERAL_ESCAPES:
        text = text.replace(old, new)
    if language:
        return f'"{text}"@{language}'
    if datatype and datatype != XSD + "string":
        return f'"{text}"^^<{datatype}>'
    return f'"{text}"'


# --------------------------------------------------------------- term values


@dataclass
class Terms:
    """Generated terms: ``values[i]`` belongs to batch row ``rows[i]``.

    ``dense`` is True when there is at most one term per row and ``values`` is
    row-aligned (length = batch rows, null where no term), the common case.
    """

    values: pa.Array
    rows: pa.Array | None = None  # None when dense

    @property
    def dense(self) -> bool:
        return self.rows is None


@dataclass
class BatchResult:
    """Lines of one batch, per triples map, and the rejects."""

    lines: dict[str, list[pa.Array]] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    #: Lines of triples with logical targets, by target key (not in ``lines``).
    targeted: dict[str, list[pa.Array]] = field(default_factory=dict)

    def add(self, tm: str, lines: pa.Array) -> None:
        if len(lines):
            self.lines.setdefault(tm, []).append(lines)

    def triple_count(self) -> dict[str, int]:
        return {tm: sum(len(a) for a in arrays) for tm, arrays in self.lines.items()}


def _null_strings(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


class Executor:
    """Runs the triples maps of one plan over batches of one logical source."""

    def __init__(self, plan: MappingPlan, batch_id: str = "b") -> None:
        self.plan = plan
        self.batch_id = batch_id

    def maps_for(self, source_key: tuple[str, str, str | None]) -> list[TriplesMap]:
        return [tm for tm in self.plan.triples_maps if tm.source.key == source_key]

    # -------------------------------------------------------------- lexical
    def lexical(
        self,
        term: TermMap,
        batch: pa.RecordBatch,
        reasons: list[str | None] | None,
        iri: bool = False,
    ) -> Terms:
        n = batch.num_rows
        if term.kind == "constant":
            return Terms(pa.array([term.constant] * n, pa.string()))
        if term.kind == "reference":
            assert term.reference is not None
            col = batch.column(term.reference.column)
            if term.reference.raw:
                return Terms(col)
            if pa.types.is_list(col.type):
                return Terms(pc.list_flatten(col), pc.list_parent_indices(col))
            return Terms(col if pa.types.is_string(col.type) else _to_lexical(col))
        if term.kind == "template":
            return self._template(term, batch, iri)
        return self._function(term, batch, reasons)

    def _template(self, term: TermMap, batch: pa.RecordBatch, iri: bool) -> Terms:
        n = batch.num_rows
        rows: np.ndarray | None = None
        parts: list[pa.Array | str] = []
        for part in term.template:
            if isinstance(part, str):
                parts.append(part)
                continue
            col = batch.column(part.column)
            if pa.types.is_list(col.type):
                if rows is not None:
                    col = col.take(pa.array(rows))
                parents = pc.list_parent_indices(col).to_numpy()
                flat = pc.list_flatten(col)
                parts = [p if isinstance(p, str) else p.take(pa.array(parents)) for p in parts]
                rows = parents if rows is None else rows[parents]
                col = flat
            elif rows is not None:
                col = col.take(pa.array(rows))
            if not pa.types.is_string(col.type):
                col = _to_lexical(col)
            if iri:
                col = _encode_where(col, _IRI_UNSAFE, iri_safe)
            parts.append(col)
        arrays = [p for p in parts if not isinstance(p, str)]
        length = len(arrays[0]) if arrays else n
        if not arrays:
            return Terms(
                pa.array(["".join(p for p in parts if isinstance(p, str))] * n, pa.string())
            )
        joined = pc.binary_join_element_wise(
            *[pa.array([p] * length, pa.string()) if isinstance(p, str) else p for p in parts], ""
        )
        return Terms(joined, None if rows is None else pa.array(rows, pa.int64()))

    def _function(
        self, term: TermMap, batch: pa.RecordBatch, reasons: list[str | None] | None
    ) -> Terms:
        """Call a function on whole columns.  A multi-valued argument (a JSON array)
        makes the call once per element, so ``oneOf`` checks every polarisation."""
        assert term.function is not None
        spec = function_spec(term.function.function)
        evaluated = [
            (name, self.lexical(param, batch, reasons)) for name, param in term.function.params
        ]
        rows: pa.Array | None = next((t.rows for _, t in evaluated if not t.dense), None)
        args: dict[str, pa.Array] = {}
        for name, terms in evaluated:
            if rows is None or (not terms.dense and terms.rows is rows):
                args[name] = terms.values
            elif terms.dense:
                args[name] = terms.values.take(rows)
            else:
                args[name] = _first_per_row(terms, batch.num_rows).take(rows)
        length = batch.num_rows if rows is None else len(rows)
        result, fn_reasons = spec.impl(args, length)
        if fn_reasons is not None and reasons is not None:
            row_of = rows.to_pylist() if rows is not None else None
            for i, reason in enumerate(fn_reasons.to_pylist()):
                row = i if row_of is None else row_of[i]
                if reason and reasons[row] is None:
                    reasons[row] = f"{term.where}: {reason}"
        if fn_reasons is not None:
            result = pc.if_else(pc.is_valid(fn_reasons), pa.scalar(None, result.type), result)
        if pa.types.is_list(result.type):  # one term per element, as a JSON array gives
            parents = pc.list_parent_indices(result)
            rows = parents if rows is None else rows.take(parents)
            return Terms(_to_lexical(pc.list_flatten(result)), rows)
        return Terms(_to_lexical(result), rows)

    # ----------------------------------------------------------------- terms
    def terms(
        self, term: TermMap, batch: pa.RecordBatch, reasons: list[str | None] | None
    ) -> Terms:
        """N-Triples text of a term map's terms."""
        lex = self.lexical(term, batch, reasons, iri=term.term_type == "iri" and not term.unsafe)
        values = lex.values
        if term.term_type == "iri":
            if term.kind == "reference":
                # A value that is no IRI makes no term (R2RML: a data error, not a fix-up).
                bad = pc.match_substring_regex(values, _IRIREF_FORBIDDEN)
                values = pc.if_else(bad, pa.scalar(None, pa.string()), values)
            elif term.kind != "template" or term.unsafe:
                values = _encode_where(values, _IRIREF_FORBIDDEN, _iriref_escape)
            if term.base:
                values = _resolve(values, term.base)
            values = pc.binary_join_element_wise("<", values, ">", "")
        elif term.term_type == "blank":
            values = _encode_where(values, r"[^A-Za-z0-9_\-]", _blank_label)
            values = pc.binary_join_element_wise("_:", values, "")
        else:
            pattern = _LEXICAL.get(term.datatype or "")
            if pattern is not None:
                if term.datatype in (XSD + "integer", XSD + "int", XSD + "long"):
                    values = pc.replace_substring_regex(values, r"^([+-]?[0-9]+)\.0*$", r"\1")
                values = pc.if_else(
                    pc.match_substring_regex(values, pattern),
                    values,
                    pa.scalar(None, pa.string()),
                )
            values = escape_literal(values)
            suffix = self._literal_suffix(term, batch, lex.rows, reasons)
            values = pc.binary_join_element_wise('"', values, suffix, "")
        return Terms(values, lex.rows)

    def _literal_suffix(
        self,
        term: TermMap,
        batch: pa.RecordBatch,
        rows: pa.Array | None,
        reasons: list[str | None] | None,
    ) -> pa.Array | str:
        """What follows the lexical form: ``"@tag``, ``"^^<dt>`` or ``"``, per row if mapped."""
        if term.language:
            return f'"@{term.language}'
        if term.datatype and term.datatype != XSD + "string":
            return f'"^^<{term.datatype}>'
        natural = self._natural_suffix(term, batch)
        if natural is not None:
            return natural  # aligned with the values already
        if term.language_map is not None:
            tags = self._dense(self.lexical(term.language_map, batch, reasons), batch.num_rows)
            ok = pc.match_substring_regex(tags, LANGUAGE_TAG.pattern)
            suffix = pc.if_else(
                ok, pc.binary_join_element_wise('"@', tags, ""), pa.scalar(None, pa.string())
            )
        elif term.datatype_map is not None:
            types = self._dense(
                self.lexical(term.datatype_map, batch, reasons, iri=True), batch.num_rows
            )
            plain = pc.equal(types, XSD + "string")
            typed = pc.binary_join_element_wise('"^^<', types, ">", "")
            suffix = pc.if_else(plain, '"', typed)
        else:
            return '"'
        return suffix if rows is None else suffix.take(rows)

    def _natural_suffix(self, term: TermMap, batch: pa.RecordBatch) -> pa.Array | None:
        """``"^^<xsd:integer>`` etc. for JSON numbers and booleans (RML-Core natural mapping)."""
        if term.kind != "reference" or term.reference is None or term.language_map is not None:
            return None
        if term.datatype_map is not None:
            return None
        name = type_column(term.reference)
        if name not in batch.schema.names:
            return None
        types = batch.column(name)
        if pa.types.is_list(types.type):
            types = pc.list_flatten(types)
        typed = pc.binary_join_element_wise('"^^<', types, ">", "")
        return pc.coalesce(typed, pa.scalar('"', pa.string()))

    # --------------------------------------------------------------- triples
    def run(
        self, source_key: tuple[str, str, str | None], batch: pa.RecordBatch, source_name: str = ""
    ) -> BatchResult:
        """Map one projected batch with every triples map over its source.

        A record rejected by one triples map yields no triples from any map of
        the source, so a bad geometry never leaves a feature pointing at nothing.
        """
        result = BatchResult()
        n = batch.num_rows
        produced = []
        bad = np.zeros(n, dtype=bool)
        for tm in self.maps_for(source_key):
            result.records[tm.iri] = result.records.get(tm.iri, 0) + n
            if n == 0:
                continue
            out, reasons = self.run_map(tm, batch)
            tm_bad = np.array([r is not None for r in reasons], dtype=bool)
            if tm_bad.any():
                self._reject(tm, batch, tm_bad & ~bad, reasons, result, source_name)
                bad |= tm_bad
            produced.append((tm, out))
        keep = pa.array(~bad) if bad.any() else None
        for tm, out in produced:
            for row_lines in out:
                lines = row_lines.lines
                if keep is not None:
                    mask = keep if row_lines.rows is None else keep.take(row_lines.rows)
                    lines = lines.filter(mask)
                if lines.null_count:
                    lines = lines.filter(pc.is_valid(lines))
                if not row_lines.targets:
                    result.add(tm.iri, lines)
                elif len(lines):
                    for key in sorted(row_lines.targets):  # RML-IO: only there, once each
                        result.targeted.setdefault(key, []).append(lines)
        return result

    def run_map(
        self, tm: TriplesMap, batch: pa.RecordBatch
    ) -> tuple[list[_RowLines], list[str | None]]:
        """Lines of one triples map (bad rows not yet removed) and per-row reasons."""
        n = batch.num_rows
        reasons: list[str | None] = [None] * n
        subject = self._dense(self.terms(tm.subject, batch, reasons), n)
        self._missing_subject(tm, batch, subject, reasons)
        graphs = [self._dense(self.terms(g, batch, reasons), n) for g in tm.subject_graphs]
        out: list[_RowLines] = []
        for cls in tm.classes:
            out.extend(
                self._lines(
                    subject,
                    pa.array([RDF_TYPE] * n),
                    Terms(pa.array([f"<{cls}>"] * n, pa.string())),
                    graphs,
                    n,
                    targets_of(tm.subject),
                    [targets_of(g) for g in tm.subject_graphs],
                )
            )
        for pom in tm.poms:
            out.extend(self._pom(tm, pom, batch, subject, graphs, reasons))
        return out, reasons

    def _pom(
        self,
        tm: TriplesMap,
        pom: PredicateObjectMap,
        batch: pa.RecordBatch,
        subject: pa.Array,
        subject_graphs: list[pa.Array],
        reasons: list[str | None],
    ) -> list[_RowLines]:
        n = batch.num_rows
        graphs = subject_graphs + [
            self._dense(self.terms(g, batch, reasons), n) for g in pom.graphs
        ]
        graph_targets = [targets_of(g) for g in (*tm.subject_graphs, *pom.graphs)]
        out: list[_RowLines] = []
        predicates = [self._dense(self.terms(p, batch, reasons), n) for p in pom.predicates]
        objects = [self.terms(o, batch, reasons) for o in pom.objects]
        object_targets = [targets_of(o) for o in pom.objects]
        for rom in pom.ref_objects:
            if not rom.joins:
                parent = self.plan.get(rom.parent)
                objects.append(self.terms(parent.subject, batch, None))
                object_targets.append(targets_of(parent.subject))
        for pred, pred_map in zip(predicates, pom.predicates, strict=True):
            for obj, obj_targets in zip(objects, object_targets, strict=True):
                keys = targets_of(tm.subject) | targets_of(pred_map) | obj_targets
                out.extend(self._lines(subject, pred, obj, graphs, n, keys, graph_targets))
        return out

    def _lines(
        self,
        subject: pa.Array,
        pred: pa.Array,
        obj: Terms,
        graphs: list[pa.Array],
        n: int,
        targets: frozenset[str] = frozenset(),
        graph_targets: list[frozenset[str]] | None = None,
    ) -> list[_RowLines]:
        """Lines of one (subject, predicate, object) combination, one set per graph.

        ``targets`` are the logical targets of the subject, predicate and
        object maps; ``graph_targets`` those of each graph map.
        """
        if obj.dense:
            s, p, o, rows = subject, pred, obj.values, None
        else:
            rows = obj.rows
            s, p, o = subject.take(rows), pred.take(rows), obj.values
        if not graphs:
            return [_RowLines(pc.binary_join_element_wise(s, p, o, ".", " "), rows, targets)]
        out = []
        for i, g in enumerate(graphs):
            g_rows = g if rows is None else g.take(rows)
            keys = targets | (graph_targets[i] if graph_targets else frozenset())
            out.append(
                _RowLines(pc.binary_join_element_wise(s, p, o, g_rows, ".", " "), rows, keys)
            )
        return out

    def _dense(self, terms: Terms, n: int) -> pa.Array:
        return terms.values if terms.dense else _first_per_row(terms, n)

    def _missing_subject(
        self, tm: TriplesMap, batch: pa.RecordBatch, subject: pa.Array, reasons: list[str | None]
    ) -> None:
        if not subject.null_count or tm.subject.kind not in ("reference", "template"):
            return
        nulls = np.asarray(subject.is_null())
        for ref in tm.subject.references():
            col = batch.column(ref.column)
            missing = np.asarray(col.is_null()) & nulls
            for i in np.flatnonzero(missing):
                if reasons[i] is None:
                    reasons[i] = f"{tm.subject.where}: missing value for reference {ref.text!r}"

    def _reject(
        self,
        tm: TriplesMap,
        batch: pa.RecordBatch,
        bad: np.ndarray,
        reasons: list[str | None],
        result: BatchResult,
        source_name: str,
    ) -> None:
        idx = np.flatnonzero(bad)
        sub = batch.take(pa.array(idx))
        records = sub.to_pylist()
        for i, record in zip(idx, records, strict=True):
            row = record.pop(ROW_COLUMN, None)
            fields = {}
            for key, value in record.items():
                if key.startswith("type:"):
                    continue
                name = key.split(":", 1)[1] if ":" in key else key
                if isinstance(value, bytes):
                    value = value.hex()
                fields[name] = value
            result.rejects.append(
                {
                    "triples_map": tm.iri,
                    "mapping": tm.mapping_file,
                    "source": source_name,
                    "row": row,
                    "reason": reasons[i],
                    "record": fields,
                }
            )

    # ----------------------------------------------------------------- joins
    def join_keys(
        self, tm: TriplesMap, rom: RefObjectMap, batch: pa.RecordBatch, side: str
    ) -> pa.Table:
        """(term, key0, key1, ...) for one side of a join condition."""
        if side == "child":
            term = self.terms(tm.subject, batch, None)
            keys = [j.child for j in rom.joins]
        else:
            term = self.terms(tm.subject, batch, None)
            keys = [j.parent for j in rom.joins]
        cols = {"term": self._dense(term, batch.num_rows)}
        for i, ref in enumerate(keys):
            col = batch.column(ref.column)
            if pa.types.is_list(col.type):
                col = _first_per_row(
                    Terms(pc.list_flatten(col), pc.list_parent_indices(col)), batch.num_rows
                )
            cols[f"k{i}"] = col
        table = pa.table(cols)
        mask = pc.is_valid(table["term"])
        for i in range(len(keys)):
            mask = pc.and_(mask, pc.is_valid(table[f"k{i}"]))
        return table.filter(mask)


class _RowLines:
    """Lines plus the batch row each came from (None: row-aligned)."""

    __slots__ = ("lines", "rows", "targets")

    def __init__(
        self, lines: pa.Array, rows: pa.Array | None, targets: frozenset[str] = frozenset()
    ) -> None:
        self.lines = lines
        self.rows = rows
        self.targets = targets


def _first_per_row(terms: Terms, n: int) -> pa.Array:
    """Row-aligned first value of multi-valued terms (subjects, predicates, graphs)."""
    out: list[Any] = [None] * n
    assert terms.rows is not None
    for row, value in zip(terms.rows.to_pylist(), terms.values.to_pylist(), strict=True):
        if out[row] is None:
            out[row] = value
    return pa.array(out, pa.string())


def _resolve(values: pa.Array, base: str) -> pa.Array:
    """Relative IRIs (no scheme) joined to the base IRI, as RML-Core resolves them."""
    absolute = pc.match_substring_regex(values, r"^[A-Za-z][A-Za-z0-9+.\-]*:")
    if pc.all(absolute).as_py() is not False:
        return values
    joined = pc.binary_join_element_wise(base, values, "")
    return pc.if_else(absolute, values, joined)


def _blank_label(value: str) -> str:
    return "".join(c if re.match(r"[A-Za-z0-9_\-]", c) else f"x{ord(c):X}" for c in value)


def reject_line(reject: dict[str, Any]) -> str:
    return json.dumps(reject, ensure_ascii=False, default=str)
