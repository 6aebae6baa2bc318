"""CQL2 JSON -> SQLite WHERE clause over the embedded catalogue's tables.

Item properties are read with ``json_extract`` on the stored properties; ``datetime``,
``id`` and ``collection`` map to indexed columns; spatial operators use the
R*Tree as a prefilter and an exact shapely predicate (the ``eokg_spatial`` SQL
function registered by the backend).  Every error names the JSON path of the
offending node (``filter.args[1].args[0]``) so clients can find it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import box, shape

from eokg.catalog.timeutil import parse_instant
from eokg.errors import QueryError

COMPARISONS = {"=": "=", "<>": "!=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
SPATIAL = {
    "s_intersects", "s_within", "s_contains", "s_disjoint",
    "s_equals", "s_touches", "s_crosses", "s_overlaps",
}  # fmt: skip
#: op with its arguments swapped (geometry literal first).
SPATIAL_SWAP = {"s_within": "s_contains", "s_contains": "s_within"}
ARRAYS = {"a_equals", "a_contains", "a_containedby", "a_overlaps"}
#: item columns; other properties come from the stored JSON.
TIME_COLUMNS = {"datetime": "i.t_start", "start_datetime": "i.t_start", "end_datetime": "i.t_end"}
PLAIN_COLUMNS = {"id": "i.id", "collection": "i.collection"}
GEOMETRY_PROPERTIES = {"geometry", "footprint"}


def _json_path(name: str) -> str:
    escaped = name.replace('"', '\\"')
    return f'"{escaped}"'


def literal_geometry(value: Any, where: str) -> shapely.Geometry:
    """A CQL2 geometry literal (GeoJSON or ``{"bbox": [...]}``) as shapely."""
    try:
        if isinstance(value, dict) and "bbox" in value:
            b = value["bbox"]
            return box(b[0], b[1], b[-2] if len(b) == 4 else b[3], b[-1] if len(b) == 4 else b[4])
        if isinstance(value, dict) and "type" in value:
            return shape(value)
    except Exception as exc:
        raise QueryError(f"invalid geometry literal: {exc}", where=where) from exc
    raise QueryError("expected a geometry literal", where=where)


def temporal_literal(value: Any, where: str) -> tuple[float | None, float | None]:
    """A CQL2 timestamp/date/interval literal as (start, end) epoch seconds."""

    def one(v: Any) -> float | None:
        if isinstance(v, dict):
            v = v.get("timestamp", v.get("date"))
        if v in ("..", None):
            return None
        if not isinstance(v, str):
            raise QueryError("expected a timestamp, date or interval", where=where)
        return parse_instant(v, where=where)

    if isinstance(value, dict) and "interval" in value:
        bounds = value["interval"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise QueryError("an interval has two ends", where=where)
        return one(bounds[0]), one(bounds[1])
    instant = one(value)
    return instant, instant


def temporal_sql(op: str, s: str, e: str, qs: str, qe: str) -> str:
    """Allen's relations between the item interval [s, e] and the query interval [qs, qe]."""
    table = {
        "t_intersects": f"{s} <= {qe} AND {e} >= {qs}",
        "t_disjoint": f"NOT ({s} <= {qe} AND {e} >= {qs})",
        "t_before": f"{e} < {qs}",
        "t_after": f"{s} > {qe}",
        "t_meets": f"{e} = {qs}",
        "t_metby": f"{s} = {qe}",
        "t_overlaps": f"{s} < {qs} AND {e} > {qs} AND {e} < {qe}",
        "t_overlappedby": f"{s} > {qs} AND {s} < {qe} AND {e} > {qe}",
        "t_starts": f"{s} = {qs} AND {e} < {qe}",
        "t_startedby": f"{s} = {qs} AND {e} > {qe}",
        "t_during": f"{s} > {qs} AND {e} < {qe}",
        "t_contains": f"{s} < {qs} AND {e} > {qe}",
        "t_finishes": f"{e} = {qe} AND {s} > {qs}",
        "t_finishedby": f"{e} = {qe} AND {s} < {qs}",
        "t_equals": f"{s} = {qs} AND {e} = {qe}",
    }
    return table[op]


TEMPORAL = {
    "t_intersects", "t_disjoint", "t_before", "t_after", "t_meets", "t_metby", "t_overlaps",
    "t_overlappedby", "t_starts", "t_startedby", "t_during", "t_contains", "t_finishes",
    "t_finishedby", "t_equals",
}  # fmt: skip


@dataclass
class SqlWhere:
    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass
