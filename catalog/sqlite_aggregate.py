"""STAC Aggregation extension on the embedded backend: one GROUP BY per aggregation.

The WHERE clause is the search's own, so an aggregation always describes exactly
the items the same search would return.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from eokg.catalog.index import AGGREGATIONS
from eokg.catalog.sql_fragments import Sql, param, sql
from eokg.catalog.timeutil import to_iso
from eokg.errors import InputError

BUCKETS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}

#: frequency aggregations: name -> (SQL with {where} and {fmt} fields, bucket key type)
FREQUENCIES: dict[str, tuple[str, str]] = {
    "collection_frequency": (
        "SELECT i.collection, COUNT(*) FROM items i WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1",
        "string",
    ),
    "datetime_frequency": (
        "SELECT strftime({fmt}, i.t_start, 'unixepoch'), COUNT(*) FROM items i "
        "WHERE {where} AND i.t_start IS NOT NULL GROUP BY 1 ORDER BY 1",
        "datetime",
    ),
    "concept_frequency": (
        "SELECT c.concept, COUNT(*) FROM item_concepts c JOIN items i ON i.rowid = c.item "
        "WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1",
        "string",
    ),
}
#: single-value aggregations: name -> (SQL expression, data type)
VALUES: dict[str, tuple[str, str]] = {
    "total_count": ("COUNT(*)", "integer"),
    "datetime_min": ("MIN(i.t_start)", "datetime"),
    "datetime_max": ("MAX(i.t_end)", "datetime"),
}


def aggregate(
    conn: sqlite3.Connection,
    where: Sql,
    names: list[str],
    interval: str,
) -> list[dict[str, Any]]:
    unknown = [a for a in names if a not in AGGREGATIONS]
    if unknown:
        raise InputError(f"unknown aggregation(s) {unknown}", where="aggregations")
    if interval not in BUCKETS:
        raise InputError(f"interval must be one of {list(BUCKETS)}", where="interval")
    out: list[dict[str, Any]] = []
    for name in names:
        if name in VALUES:
            expr, kind = VALUES[name]
            statement = sql(f"SELECT {expr} FROM items i WHERE {{where}}", where=where)
            (value,) = conn.execute(statement.text, statement.params).fetchone()
            if kind == "datetime" and value is not None:
                value = to_iso(value)
            out.append({"name": name, "data_type": kind, "value": value})
            continue
        template, key_type = FREQUENCIES[name]
        statement = sql(template, where=where, fmt=param(BUCKETS[interval]))
        buckets = [
            {"key": key, "data_type": key_type, "frequency": n}
            for key, n in conn.execute(statement.text, statement.params).fetchall()
        ]
        out.append({"name": name, "data_type": "frequency_distribution", "buckets": buckets})
    return out
