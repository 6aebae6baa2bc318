"""Rewrite spatial selections and joins so Oxigraph starts from the R-tree's answer.

Oxigraph has no spatial index: ``FILTER(geof:sfIntersects(?w, "POLYGON(..)"))``
scans every geometry, and a filter between two geometry variables is a nested
loop (quadratic).  The rewriter finds such conjuncts in the query's top-level
group, asks the index, and injects the answer as a ``VALUES`` block at the
start of that group, so Oxigraph joins from the (small) candidate set:

* selection ``rel(?w, const)`` -> ``VALUES ?w { matches }``;
* join ``rel(?w1, ?w2)`` -> ``VALUES (?w1 ?w2) { true pairs }``, the pairs
  computed with ``STRtree.query`` and vectorised GEOS predicates;
* ``geof:distance(?w, const, uom) < d`` -> ``VALUES ?w { bbox candidates }``.

When the index holds every literal exactly (all CRS84 / EPSG:4326) the
conjunct is evaluated exactly and dropped; otherwise it stays as the final
check.  The rewrite is applied only where it cannot change the answer: ``?w``
must be bound by a plain ``geo:asWKT``/``geo:asGeoJSON`` triple of that group,
must not occur in nested groups, OPTIONAL, BIND, ..., and the conjunct must sit
under ``&&`` only.  Otherwise the query runs unchanged, evaluated by the
function library (always correct, just slower).

Topological relations used as properties (``?a geo:sfIntersects ?b``) are
expanded first, per GeoSPARQL's query rewrite rule, into the function form
over ``(geo:hasDefaultGeometry|geo:hasGeometry)?/(geo:asWKT|geo:asGeoJSON)``;
that expansion is needed for correctness and is applied with or without the
index.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eokg.kg.functions import DISJOINT_RELATIONS, RELATIONS, length_factor
from eokg.kg.geometry import GEOJSON_LITERAL, WKT_LITERAL, parse_literal, to_crs84
from eokg.kg.sparql_text import Filter, Group, Query, Token
from eokg.ontologies.namespaces import GEO, GEOF

if TYPE_CHECKING:
    from eokg.kg.spatial_index import SpatialIndex

GEOMETRY_PREDICATES = frozenset({GEO + "asWKT", GEO + "asGeoJSON"})
_FRESH = "__eokg"
_GEOM_PATH = f"(<{GEO}hasDefaultGeometry>|<{GEO}hasGeometry>)?/(<{GEO}asWKT>|<{GEO}asGeoJSON>)"
_LITERAL_PATH = f"(<{GEO}asWKT>|<{GEO}asGeoJSON>)"
# Metres per degree of latitude, rounded down so the search box errs on the large side.
_METRES_PER_DEGREE_LAT = 110_000.0
_POLAR_RADIUS_M = 6_350_000.0


@dataclass
class RewriteReport:
    """What the rewriter did, for tests, benchmarks and EXPLAIN-like logging."""

    text: str
    selections: int = 0
    joins: int = 0
    expanded_properties: int = 0
    values_rows: int = 0
    dropped_conjuncts: int = 0


# --- step 1: relations as properties -----------------------------------------------------


def expand_properties(text: str) -> tuple[str, int]:
    """Replace ``?a geo:sfX ?b`` statements by the function form (GeoSPARQL rewrite rule)."""
    try:
        query = Query(text)
    except ValueError:
        return text, 0
    edits: list[tuple[int, int, str]] = []
    counter = itertools.count()
    for group in _all_groups(query):
        for triple in group.triples:
            if len(triple.verb) != 1:
                continue
            iri = query.resolve(triple.verb[0])
            if iri is None or not iri.startswith(GEO) or iri[len(GEO) :] not in RELATIONS:
                continue
            if not triple.standalone:
                continue  # inside a ';' or ',' list: left as is (rare)
            relation = iri[len(GEO) :]
            args = []
            patterns = []
            for term in (triple.subject, triple.obj):
                if term.kind == "literal" and term.datatype in (WKT_LITERAL, GEOJSON_LITERAL):
                    args.append(term.text)
                    continue
                n = next(counter)
                var = f"?{_FRESH}_w{n}"
                patterns.append(f"{term.text} {_GEOM_PATH} {var} .")
                args.append(var)
            # the FILTER first: the statement's own trailing '.' then ends the triples
            call = f" FILTER(<{GEOF}{relation}>({args[0]}, {args[1]})) "
            replacement = call + " . ".join(p.rstrip(" .") for p in patterns)
            first, last = triple.statement
            edits.append((query.tokens[first].start, query.tokens[last].end, replacement))
    return _apply(text, edits), len(edits)


def _all_groups(query: Query) -> list[Group]:
    out: list[Group] = []
    stack = [query.where] if query.where else []
    while stack:
        group = stack.pop()
        out.append(group)
        stack.extend(group.children)
    return out


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


# --- step 2: index-backed selections and joins --------------------------------------------


@dataclass
class _Conjunct:
    filter: Filter
    first: int
    last: int


@dataclass
class _Spatial:
    conjunct: _Conjunct
    kind: str  # "select" | "join" | "distance"
    relation: str
    var: str
    other: str | None = None  # the second variable of a join
    constant: Any = None  # parsed Geom
    constant_first: bool = False
    limit: float = 0.0  # distance bound
    uom: str = ""


def rewrite(text: str, index: SpatialIndex) -> RewriteReport:
    """The query with index answers injected; ``text`` unchanged when nothing applies."""
    expanded, n_props = expand_properties(text)
    report = RewriteReport(expanded, expanded_properties=n_props)
    try:
        query = Query(expanded)
    except ValueError:
        return report
    group = query.where
    if group is None or group.opaque or len(index) == 0:
        return report
    geo_vars = _geometry_vars(query, group)
    spatial = [
        found
        for conjunct in _conjuncts(query, group)
        if (found := _match(query, conjunct, geo_vars)) is not None
    ]
    if not spatial:
        return report
    values: list[str] = []
    drops: list[_Conjunct] = []
    selected: dict[str, set[int]] = {}
    exact = index.exact
    for item in spatial:
        if item.kind == "join":
            continue
        slots = _select(index, item)
        if slots is None:
            continue
        previous = selected.get(item.var)
        selected[item.var] = set(slots) if previous is None else previous & set(slots)
        report.selections += 1
        if item.kind == "select" and exact and item.constant.is_wgs84:
            drops.append(item.conjunct)
    join = next((s for s in spatial if s.kind == "join"), None)
    if join is not None and exact and join.other is not None:
        left, right = index.join(join.relation)
        keep_left = selected.pop(join.var, None)
        keep_right = selected.pop(join.other, None)
        rows = []
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            if (keep_left is None or a in keep_left) and (keep_right is None or b in keep_right):
                rows.append(f"({index.term(a)} {index.term(b)})")
        values.append(f"VALUES (?{join.var} ?{join.other}) {{ {' '.join(rows)} }}")
        report.joins += 1
        report.values_rows += len(rows)
        drops.append(join.conjunct)
    for var, chosen in selected.items():
        terms = " ".join(str(index.term(s)) for s in sorted(chosen))
        values.append(f"VALUES ?{var} {{ {terms} }}")
        report.values_rows += len(chosen)
    if not values:
        return report
    edits = [(query.tokens[group.open].end, query.tokens[group.open].end, " " + " ".join(values))]
    edits += _drop_edits(query, group, drops)
    report.dropped_conjuncts = len(drops)
    report.text = _apply(expanded, edits)
    return report


def _geometry_vars(query: Query, group: Group) -> set[str]:
    """Variables bound by a geometry-literal triple of ``group`` and used nowhere nested."""
    found: set[str] = set()
    triples = list(group.triples)
    for inner in group.graph_groups:
        triples += inner.triples
    for triple in triples:
        if triple.obj.kind != "var":
            continue
        verb = "".join(
            f"<{query.resolve(t)}>" if t.kind in ("iri", "pname") else t.text for t in triple.verb
        )
        if verb in (f"<{GEO}asWKT>", f"<{GEO}asGeoJSON>", _LITERAL_PATH, _GEOM_PATH):
            found.add(triple.obj.text[1:])
    return found - group.nested_vars


def _conjuncts(query: Query, group: Group) -> list[_Conjunct]:
    out = []
    toks = query.tokens
    for flt in group.filters:
        first, last = flt.first, flt.last
        if toks[flt.keyword + 1].text != "(":
            # FILTER fn(...) form: the whole call is the single conjunct
            out.append(_Conjunct(flt, first, last))
            continue
        depth = 0
        start = first
        parts = []
        has_or = False
        for i in range(first, last + 1):
            text = toks[i].text if toks[i].kind == "op" else ""
            if text in ("(", "["):
                depth += 1
            elif text in (")", "]"):
                depth -= 1
            elif depth == 0 and text == "&&":
                parts.append((start, i - 1))
                start = i + 1
            elif depth == 0 and text in ("||", "!"):
                has_or = True
        parts.append((start, last))
        if has_or:
            continue
        out.extend(_Conjunct(flt, a, b) for a, b in parts)
    return out


def _strip_parens(toks: list[Token], first: int, last: int) -> tuple[int, int]:
    from eokg.kg.sparql_text import matching

    while toks[first].text == "(" and matching(toks, first) == last:
        first, last = first + 1, last - 1
    return first, last


def _match(query: Query, conjunct: _Conjunct, geo_vars: set[str]) -> _Spatial | None:
    toks = query.tokens
    first, last = _strip_parens(toks, conjunct.first, conjunct.last)
    # distance(...) < d  or  d > distance(...)
    for op_index in range(first, last + 1):
        if toks[op_index].kind == "op" and toks[op_index].text in ("<", "<=", ">", ">="):
            return _match_distance(query, conjunct, first, op_index, last, geo_vars)
    call = _call(query, first, last)
    if call is None:
        return None
    name, args = call
    if name not in RELATIONS or name in DISJOINT_RELATIONS or len(args) != 2:
        return None
    (k1, v1), (k2, v2) = args
    if k1 == "var" and k2 == "var":
        if v1 in geo_vars and v2 in geo_vars and v1 != v2:
            return _Spatial(conjunct, "join", name, v1, other=v2)
        return None
    if k1 == "var" and k2 == "geom" and v1 in geo_vars:
        return _Spatial(conjunct, "select", name, v1, constant=v2, constant_first=False)
    if k2 == "var" and k1 == "geom" and v2 in geo_vars:
        return _Spatial(conjunct, "select", name, v2, constant=v1, constant_first=True)
    return None


def _call(query: Query, first: int, last: int) -> tuple[str, list[tuple[str, Any]]] | None:
    """``geof:name(arg, ...)`` spanning exactly ``first..last``; args as (kind, value)."""
    toks = query.tokens
    iri = query.resolve(toks[first])
    if iri is None or not iri.startswith(GEOF) or toks[first + 1].text != "(":
        return None
    from eokg.kg.sparql_text import matching

    if matching(toks, first + 1) != last:
        return None
    args: list[tuple[str, Any]] = []
    i = first + 2
    while i < last:
        term = query._term(i, last - 1)
        if term is None:
            return None
        if term.kind == "var":
            args.append(("var", term.text[1:]))
        elif term.kind == "literal" and term.datatype in (WKT_LITERAL, GEOJSON_LITERAL):
            lexical = query.text[toks[term.first].start : toks[term.first].end]
            value = _unquote(lexical)
            try:
                args.append(("geom", parse_literal(value, term.datatype)))
            except Exception:  # a bad constant: let the plain path report it
                return None
        elif term.kind in ("iri", "pname"):
            args.append(("iri", query.resolve(toks[term.first])))
        else:
            return None
        i = term.last + 1
        if i < last and toks[i].text == ",":
            i += 1
        elif i != last:
            return None
    return iri[len(GEOF) :], args


def _unquote(lexical: str) -> str:
    quote = 3 if lexical[:3] in ('"""', "'''") else 1
    body = lexical[quote:-quote]
    if "\\" not in body:
        return body
    import json

    return str(json.loads('"' + body.replace('"', '\\"').replace("\\'", "'") + '"'))


