"""Pure translations for the Elasticsearch backend: mappings, documents, queries.

No client, no server: every function maps plain dicts to plain dicts, so the
query DSL the backend sends is unit-tested without Elasticsearch.  Field layout
of an item document::

    id, collection          keyword
    geometry                geo_shape (the footprint)
    t_start, t_end          date (epoch millis) - the item's time interval
    properties.*            dynamic: strings as keyword, dates as date
    derived.*               flattened extension fields (label:classes values)
    concepts                keyword (IRIs of eokg:concepts)
    text                    text (title, description, keywords, concept labels)
    item                    the original item, stored, not indexed

Nothing from a request becomes a script (there are no scripts at all) or a
field pattern: literals are JSON values of term/range queries, and property
names must be queryables (checked by the backend) that are also plain field
names (``field_name``), so ``*``, a leading ``_`` or empty path segments cannot
reach ``exists`` or a sort, where Elasticsearch would expand or resolve them.
"""

from __future__ import annotations

from typing import Any

from eokg.catalog.cql2_sql import (
    COMPARISONS,
    GEOMETRY_PROPERTIES,
    SPATIAL_SWAP,
    TEMPORAL,
    literal_geometry,
    temporal_literal,
)
from eokg.catalog.index import MAX_LIMIT, SearchRequest
from eokg.catalog.items import IndexedItem
from eokg.catalog.search_common import core_to_cql2, fts_query
from eokg.catalog.timeutil import parse_instant
from eokg.errors import QueryError

ES_SPATIAL = {
    "s_intersects": "intersects",
    "s_within": "within",
    "s_contains": "contains",
    "s_disjoint": "disjoint",
}
DERIVED = frozenset({"label:classes"})
NUMERIC = frozenset({"integer", "number"})
MATCH_NONE: dict[str, Any] = {"bool": {"must_not": [{"match_all": {}}]}}
#: JSON types of the properties (as recorded at ingest), keyed by document field.
FieldTypes = dict[str, frozenset[str]]
NEG_INF = -(10**15)
POS_INF = 10**15


#: item index settings: a page asks for ``limit + 1`` hits (to know whether a next page
#: exists), so the result window must hold the largest page plus one.
ITEM_INDEX_SETTINGS: dict[str, Any] = {"max_result_window": MAX_LIMIT + 1}


def index_template(prefix: str) -> dict[str, Any]:
    """Composable index template for every per-collection item index."""
    return {
        "index_patterns": [f"{prefix}-items-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, **ITEM_INDEX_SETTINGS},
            "mappings": {
                "dynamic": True,
                "dynamic_templates": [
                    {"dates": {"match": "*datetime", "mapping": {"type": "date"}}},
                    {
                        "strings": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    },
                ],
                "properties": {
                    "id": {"type": "keyword"},
                    "collection": {"type": "keyword"},
                    "geometry": {"type": "geo_shape"},
                    "t_start": {"type": "date", "format": "epoch_millis"},
                    "t_end": {"type": "date", "format": "epoch_millis"},
                    "concepts": {"type": "keyword"},
                    "text": {"type": "text"},
                    "properties": {
                        "properties": {
                            "title": {
                                "type": "text",
                                "fields": {"raw": {"type": "keyword", "ignore_above": 512}},
                            },
                            "description": {"type": "text"},
                        }
                    },
                    "item": {"type": "object", "enabled": False},
                },
            },
        },
    }


def document(p: IndexedItem, labels: str = "") -> dict[str, Any]:
    """The ES document of one prepared item."""
    props = {k: v for k, v in p.item["properties"].items() if not isinstance(v, dict)}
    return {
        "id": p.id,
        "collection": p.collection,
        "geometry": p.item.get("geometry"),
        "t_start": None if p.start is None else int(p.start * 1000),
        "t_end": None if p.end is None else int(p.end * 1000),
        "concepts": p.concepts,
        "text": " ".join([*p.text.values(), labels]).strip(),
        "properties": props,
        "derived": p.derived,
        "item": p.item,
    }


