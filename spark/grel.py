"""GREL and IDLab functions (RML-FNML), vectorised like :mod:`eokg.spark.functions`.

The RML-FNML test cases and most published mappings call OpenRefine's GREL
functions through the ``grel:`` IRIs of the FnO GREL library.  Each entry of
:data:`GREL_FUNCTIONS` is one small implementation with the same contract as
the geometry functions: whole columns in, a result column and a column of
reasons (null where the row is fine) out.  :func:`lookup` answers for both
tables, so the reader and the executor find any function through one call.

A function whose result is a ``list<string>`` column yields one term per
element (``string_split_explode``), as a multi-valued reference does.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc

from eokg.spark.functions import (
    FUNCTIONS,
    GREL,
    IDLAB,
    FunctionSpec,
    Result,
    canonical_function,
)

IDLAB_EX = "http://example.com/idlab/function/"
MORPH = "https://github.com/morph-kgc/morph-kgc/function/built-in.ttl#"

P_VALUE = GREL + "valueParameter"
P_MODE = GREL + "modeParameter"
P_FIND = GREL + "p_string_find"
P_REPLACE = GREL + "p_string_replace"
P_SEP = GREL + "p_string_sep"
P_PATTERN = GREL + "p_string_pattern"
P_ARRAY = GREL + "p_array_a"
P_FROM = GREL + "param_int_i_from"
P_TO = GREL + "param_int_i_opt_to"
P_DEC = GREL + "p_dec_n"
P_BOOL = GREL + "bool_b"
P_TRUE = GREL + "any_true"
P_FALSE = GREL + "any_false"
P_STR = IDLAB + "str"

Impl = Callable[[dict[str, pa.Array], int], Result]


def _py(args: dict[str, pa.Array], name: str, n: int) -> list[Any]:
    """A parameter as Python strings (nulls for an absent optional one)."""
    if name not in args:
        return [None] * n
    return args[name].cast(pa.string()).to_pylist()


def _rowwise(fn: Callable[..., Any], *names: str) -> Impl:
    """Lift ``fn(value, ...)`` over rows; a ValueError/IndexError becomes the row's reason.

    A null first argument gives no value and no reason: an empty cell is not an error.
    """

    def impl(args: dict[str, pa.Array], n: int) -> Result:
        columns = [_py(args, name, n) for name in names]
        out: list[Any] = []
        reasons: list[str | None] = []
        for row in zip(*columns, strict=True):
            value, reason = None, None
            if row[0] is not None:
                try:
                    value = fn(*row)
                except (ValueError, ArithmeticError, IndexError) as exc:
                    reason = f"{fn.__name__}: {exc}"
            out.append(value)
            reasons.append(reason)
        typ = pa.list_(pa.string()) if any(isinstance(v, list) for v in out) else pa.string()
        bad = pa.array(reasons, pa.string()) if any(reasons) else None
        return pa.array(out, typ), bad

    return impl


def _vector(fn: Callable[[pa.Array], pa.Array], name: str = P_VALUE) -> Impl:
    """A one-argument Arrow compute function as an implementation."""

    def impl(args: dict[str, pa.Array], n: int) -> Result:
        return fn(args[name].cast(pa.string())), None

    return impl


# ------------------------------------------------------------------ strings


def escape(value: str, mode: str | None) -> str:
    """GREL ``escape(s, mode)``; modes html, xml, csv, url, javascript.

    >>> escape("A&B", "html")
    'A&amp;B'
    """
    mode = (mode or "html").lower()
    if mode in ("html", "xml"):
        return html.escape(value, quote=False)
    if mode == "url":
        return quote(value, safe="")
    if mode == "csv":
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if re.search(r'[",\n]', value) else value
    if mode == "javascript":
        return value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    raise ValueError(f"unknown escape mode {mode!r}")


def unescape(value: str, mode: str | None) -> str:
    return unquote(value) if (mode or "").lower() == "url" else html.unescape(value)


def upper_url(value: str) -> str:
    """IDLab ``toUpperCaseURL``: the upper-cased value as an http IRI."""
    upper = value.upper()
    return upper if upper.startswith(("HTTP://", "HTTPS://")) else "http://" + upper


def split(value: str, sep: str | None) -> list[str]:
    """GREL ``split``; empty parts are dropped (an empty cell gives no term)."""
    return [part for part in value.split(sep if sep else None) if part != ""]


def substring(value: str, start: str | None, end: str | None) -> str:
    return value[int(start or 0) : int(end) if end not in (None, "") else None]


def _string_list(value: str) -> list[str]:
    """An array argument in a cell: a ``['a', 'b']`` list literal, or one value."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        return [p.strip().strip("'\"") for p in text[1:-1].split(",") if p.strip()]
    return [value]


def array_get(value: str, index: str | None) -> str:
    return _string_list(value)[int(index or 0)]


def array_slice(value: str, start: str | None, end: str | None) -> str:
    items = _string_list(value)[int(start or 0) : int(end) if end not in (None, "") else None]
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


