"""Turn a CQL2 filter (text or JSON) into validated CQL2 JSON.

Parsing is delegated to the ``cql2`` library (Rust); its messages carry the
line:column of a text error, which we keep, so a client learns *where* its filter
is wrong.  Backends then translate the JSON tree only.

The Rust parser recurses once per nesting level and has no depth limit: about
2,000 nested parentheses (a 4 kB GET parameter) overflow the thread's stack and
kill the whole server with SIGSEGV.  So every filter is measured first, with a
linear scan that cannot recurse, and refused with a 400 when it nests deeper or
chains more boolean operators than any real filter does (``MAX_DEPTH``,
``MAX_OPERATORS``).  JSON is parsed strictly: ``NaN``/``Infinity`` (which
Python's ``json`` accepts) are refused, so they never reach SQL or a response.
"""

from __future__ import annotations

import json
import math
from typing import Any

from eokg.errors import InputError, QueryError

#: deepest nesting of parentheses (text) or of objects/arrays (JSON) in a filter.
MAX_DEPTH = 64
#: most AND/OR/NOT operators in one filter (each is a level of the parser's recursion).
MAX_OPERATORS = 500
#: longest run of signs (``- - -1``): each sign is a level of recursion too.
MAX_SIGNS = 4
#: longest parser report passed on to the client.
MAX_MESSAGE = 500
_BOOLEAN = {"and", "or", "not"}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def parse_json(text: str | bytes, *, where: str, error: type[InputError] = InputError) -> Any:
    """Strict JSON: no ``NaN``/``Infinity``, no overflowing numbers, bounded nesting."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise error(f"not JSON: {exc.msg}", where=f"{where} at character {exc.pos}") from exc
    except RecursionError as exc:
        raise error("JSON nested too deeply", where=where) from exc
    except ValueError as exc:  # from the hooks above, or an integer with too many digits
        raise error(f"not valid JSON: {exc}", where=where) from exc


def check_text_size(text: str, where: str = "filter") -> None:
    """Refuse cql2-text that would recurse too deeply in the parser (linear, no recursion)."""
    depth = deepest = operators = signs = 0
    quote: str | None = None
    word: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        c = text[i] if i < n else " "
        if quote is not None:
            if c == quote:
                if i + 1 < n and text[i + 1] == quote:  # '' or "" escapes the quote
                    i += 1
                else:
                    quote = None
            i += 1
            continue
        if c.isalnum() or c == "_":
            word.append(c)
            i += 1
            continue
        if word:
            if "".join(word).lower() in _BOOLEAN:
                operators += 1
            word = []
            signs = 0
        if c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        elif c in "+-":
            signs += 1
            if signs > MAX_SIGNS:
                raise QueryError(f"more than {MAX_SIGNS} signs in a row", where=where)
        if not c.isspace() and c not in "+-":
            signs = 0
        i += 1
    _check_limits(deepest, operators, where)


def check_json_size(tree: Any, where: str = "filter") -> None:
    """The same limits for cql2-json, measured without recursion."""
    deepest = operators = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if str(node.get("op", "")).lower() in _BOOLEAN:
                operators += 1
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    _check_limits(deepest, operators, where)


def _check_limits(depth: int, operators: int, where: str) -> None:
    if depth > MAX_DEPTH:
        raise QueryError(f"filter is nested more than {MAX_DEPTH} levels deep", where=where)
    if operators > MAX_OPERATORS:
        raise QueryError(
            f"filter has more than {MAX_OPERATORS} AND/OR/NOT operators; "
            "use IN lists or several searches",
            where=where,
        )


def filter_to_json(
    value: str | dict[str, Any] | None, lang: str | None = None
) -> dict[str, Any] | None:
    """Parse ``value`` as cql2-text or cql2-json (guessing when ``lang`` is None)."""
    if value is None or value == "":
        return None
    import cql2

    if isinstance(value, str):
        stripped = value.lstrip()
        if lang == "cql2-json" or (lang is None and stripped.startswith("{")):
            value = parse_json(value, where="filter (cql2-json)", error=QueryError)
        else:
            check_text_size(value)
    if not isinstance(value, str):
        check_json_size(value)
    try:
        expr = cql2.Expr(value)
    except Exception as exc:  # cql2 raises plain Exception / ParseError with a pest report
        message = str(exc).strip()
        position = _position(message)
        where = f"filter at {position}" if position else "filter"
        if len(message) > MAX_MESSAGE:  # the parser's report quotes the whole input line
            message = message[:MAX_MESSAGE] + " ..."
        raise QueryError(f"invalid CQL2: {message}", where=where) from exc
    tree = expr.to_json()
    if not isinstance(tree, dict):
        raise QueryError("filter must be a boolean expression", where="filter")
    _flatten_between(tree)
    return tree


def _flatten_between(tree: dict[str, Any]) -> None:
    """``between`` in the CQL2 drafts' form, ``[value, [low, high]]``, as 1.0's
    ``[value, low, high]`` (clients and stac-api-validator still send the draft form);
    in place, so both backends' translators see one form."""
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            args = node.get("args")
            if (
                str(node.get("op", "")).lower() == "between"
                and isinstance(args, list)
                and len(args) == 2
                and isinstance(args[1], list)
                and len(args[1]) == 2
            ):
                node["args"] = [args[0], *args[1]]
            stack.extend(node.values())


def _position(message: str) -> str | None:
    """Pull ``line:column`` from a pest error report (`` --> 1:12``)."""
    marker = "-->"
    if marker not in message:
        return None
    tail = message.split(marker, 1)[1].strip().split()[0]
    line, _, column = tail.partition(":")
    return f"line {line}, column {column}" if line.isdigit() and column.isdigit() else None