def field_name(name: Any, where: str) -> str:
    """The document field of a queryable; refuses names Elasticsearch would treat as patterns."""
    if not isinstance(name, str):
        raise QueryError("a property name must be a string", where=where)
    name = name.removeprefix("properties.")
    if (
        not name
        or len(name) > 256
        or name.startswith("_")
        or any(c in name for c in "*?\\")
        or any(not part for part in name.split("."))
        or any(ord(c) < 32 for c in name)
    ):
        raise QueryError(f"{name!r} cannot be used as a field name", where=where)
    if name in ("id", "collection"):
        return name
    if name in ("datetime", "start_datetime"):
        return "t_start"
    if name == "end_datetime":
        return "t_end"
    if name in GEOMETRY_PROPERTIES:
        raise QueryError("geometry can only be used in spatial operators", where=where)
    if name == "title":
        return "properties.title.raw"
    if name in DERIVED:
        return f"derived.{name}"
    return f"properties.{name}"


def _is_time_field(field: str) -> bool:
    return field in ("t_start", "t_end")


def _literal(value: Any, field: str, where: str) -> Any:
    if isinstance(value, dict) and ("timestamp" in value or "date" in value):
        value = value.get("timestamp", value.get("date"))
    if _is_time_field(field) and isinstance(value, str):
        return int(parse_instant(value, where=where) * 1000)
    if isinstance(value, dict | list):
        raise QueryError("expected a scalar literal", where=where)
    return value


def _prop_and_value(args: list[Any], where: str) -> tuple[str, Any, str]:
    first, second = args
    if isinstance(first, dict) and "property" in first:
        field = field_name(str(first["property"]), f"{where}.args[0]")
        return field, _literal(second, field, f"{where}.args[1]"), "left"
    if isinstance(second, dict) and "property" in second:
        field = field_name(str(second["property"]), f"{where}.args[1]")
        return field, _literal(first, field, f"{where}.args[0]"), "right"
    raise QueryError("comparisons need one property and one literal", where=where)


FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>", "!=": "!="}
RANGE = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _numeric_vs_text(field: str, value: Any, types: FieldTypes) -> bool:
    """A text literal against a field only ever seen holding numbers.

    The server cannot even parse such a query (``For input string``); SQLite,
    whose answers this backend must equal, compares by type order instead:
    every number is less than every text, so ``=`` never holds, ``<>`` and ``<``
    always do (where the field exists).
    """
    known = types.get(field, frozenset()) - {"null"}
    return isinstance(value, str) and bool(known) and known <= NUMERIC


def _type_ordered(field: str, rel: str) -> dict[str, Any]:
    """``field REL 'text'`` on a numeric field, by SQLite's type order."""
    if rel in ("<>", "!=", "<", "<="):
        return {"exists": {"field": field}}
    return MATCH_NONE