def _match_distance(
    query: Query, conjunct: _Conjunct, first: int, op: int, last: int, geo_vars: set[str]
) -> _Spatial | None:
    toks = query.tokens
    comparison = toks[op].text
    if comparison in ("<", "<="):
        call_span, number = (first, op - 1), toks[op + 1] if op + 1 == last else None
    else:
        call_span, number = (op + 1, last), toks[first] if op - 1 == first else None
    if number is None or number.kind != "number":
        return None
    call = _call(query, *_strip_parens(toks, *call_span))
    if call is None or call[0] != "distance" or len(call[1]) != 3:
        return None
    (k1, v1), (k2, v2), (k3, uom) = call[1]
    if k3 != "iri":
        return None
    if k1 == "var" and k2 == "geom" and v1 in geo_vars:
        var, constant = v1, v2
    elif k2 == "var" and k1 == "geom" and v2 in geo_vars:
        var, constant = v2, v1
    else:
        return None
    return _Spatial(
        conjunct, "distance", "distance", var, constant=constant, limit=float(number.text), uom=uom
    )


def _select(index: SpatialIndex, item: _Spatial) -> list[int] | None:
    import shapely

    shape = to_crs84(item.constant).shape
    if item.kind == "select":
        if index.exact and item.constant.is_wgs84:
            return index.select(item.relation, shape, constant_first=item.constant_first).tolist()
        # reprojected shapes are approximations: widen the box and keep the exact filter
        minx, miny, maxx, maxy = shapely.bounds(shape)
        pad = 1e-3 * max(maxx - minx, maxy - miny, 1.0)
        return index.bbox_candidates((minx - pad, miny - pad, maxx + pad, maxy + pad)).tolist()
    if not (index.exact and item.constant.is_wgs84):
        return None
    try:
        kind, factor = length_factor(item.uom)
    except Exception:
        return None
    minx, miny, maxx, maxy = shapely.bounds(shape)
    if kind == "deg":
        dlat = dlon = item.limit * factor
    else:
        metres = item.limit * factor
        dlat = metres / _METRES_PER_DEGREE_LAT
        top = min(90.0, max(abs(miny), abs(maxy)) + dlat)
        cos_top = math.cos(math.radians(top))
        dlon = 360.0 if cos_top < 1e-6 else math.degrees(metres / (_POLAR_RADIUS_M * cos_top))
    dlat *= 1.01
    dlon = min(360.0, dlon * 1.01)
    box = (minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)
    return index.bbox_candidates(box).tolist()


def _drop_edits(query: Query, group: Group, drops: list[_Conjunct]) -> list[tuple[int, int, str]]:
    """Text edits removing exactly evaluated conjuncts (whole FILTERs when all go)."""
    toks = query.tokens
    edits = []
    by_filter: dict[int, list[_Conjunct]] = {}
    for conjunct in drops:
        by_filter.setdefault(conjunct.filter.keyword, []).append(conjunct)
    all_conjuncts = _conjuncts(query, group)
    for keyword, dropped in by_filter.items():
        total = sum(1 for c in all_conjuncts if c.filter.keyword == keyword)
        flt = dropped[0].filter
        if len(dropped) == total:
            end = flt.last + 1 if toks[flt.keyword + 1].text == "(" else flt.last
            # FILTER(true), not nothing: a bare '.' left behind could be a syntax error
            edits.append((toks[flt.keyword].start, toks[end].end, "FILTER(true)"))
        else:
            edits.extend((toks[c.first].start, toks[c.last].end, "true") for c in dropped)
    return edits
