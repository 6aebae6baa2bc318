"""SQL text that carries its own bound parameters, composed in text order.

The embedded backend builds one statement out of many pieces (CQL2 predicates,
sort keys used three times, keyset conditions, R*Tree bounds).  Appending
parameters to one shared list breaks as soon as a piece is used twice or out of
order, and the easy way out, pasting a value into the text, is how SQL
injection happens.  So a piece is an ``Sql``: constant text written in this
package plus the values its ``?`` marks stand for.  Values (and JSON paths
naming item properties) only ever enter a statement through ``param``;
templates are string constants from the code, never from a request or an item.

>>> sql("{a} AND {b}", a=param(1), b=Sql("x = ?", (2,)))
Sql(text='? AND x = ?', params=(1, 2))
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_FORMATTER = string.Formatter()
#: SQLite integers are 64-bit; a bigger Python int cannot be bound.
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Sql:
    text: str
    params: tuple[Any, ...] = ()


def param(value: Any) -> Sql:
    """One bound value; booleans become 0/1 and out-of-range integers floats."""
    if isinstance(value, bool):
        value = int(value)
    elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        value = float(value)
    return Sql("?", (value,))


def params(values: Iterable[Any]) -> Sql:
    """A comma-separated list of bound values (for ``IN (...)``)."""
    return join(", ", [param(v) for v in values])


def sql(template: str, **parts: Sql) -> Sql:
    """Fill ``{name}`` fields of a constant template; parameters follow the text order."""
    text: list[str] = []
    bound: list[Any] = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        text.append(literal)
        if name is not None:
            part = parts[name]
            text.append(part.text)
            bound.extend(part.params)
    return Sql("".join(text), tuple(bound))


def join(separator: str, parts: Iterable[Sql]) -> Sql:
    """Pieces joined by a constant separator, their parameters in order."""
    items = list(parts)
    return Sql(separator.join(p.text for p in items), tuple(v for p in items for v in p.params))


def conjunction(parts: Iterable[Sql]) -> Sql:
    """``(a) AND (b) ...``, or ``1`` (true) when there is nothing to AND."""
    items = [sql("({c})", c=p) for p in parts]
    return join(" AND ", items) if items else Sql("1")