def cql2_to_es(node: Any, where: str = "filter", types: FieldTypes | None = None) -> dict[str, Any]:
    """CQL2 JSON -> ES query DSL (filter context); ``types`` (optional) are the JSON
    types seen per field, so a text literal against a numeric field is answered
    like the embedded backend answers it instead of failing in the server."""
    types = types or {}
    if isinstance(node, bool):
        return {"match_all": {}} if node else MATCH_NONE
    if not isinstance(node, dict) or "op" not in node:
        raise QueryError("expected a predicate ({'op': ..., 'args': [...]})", where=where)
    op = str(node["op"]).lower()
    args = node.get("args", [])
    sub = [f"{where}.args[{i}]" for i in range(len(args))]

    def arity(n: int) -> None:
        if len(args) != n:
            raise QueryError(f"expected {n} argument(s), got {len(args)}", where=where)

    if op == "and":
        return {
            "bool": {"filter": [cql2_to_es(a, p, types) for a, p in zip(args, sub, strict=True)]}
        }
    if op == "or":
        return {
            "bool": {
                "should": [cql2_to_es(a, p, types) for a, p in zip(args, sub, strict=True)],
                "minimum_should_match": 1,
            }
        }
    if op == "not":
        arity(1)
        return {"bool": {"must_not": [cql2_to_es(args[0], sub[0], types)]}}
    if op in COMPARISONS:
        arity(2)
        field, value, side = _prop_and_value(args, where)
        rel = op if side == "left" else FLIP[op]
        if _numeric_vs_text(field, value, types):
            return _type_ordered(field, rel)
        if rel == "=":
            return {"term": {field: value}}
        if rel in ("<>", "!="):
            return {
                "bool": {
                    "must_not": [{"term": {field: value}}],
                    "filter": [{"exists": {"field": field}}],
                }
            }
        return {"range": {field: {RANGE[rel]: value}}}
    if op == "like":
        arity(2)
        field, pattern, _ = _prop_and_value(args, where)
        if not isinstance(pattern, str):
            raise QueryError("LIKE needs a string pattern", where=sub[1])
        wildcard = (
            pattern.replace("*", "\\*").replace("?", "\\?").replace("%", "*").replace("_", "?")
        )
        return {"wildcard": {field: {"value": wildcard}}}
    if op == "between":
        arity(3)
        if not (isinstance(args[0], dict) and "property" in args[0]):
            raise QueryError("BETWEEN needs a property first", where=sub[0])
        field = field_name(str(args[0]["property"]), sub[0])
        low = _literal(args[1], field, sub[1])
        high = _literal(args[2], field, sub[2])
        if _numeric_vs_text(field, low, types) or _numeric_vs_text(field, high, types):
            # x >= low AND x <= high, each by type order
            parts = [_type_ordered(field, ">=") if isinstance(low, str) else None]
            parts.append(_type_ordered(field, "<=") if isinstance(high, str) else None)
            bounds = {"gte": low} if not isinstance(low, str) else {}
            bounds |= {"lte": high} if not isinstance(high, str) else {}
            clauses = [p for p in parts if p is not None]
            if bounds:
                clauses.append({"range": {field: bounds}})
            return {"bool": {"filter": clauses}}
        return {"range": {field: {"gte": low, "lte": high}}}
    if op == "in":
        arity(2)
        if not (isinstance(args[0], dict) and "property" in args[0]):
            raise QueryError("IN needs a property first", where=sub[0])
        if not isinstance(args[1], list) or not args[1]:
            raise QueryError("IN needs a non-empty list", where=sub[1])
        field = field_name(str(args[0]["property"]), sub[0])
        values = [_literal(v, field, sub[1]) for v in args[1]]
        values = [v for v in values if not _numeric_vs_text(field, v, types)]
        return {"terms": {field: values}} if values else MATCH_NONE
    if op == "isnull":
        arity(1)
        if not (isinstance(args[0], dict) and "property" in args[0]):
            raise QueryError("IS NULL needs a property", where=sub[0])
        field = field_name(args[0]["property"], sub[0])
        return {"bool": {"must_not": [{"exists": {"field": field}}]}}
    if op.startswith("s_"):
        return _spatial(op, args, where)
    if op in TEMPORAL:
        return _temporal(op, args, where)
    if op in ("a_contains", "a_overlaps"):
        arity(2)
        if not (isinstance(args[0], dict) and "property" in args[0]):
            raise QueryError("array operators need a property first", where=sub[0])
        field = field_name(str(args[0]["property"]), sub[0])
        values = args[1] if isinstance(args[1], list) else [args[1]]
        if any(_numeric_vs_text(field, v, types) for v in values):
            if op == "a_contains":
                return MATCH_NONE
            values = [v for v in values if not _numeric_vs_text(field, v, types)]
            if not values:
                return MATCH_NONE
        if op == "a_overlaps":
            return {"terms": {field: values}}
        return {"bool": {"filter": [{"term": {field: v}} for v in values]}}
    raise QueryError(f"CQL2 operator {node['op']!r} is not supported by this backend", where=where)