class CqlToSql:
    """Translator; ``derived`` names properties stored flattened in ``i.derived``."""

    derived: frozenset[str] = frozenset({"label:classes"})
    params: list[Any] = field(default_factory=list)
    spatial_function: str = "eokg_spatial"
    #: longest item interval in the catalogue (seconds); lets ``t_intersects`` on
    #: ``datetime`` bound ``t_start`` from both sides, so the time index is a tight range.
    max_duration: float | None = None
    rtree: str = "items_rtree"
    _hooks: dict[str, Callable[..., str]] = field(default_factory=dict)

    def translate(self, tree: dict[str, Any], where: str = "filter") -> SqlWhere:
        self.params = []
        return SqlWhere(self._node(tree, where), self.params)

    # -- values -------------------------------------------------------------
    def _param(self, value: Any) -> str:
        if isinstance(value, bool):
            value = int(value)
        self.params.append(value)
        return "?"

    def _property_sql(self, name: str, where: str) -> str:
        name = name.removeprefix("properties.")
        if name in PLAIN_COLUMNS:
            return PLAIN_COLUMNS[name]
        if name in TIME_COLUMNS:
            return TIME_COLUMNS[name]
        if name in GEOMETRY_PROPERTIES:
            raise QueryError("geometry can only be used in spatial operators", where=where)
        if name in self.derived:
            return f"json_extract(i.derived, '$.{_json_path(name)}')"
        return f"json_extract(i.props, '$.{_json_path(name)}')"

    def _array_source(self, name: str) -> str:
        name = name.removeprefix("properties.")
        if name in self.derived:
            return f"json_each(i.derived, '$.{_json_path(name)}')"
        return f"json_each(i.props, '$.{_json_path(name)}')"

    def _value(self, node: Any, where: str, *, time_context: bool = False) -> str:
        if isinstance(node, dict):
            if "property" in node:
                return self._property_sql(str(node["property"]), where)
            if "timestamp" in node or "date" in node:
                text = node["timestamp"] if "timestamp" in node else node["date"]
                if time_context:
                    return self._param(parse_instant(text, where=where))
                return self._param(text)
            if "op" in node:
                if node["op"] in ("casei", "accenti"):
                    inner = self._value(node["args"][0], f"{where}.args[0]")
                    return f"lower({inner})"
                return f"({self._node(node, where)})"
            raise QueryError("unsupported value", where=where)
        if isinstance(node, list):
            raise QueryError("a list is only allowed with IN or array operators", where=where)
        if time_context and isinstance(node, str):
            return self._param(parse_instant(node, where=where))
        return self._param(node)

    # -- predicates ---------------------------------------------------------
    def _node(self, node: Any, where: str) -> str:
        if isinstance(node, bool):
            return "1" if node else "0"
        if not isinstance(node, dict) or "op" not in node:
            raise QueryError("expected a predicate ({'op': ..., 'args': [...]})", where=where)
        op = str(node["op"]).lower()
        args = node.get("args", [])
        if not isinstance(args, list):
            raise QueryError("'args' must be a list", where=where)
        path = [f"{where}.args[{i}]" for i in range(len(args))]
        if op in ("and", "or"):
            if not args:
                raise QueryError(f"{op} needs arguments", where=where)
            joiner = f" {op.upper()} "
            return joiner.join(f"({self._node(a, p)})" for a, p in zip(args, path, strict=True))
        if op == "not":
            self._arity(args, 1, where)
            return f"NOT ({self._node(args[0], path[0])})"
        if op in COMPARISONS:
            self._arity(args, 2, where)
            time_context = self._is_time(args[0]) or self._is_time(args[1])
            left = self._value(args[0], path[0], time_context=time_context)
            right = self._value(args[1], path[1], time_context=time_context)
            return f"{left} {COMPARISONS[op]} {right}"
        if op == "like":
            self._arity(args, 2, where)
            left = self._value(args[0], path[0])
            right = self._value(args[1], path[1])
            return f"{left} LIKE {right} ESCAPE '\\'"
        if op == "between":
            self._arity(args, 3, where)
            tc = self._is_time(args[0])
            low = self._value(args[1], path[1], time_context=tc)
            high = self._value(args[2], path[2], time_context=tc)
            return f"{self._value(args[0], path[0], time_context=tc)} BETWEEN {low} AND {high}"
        if op == "in":
            self._arity(args, 2, where)
            if not isinstance(args[1], list) or not args[1]:
                raise QueryError("IN needs a non-empty list", where=path[1])
            tc = self._is_time(args[0])
            values = ", ".join(
                self._value(v, f"{path[1]}[{i}]", time_context=tc) for i, v in enumerate(args[1])
            )
            return f"{self._value(args[0], path[0], time_context=tc)} IN ({values})"
        if op == "isnull":
            self._arity(args, 1, where)
            return f"{self._value(args[0], path[0])} IS NULL"
        if op in SPATIAL:
            return self._spatial(op, args, where)
        if op in TEMPORAL:
            return self._temporal(op, args, where)
        if op in ARRAYS:
            return self._array(op, args, where)
        raise QueryError(f"unsupported CQL2 operator {node['op']!r}", where=where)

    @staticmethod
    def _arity(args: list[Any], n: int, where: str) -> None:
        if len(args) != n:
            raise QueryError(f"expected {n} argument(s), got {len(args)}", where=where)

    @staticmethod
    def _is_time(node: Any) -> bool:
        if isinstance(node, dict):
            if "timestamp" in node or "date" in node:
                return True
            return str(node.get("property", "")).removeprefix("properties.") in TIME_COLUMNS
        return False

    def _spatial(self, op: str, args: list[Any], where: str) -> str:
        self._arity(args, 2, where)
        first, second = args
        prop_at, lit, lit_at = 0, second, 1
        if not (isinstance(first, dict) and "property" in first):
            first, second = second, first
            prop_at, lit, lit_at = 1, second, 0
            op = SPATIAL_SWAP.get(op, op)
        if not (isinstance(first, dict) and first.get("property") in GEOMETRY_PROPERTIES):
            raise QueryError(
                "spatial operators compare the item geometry with a literal",
                where=f"{where}.args[{prop_at}]",
            )
        geom = literal_geometry(lit, f"{where}.args[{lit_at}]")
        prefilter = ""
        if op != "s_disjoint":  # params are positional: the prefilter's come first
            minx, miny, maxx, maxy = geom.bounds
            marks = [self._param(v) for v in (maxx, minx, maxy, miny)]
            prefilter = (
                f"i.rowid IN (SELECT id FROM {self.rtree} WHERE minx <= {marks[0]} "
                f"AND maxx >= {marks[1]} AND miny <= {marks[2]} AND maxy >= {marks[3]}) AND "
            )
        wkb = self._param(shapely.to_wkb(geom))
        return f"{prefilter}{self.spatial_function}('{op[2:]}', i.geom, {wkb})"

    def _temporal(self, op: str, args: list[Any], where: str) -> str:
        self._arity(args, 2, where)
        first, second = args
        if (
            isinstance(second, dict)
            and "property" in second
            and not (isinstance(first, dict) and "property" in first)
        ):
            raise QueryError("put the property first in temporal operators", where=where)
        s, e = self._item_interval(first, f"{where}.args[0]")
        qs_value, qe_value = temporal_literal(second, f"{where}.args[1]")
        bounds = {
            "\x00qs": qs_value if qs_value is not None else -1e18,
            "\x00qe": qe_value if qe_value is not None else 1e18,
        }
        template = temporal_sql(op, s, e, "\x00qs\x01", "\x00qe\x01")
        if (
            op == "t_intersects"
            and (s, e) == ("i.t_start", "i.t_end")
            and qs_value is not None
            and self.max_duration is not None
        ):
            bounds["\x00lo"] = qs_value - self.max_duration
            template += " AND i.t_start >= \x00lo\x01"
        # positional parameters: bind each occurrence in text order
        pieces = template.split("\x01")
        out = []
        for piece in pieces:
            for marker, value in bounds.items():
                if piece.endswith(marker):
                    piece = piece[: -len(marker)] + self._param(value)
            out.append(piece)
        return "".join(out)

    def _item_interval(self, node: Any, where: str) -> tuple[str, str]:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            return (
                self._value(bounds[0], f"{where}.interval[0]", time_context=True),
                self._value(bounds[1], f"{where}.interval[1]", time_context=True),
            )
        if isinstance(node, dict) and "property" in node:
            name = str(node["property"]).removeprefix("properties.")
            if name == "datetime":
                return "i.t_start", "i.t_end"
            column = self._property_sql(name, where)
            return column, column
        raise QueryError("temporal operators need a property or interval first", where=where)

    def _array(self, op: str, args: list[Any], where: str) -> str:
        self._arity(args, 2, where)
        first, second = args
        if not (isinstance(first, dict) and "property" in first):
            raise QueryError("array operators need a property first", where=f"{where}.args[0]")
        values = second if isinstance(second, list) else [second]
        if not values:
            raise QueryError("empty array literal", where=f"{where}.args[1]")
        source = self._array_source(str(first["property"]))
        marks = ", ".join(self._param(v) for v in values)
        distinct = len({json.dumps(v) for v in values})
        if op == "a_overlaps":
            return f"EXISTS (SELECT 1 FROM {source} WHERE value IN ({marks}))"
        parts = []
        if op in ("a_contains", "a_equals"):
            hits = f"SELECT COUNT(DISTINCT value) FROM {source} WHERE value IN ({marks})"
            parts.append(f"({hits}) = {distinct}")
        if op in ("a_containedby", "a_equals"):
            again = marks if op == "a_containedby" else ", ".join(self._param(v) for v in values)
            parts.append(f"NOT EXISTS (SELECT 1 FROM {source} WHERE value NOT IN ({again}))")
        return " AND ".join(parts)
