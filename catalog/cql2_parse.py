"""Turn a CQL2 filter (text or JSON) into validated CQL2 JSON.

Parsing is delegated to the ``cql2`` library (Rust); its messages carry the
line:column of a text error, which we keep, so a client learns *where* its filter
is wrong.  Backends then translate the JSON tree only.
"""

from __future__ import annotations

import json
from typing import Any

from eokg.errors import QueryError


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
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise QueryError(
                    f"filter is not JSON: {exc.msg}",
                    where=f"filter (cql2-json) at character {exc.pos}",
                ) from exc
    try:
        expr = cql2.Expr(value)
    except Exception as exc:  # cql2 raises plain Exception / ParseError with a pest report
        message = str(exc).strip()
        position = _position(message)
        where = f"filter at {position}" if position else "filter"
        raise QueryError(f"invalid CQL2: {message}", where=where) from exc
    tree = expr.to_json()
    if not isinstance(tree, dict):
        raise QueryError("filter must be a boolean expression", where="filter")
    return tree


def _position(message: str) -> str | None:
    """Pull ``line:column`` from a pest error report (`` --> 1:12``)."""
    marker = "-->"
    if marker not in message:
        return None
    tail = message.split(marker, 1)[1].strip().split()[0]
    line, _, column = tail.partition(":")
    return f"line {line}, column {column}" if line.isdigit() and column.isdigit() else None