def _spatial(op: str, args: list[Any], where: str) -> dict[str, Any]:
    if len(args) != 2:
        raise QueryError("spatial operators take two arguments", where=where)
    first, second = args
    if not (isinstance(first, dict) and "property" in first):
        first, second = second, first
        op = SPATIAL_SWAP.get(op, op)
    if op not in ES_SPATIAL:
        raise QueryError(f"{op} is not supported by the Elasticsearch backend", where=where)
    if not (isinstance(first, dict) and first.get("property") in GEOMETRY_PROPERTIES):
        raise QueryError("spatial operators compare the item geometry with a literal", where=where)
    literal_geometry(second, f"{where}.args[1]")  # finite, in lon/lat range, parses
    if isinstance(second, dict) and "bbox" in second:
        b = second["bbox"]
        w, s, e, n = (b[0], b[1], b[2], b[3]) if len(b) == 4 else (b[0], b[1], b[3], b[4])
        shape = {"type": "envelope", "coordinates": [[w, n], [e, s]]}
    elif isinstance(second, dict) and "type" in second:
        shape = second
    else:
        raise QueryError("expected a geometry literal", where=f"{where}.args[1]")
    return {"geo_shape": {"geometry": {"shape": shape, "relation": ES_SPATIAL[op]}}}


#: TEMPORAL_SQL's relations on numbers: item [s, e] against query [qs, qe].
ALLEN: dict[str, Any] = {
    "t_intersects": lambda s, e, qs, qe: s <= qe and e >= qs,
    "t_disjoint": lambda s, e, qs, qe: not (s <= qe and e >= qs),
    "t_before": lambda s, e, qs, qe: e < qs,
    "t_after": lambda s, e, qs, qe: s > qe,
    "t_meets": lambda s, e, qs, qe: e == qs,
    "t_metby": lambda s, e, qs, qe: s == qe,
    "t_overlaps": lambda s, e, qs, qe: s < qs and qs < e < qe,
    "t_overlappedby": lambda s, e, qs, qe: qs < s < qe and e > qe,
    "t_starts": lambda s, e, qs, qe: s == qs and e < qe,
    "t_startedby": lambda s, e, qs, qe: s == qs and e > qe,
    "t_during": lambda s, e, qs, qe: s > qs and e < qe,
    "t_contains": lambda s, e, qs, qe: s < qs and e > qe,
    "t_finishes": lambda s, e, qs, qe: e == qe and s > qs,
    "t_finishedby": lambda s, e, qs, qe: e == qe and s < qs,
    "t_equals": lambda s, e, qs, qe: s == qs and e == qe,
}


def _range(field: str, **bounds: Any) -> dict[str, Any]:
    return {"range": {field: bounds}}


