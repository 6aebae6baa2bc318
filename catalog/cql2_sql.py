"""CQL2 JSON -> SQLite WHERE clause over the embedded catalogue's tables.

Item properties are read with ``json_extract(i.props, ?)``, the JSON path bound
as a parameter like every literal, so nothing a client (or an ingested item)
names is ever part of the SQL text; ``datetime``, ``id`` and ``collection`` map
to indexed columns; spatial operators use the R*Tree as a prefilter and an
exact shapely predicate (the ``eokg_spatial`` SQL function registered by the
backend).  Property names are checked against the queryables before translation
(``search_common.check_queryables``).  Every error names the JSON path of the
offending node (``filter.args[1].args[0]``) so clients can find it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, box, shape

from eokg.catalog.sql_fragments import Sql, join, param, params, sql
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
GEOMETRY_PROPERTIES = {"geometry"}
SCALARS = (str, int, float, bool, type(None))


def property_name(node: Any, where: str) -> str:
    """The queryable a ``{"property": ...}`` node names, without a ``properties.`` prefix."""
    name = node.get("property") if isinstance(node, dict) else None
    if not isinstance(name, str) or not name:
        raise QueryError("a property name must be a non-empty string", where=where)
    return name.removeprefix("properties.")


def json_path(name: str, where: str) -> str:
    """The JSON path of a top-level property, as a value to bind (never pasted into SQL).

    Properties are stored with ``json.dumps`` (non-ASCII as ``\\uXXXX``) and this
    SQLite compares path labels with the stored key text, so the label is the
    key as ``json.dumps`` writes it.  A label cannot hold a double quote.
    """
    if '"' in name:
        raise QueryError(
            f"property {name!r}: names containing '\"' cannot be queried in this catalogue",
            where=where,
        )
    return "$." + json.dumps(name)


def property_sql(name: str, where: str, derived: frozenset[str] = frozenset()) -> Sql:
    """A property as an SQL expression over ``items i`` (columns or bound JSON paths)."""
    if name in PLAIN_COLUMNS:
        return Sql(PLAIN_COLUMNS[name])
    if name in TIME_COLUMNS:
        return Sql(TIME_COLUMNS[name])
    if name in GEOMETRY_PROPERTIES:
        raise QueryError("geometry can only be used in spatial operators", where=where)
    column = "i.derived" if name in derived else "i.props"
    return Sql(f"json_extract({column}, ?)", (json_path(name, where),))


def _box(b: list[Any]) -> shapely.Geometry:
    """A bbox literal; west > east crosses the antimeridian (two boxes)."""
    west, south, east, north = (b[0], b[1], b[2], b[3]) if len(b) == 4 else (b[0], b[1], b[3], b[4])
    if west > east:
        return MultiPolygon([box(west, south, 180, north), box(-180, south, east, north)])
    return box(west, south, east, north)


def literal_geometry(value: Any, where: str) -> shapely.Geometry:
    """A CQL2 geometry literal (GeoJSON or ``{"bbox": [...]}``) as shapely, in lon/lat range."""
    try:
        if isinstance(value, dict) and "bbox" in value:
            b = value["bbox"]
            if not isinstance(b, list) or len(b) not in (4, 6):
                raise QueryError("a bbox has 4 or 6 numbers", where=where)
            geom = _box(b)
        elif isinstance(value, dict) and "type" in value:
            geom = shape(value)
        else:
            raise QueryError("expected a geometry literal", where=where)
    except QueryError:
        raise
    except Exception as exc:
        raise QueryError(f"invalid geometry literal: {exc}", where=where) from exc
    if geom.is_empty:
        raise QueryError("the geometry literal is empty", where=where)
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise QueryError("the geometry literal has non-finite coordinates", where=where)
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise QueryError("the geometry literal is outside lon/lat (CRS84) range", where=where)
    return geom


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


#: Allen's relations between the item interval [s, e] and the query interval [qs, qe].
TEMPORAL_SQL = {
    "t_intersects": "{s} <= {qe} AND {e} >= {qs}",
    "t_disjoint": "NOT ({s} <= {qe} AND {e} >= {qs})",
    "t_before": "{e} < {qs}",
    "t_after": "{s} > {qe}",
    "t_meets": "{e} = {qs}",
    "t_metby": "{s} = {qe}",
    "t_overlaps": "{s} < {qs} AND {e} > {qs} AND {e} < {qe}",
    "t_overlappedby": "{s} > {qs} AND {s} < {qe} AND {e} > {qe}",
    "t_starts": "{s} = {qs} AND {e} < {qe}",
    "t_startedby": "{s} = {qs} AND {e} > {qe}",
    "t_during": "{s} > {qs} AND {e} < {qe}",
    "t_contains": "{s} < {qs} AND {e} > {qe}",
    "t_finishes": "{e} = {qe} AND {s} > {qs}",
    "t_finishedby": "{e} = {qe} AND {s} < {qs}",
    "t_equals": "{s} = {qs} AND {e} = {qe}",
}
TEMPORAL = set(TEMPORAL_SQL)


@dataclass
class CqlToSql:
    """Translator; ``derived`` names properties stored flattened in ``i.derived``."""

    derived: frozenset[str] = frozenset({"label:classes"})
    spatial_function: str = "eokg_spatial"
    #: longest item interval in the catalogue (seconds); lets ``t_intersects`` on
    #: ``datetime`` bound ``t_start`` from both sides, so the time index is a tight range.
    max_duration: float | None = None
    rtree: str = "items_rtree"

    def translate(self, tree: Any, where: str = "filter") -> Sql:
        return self._node(tree, where)

    # -- values -------------------------------------------------------------
    @staticmethod
    def _param(value: Any, where: str) -> Sql:
        if not isinstance(value, SCALARS):
            raise QueryError("expected a string, number or boolean", where=where)
        return param(value)

    def _property(self, node: Any, where: str) -> Sql:
        return property_sql(property_name(node, where), where, self.derived)

    def _value(self, node: Any, where: str, *, time_context: bool = False) -> Sql:
        if isinstance(node, dict):
            if "property" in node:
                return self._property(node, where)
            if "timestamp" in node or "date" in node:
                text = node["timestamp"] if "timestamp" in node else node["date"]
                if not isinstance(text, str):
                    raise QueryError("a timestamp or date is a string", where=where)
                if time_context:
                    return param(parse_instant(text, where=where))
                return param(text)
            if "op" in node:
                if node["op"] in ("casei", "accenti"):
                    args = node.get("args")
                    if not isinstance(args, list) or len(args) != 1:
                        raise QueryError(f"{node['op']} takes one argument", where=where)
                    inner = self._value(args[0], f"{where}.args[0]")
                    return sql("lower({inner})", inner=inner)
                return sql("({p})", p=self._node(node, where))
            raise QueryError("unsupported value", where=where)
        if isinstance(node, list):
            raise QueryError("a list is only allowed with IN or array operators", where=where)
        if time_context and isinstance(node, str):
            return param(parse_instant(node, where=where))
        return self._param(node, where)

    # -- predicates ---------------------------------------------------------
    def _node(self, node: Any, where: str) -> Sql:
        if isinstance(node, bool):
            return Sql("1" if node else "0")
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
            parts = [sql("({p})", p=self._node(a, p)) for a, p in zip(args, path, strict=True)]
            return join(f" {op.upper()} ", parts)
        if op == "not":
            self._arity(args, 1, where)
            return sql("NOT ({p})", p=self._node(args[0], path[0]))
        if op in COMPARISONS:
            self._arity(args, 2, where)
            time_context = self._is_time(args[0]) or self._is_time(args[1])
            left = self._value(args[0], path[0], time_context=time_context)
            right = self._value(args[1], path[1], time_context=time_context)
            return sql(f"{{left}} {COMPARISONS[op]} {{right}}", left=left, right=right)
        if op == "like":
            self._arity(args, 2, where)
            left = self._value(args[0], path[0])
            right = self._value(args[1], path[1])
            return sql("{left} LIKE {right} ESCAPE '\\'", left=left, right=right)
        if op == "between":
            self._arity(args, 3, where)
            tc = self._is_time(args[0])
            return sql(
                "{x} BETWEEN {low} AND {high}",
                x=self._value(args[0], path[0], time_context=tc),
                low=self._value(args[1], path[1], time_context=tc),
                high=self._value(args[2], path[2], time_context=tc),
            )
        if op == "in":
            self._arity(args, 2, where)
            if not isinstance(args[1], list) or not args[1]:
                raise QueryError("IN needs a non-empty list", where=path[1])
            tc = self._is_time(args[0])
            values = join(
                ", ",
                [self._value(v, f"{path[1]}[{i}]", time_context=tc) for i, v in enumerate(args[1])],
            )
            x = self._value(args[0], path[0], time_context=tc)
            return sql("{x} IN ({values})", x=x, values=values)
        if op == "isnull":
            self._arity(args, 1, where)
            return sql("{x} IS NULL", x=self._value(args[0], path[0]))
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

    def _spatial(self, op: str, args: list[Any], where: str) -> Sql:
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
        exact = sql(
            f"{self.spatial_function}({{op}}, i.geom, {{wkb}})",
            op=param(op[2:]),
            wkb=param(shapely.to_wkb(geom)),
        )
        if op == "s_disjoint":
            return exact
        minx, miny, maxx, maxy = geom.bounds
        prefilter = sql(
            f"i.rowid IN (SELECT id FROM {self.rtree} WHERE minx <= {{maxx}} "
            "AND maxx >= {minx} AND miny <= {maxy} AND maxy >= {miny})",
            maxx=param(maxx),
            minx=param(minx),
            maxy=param(maxy),
            miny=param(miny),
        )
        return sql("{prefilter} AND {exact}", prefilter=prefilter, exact=exact)

    def _temporal(self, op: str, args: list[Any], where: str) -> Sql:
        self._arity(args, 2, where)
        first, second = args
        if (
            isinstance(second, dict)
            and "property" in second
            and not (isinstance(first, dict) and "property" in first)
        ):
            raise QueryError("put the property first in temporal operators", where=where)
        s, e = self._item_interval(first, f"{where}.args[0]")
        qs, qe = temporal_literal(second, f"{where}.args[1]")
        condition = sql(
            TEMPORAL_SQL[op],
            s=s,
            e=e,
            qs=param(qs if qs is not None else -1e18),
            qe=param(qe if qe is not None else 1e18),
        )
        if (
            op == "t_intersects"
            and (s.text, e.text) == ("i.t_start", "i.t_end")
            and qs is not None
            and self.max_duration is not None
        ):
            low = param(qs - self.max_duration)
            condition = sql("{c} AND i.t_start >= {low}", c=condition, low=low)
        return condition

    def _item_interval(self, node: Any, where: str) -> tuple[Sql, Sql]:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise QueryError("an interval has two ends", where=where)
            return (
                self._value(bounds[0], f"{where}.interval[0]", time_context=True),
                self._value(bounds[1], f"{where}.interval[1]", time_context=True),
            )
        if isinstance(node, dict) and "property" in node:
            name = property_name(node, where)
            if name == "datetime":
                return Sql("i.t_start"), Sql("i.t_end")
            column = property_sql(name, where, self.derived)
            return column, column
        raise QueryError("temporal operators need a property or interval first", where=where)

    def _array(self, op: str, args: list[Any], where: str) -> Sql:
        self._arity(args, 2, where)
        first, second = args
        if not (isinstance(first, dict) and "property" in first):
            raise QueryError("array operators need a property first", where=f"{where}.args[0]")
        values = second if isinstance(second, list) else [second]
        if not values:
            raise QueryError("empty array literal", where=f"{where}.args[1]")
        for i, v in enumerate(values):
            if not isinstance(v, SCALARS):
                raise QueryError("array literals hold scalars", where=f"{where}.args[1][{i}]")
        name = property_name(first, f"{where}.args[0]")
        column = "i.derived" if name in self.derived else "i.props"
        source = Sql(f"json_each({column}, ?)", (json_path(name, f"{where}.args[0]"),))
        marks = params(values)
        distinct = len({json.dumps(v) for v in values})
        if op == "a_overlaps":
            return sql(
                "EXISTS (SELECT 1 FROM {source} WHERE value IN ({marks}))",
                source=source,
                marks=marks,
            )
        parts = []
        if op in ("a_contains", "a_equals"):
            parts.append(
                sql(
                    "(SELECT COUNT(DISTINCT value) FROM {source} WHERE value IN ({marks})) = {n}",
                    source=source,
                    marks=marks,
                    n=param(distinct),
                )
            )
        if op in ("a_containedby", "a_equals"):
            parts.append(
                sql(
                    "NOT EXISTS (SELECT 1 FROM {source} WHERE value NOT IN ({marks}))",
                    source=source,
                    marks=marks,
                )
            )
        return join(" AND ", parts)