# ------------------------------------------------------------- math / control


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def number(value: str) -> float:
    """A number as people write it: ``1,926.82`` (thousands) or ``9,25`` (decimal comma)."""
    text = value.strip()
    if "," in text:
        text = text.replace(",", "") if "." in text else text.replace(",", ".")
    return float(text)


def round_half_up(value: str) -> str:
    """GREL ``round``: half up, as Java's Math.round."""
    return str(math.floor(number(value) + 0.5))


def _math(fn: Callable[[float], float], name: str) -> Impl:
    def one(value: str) -> str:
        return _fmt(fn(number(value)))

    one.__name__ = name
    return _rowwise(one, P_DEC)


def truthy(value: str | None) -> bool:
    """A boolean argument: true/false, 1/0, yes/no; anything else is an error."""
    text = (value or "").strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def if_then(test: str, when_true: str | None, when_false: str | None) -> str | None:
    return when_true if truthy(test) else when_false


def to_date(value: str, pattern: str | None) -> str:
    """GREL ``toDate`` with a strftime pattern; the xsd:date lexical form."""
    parsed = datetime.strptime(value, pattern) if pattern else datetime.fromisoformat(value)
    return parsed.date().isoformat()


def _spec(impl: Impl, *params: str) -> FunctionSpec:
    """The first parameter is required, the others optional."""
    return FunctionSpec(impl, params, params[:1])


GREL_FUNCTIONS: dict[str, FunctionSpec] = {
    GREL + "escape": _spec(_rowwise(escape, P_VALUE, P_MODE), P_VALUE, P_MODE),
    GREL + "unescape": _spec(_rowwise(unescape, P_VALUE, P_MODE), P_VALUE, P_MODE),
    GREL + "string_trim": _spec(_vector(pc.utf8_trim_whitespace), P_VALUE),
    GREL + "string_length": _spec(_vector(pc.utf8_length), P_VALUE),
    GREL + "toTitleCase": _spec(_vector(pc.utf8_title), P_VALUE),
    GREL + "string_replace": _spec(
        _rowwise(lambda v, f, r: v.replace(f or "", r or ""), P_VALUE, P_FIND, P_REPLACE),
        P_VALUE,
        P_FIND,
        P_REPLACE,
    ),
    GREL + "string_substring": _spec(
        _rowwise(substring, P_VALUE, P_FROM, P_TO), P_VALUE, P_FROM, P_TO
    ),
    GREL + "string_split": _spec(_rowwise(split, P_VALUE, P_SEP), P_VALUE, P_SEP),
    MORPH + "string_split_explode": _spec(_rowwise(split, P_VALUE, P_SEP), P_VALUE, P_SEP),
    GREL + "array_get": _spec(_rowwise(array_get, P_ARRAY, P_FROM), P_ARRAY, P_FROM),
    GREL + "array_slice": _spec(
        _rowwise(array_slice, P_ARRAY, P_FROM, P_TO), P_ARRAY, P_FROM, P_TO
    ),
    GREL + "math_round": _spec(_rowwise(round_half_up, P_DEC), P_DEC),
    GREL + "math_abs": _spec(_math(abs, "abs"), P_DEC),
    GREL + "math_ceil": _spec(_math(math.ceil, "ceil"), P_DEC),
    GREL + "math_floor": _spec(_math(math.floor, "floor"), P_DEC),
    GREL + "controls_if": _spec(
        _rowwise(if_then, P_BOOL, P_TRUE, P_FALSE), P_BOOL, P_TRUE, P_FALSE
    ),
    MORPH + "controls_if_cast": _spec(
        _rowwise(if_then, P_BOOL, P_TRUE, P_FALSE), P_BOOL, P_TRUE, P_FALSE
    ),
    GREL + "date_toDate": _spec(_rowwise(to_date, P_VALUE, P_PATTERN), P_VALUE, P_PATTERN),
    IDLAB + "toUpperCaseURL": _spec(_rowwise(upper_url, P_STR), P_STR),
}

#: The same functions and parameters under other IRIs (the test cases' IDLab prefix).
_SYNONYMS = {IDLAB_EX + "toUpperCaseURL": IDLAB + "toUpperCaseURL"}
PARAM_SYNONYMS = {IDLAB_EX + "str": P_STR}


def lookup(iri: str) -> tuple[str, FunctionSpec] | None:
    """(canonical IRI, spec) of a function of either table, or None."""
    found = canonical_function(iri)
    if found is not None:
        return found, FUNCTIONS[found]
    iri = _SYNONYMS.get(iri, iri)
    if iri in GREL_FUNCTIONS:
        return iri, GREL_FUNCTIONS[iri]
    return None


def function_spec(canonical: str) -> FunctionSpec:
    """The spec of a canonical function IRI, as the reader stored it in the plan."""
    return FUNCTIONS[canonical] if canonical in FUNCTIONS else GREL_FUNCTIONS[canonical]


def known_functions() -> list[str]:
    return sorted([*FUNCTIONS, *GREL_FUNCTIONS])