def _temporal(op: str, args: list[Any], where: str) -> dict[str, Any]:
    if len(args) != 2:
        raise QueryError("temporal operators take two arguments", where=where)
    first, second = args
    name = str(first.get("property", "")) if isinstance(first, dict) else ""
    if not name:
        if isinstance(second, dict) and "property" in second:
            raise QueryError("put the property first in temporal operators", where=where)
        # two literals: a constant, decided here (as SQLite decides it)
        s_, e_ = temporal_literal(first, f"{where}.args[0]")
        qs_, qe_ = temporal_literal(second, f"{where}.args[1]")
        inf = float(POS_INF)
        holds = ALLEN[op](
            -inf if s_ is None else s_,
            inf if e_ is None else e_,
            -inf if qs_ is None else qs_,
            inf if qe_ is None else qe_,
        )
        return {"match_all": {}} if holds else MATCH_NONE
    if name.removeprefix("properties.") == "datetime":
        s, e = "t_start", "t_end"
    elif name:
        s = e = field_name(name, f"{where}.args[0]")
    else:
        raise QueryError("temporal operators need a property first", where=f"{where}.args[0]")
    qs, qe = temporal_literal(second, f"{where}.args[1]")
    lo = NEG_INF if qs is None else int(qs * 1000)
    hi = POS_INF if qe is None else int(qe * 1000)

    def both(*parts: dict[str, Any]) -> dict[str, Any]:
        return {"bool": {"filter": list(parts)}}

    intersects = both(_range(s, lte=hi), _range(e, gte=lo))
    table = {
        "t_intersects": intersects,
        "t_disjoint": {"bool": {"must_not": [intersects]}},
        "t_before": _range(e, lt=lo),
        "t_after": _range(s, gt=hi),
        "t_meets": {"term": {e: lo}},
        "t_metby": {"term": {s: hi}},
        "t_overlaps": both(_range(s, lt=lo), _range(e, gt=lo, lt=hi)),
        "t_overlappedby": both(_range(s, gt=lo, lt=hi), _range(e, gt=hi)),
        "t_starts": both({"term": {s: lo}}, _range(e, lt=hi)),
        "t_startedby": both({"term": {s: lo}}, _range(e, gt=hi)),
        "t_during": both(_range(s, gt=lo), _range(e, lt=hi)),
        "t_contains": both(_range(s, lt=lo), _range(e, gt=hi)),
        "t_finishes": both({"term": {e: hi}}, _range(s, gt=lo)),
        "t_finishedby": both({"term": {e: hi}}, _range(s, lt=lo)),
        "t_equals": both({"term": {s: lo}}, {"term": {e: hi}}),
    }
    return table[op]


#: sort type for a field absent from some collection's index (its shard would
#: otherwise fail the search): the mapping the dynamic templates give that JSON type
UNMAPPED = {"integer": "long", "number": "double", "boolean": "boolean"}


def sort_clause(request: SearchRequest, types: FieldTypes | None = None) -> list[dict[str, Any]]:
    out = []
    for spec in request.sort_fields():
        name = spec.field.removeprefix("properties.")
        field = "id" if name == "id" else field_name(name, "sortby")
        clause: dict[str, Any] = {
            "order": spec.direction,
            "missing": "_last" if spec.direction == "desc" else "_first",
        }
        if field.startswith(("properties.", "derived.")):
            known = sorted((types or {}).get(field, frozenset()) - {"null", "array", "object"})
            clause["unmapped_type"] = UNMAPPED.get(known[0], "keyword") if known else "keyword"
        out.append({field: clause})
    return out


def search_body(
    request: SearchRequest,
    *,
    concept_iris: list[str] | None = None,
    text_concepts: list[str] | None = None,
    search_after: list[Any] | None = None,
    types: FieldTypes | None = None,
) -> dict[str, Any]:
    """The full ``_search`` body: filter, semantic clauses, sort, page size, search_after.

    ``concept_iris`` is the expansion of ``request.concepts`` (the backend owns the
    SKOS scheme); ``text_concepts`` the expansion of concepts named by ``q``.
    """
    filters: list[dict[str, Any]] = []
    tree = core_to_cql2(request)
    if tree is not None:
        filters.append(cql2_to_es(tree, types=types))
    if request.concepts:
        filters.append({"terms": {"concepts": sorted(concept_iris or request.concepts)}})
    if request.q:
        should: list[dict[str, Any]] = []
        match = fts_query(request.q)
        for phrase in match.split(" OR ") if match else []:
            should.append({"match_phrase": {"text": phrase.strip('"')}})
        if text_concepts:
            should.append({"terms": {"concepts": sorted(text_concepts)}})
        if not should:
            raise QueryError("free-text query has no searchable words", where="q")
        filters.append({"bool": {"should": should, "minimum_should_match": 1}})
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters}} if filters else {"match_all": {}},
        "sort": sort_clause(request, types),
        "size": request.limit + 1,
        "track_total_hits": True,
        "_source": ["item"],
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body
