"""What the federation engine needs from a parsed query: patterns, filters, spatial constants.

rdflib's SPARQL algebra gives the structure (BGPs under joins, optionals, unions,
filters).  The engine never has to give the whole query back as text, because the
final answer is computed by the local store over the shipped triples; it only
writes single triple patterns and single FILTER expressions into the small
queries it sends to sources.  So this module has a pattern writer and an
expression writer for the common expression forms, and anything it cannot write
(EXISTS, aggregates, unknown nodes) is simply not pushed: the local evaluation
still applies it, so pushing is an optimisation and never decides correctness.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eokg.errors import QueryError
from eokg.ontologies.namespaces import GEOF, RDF

#: Internal variables the engine adds (path steps, blank nodes of the query).
FRESH = "fed_"
RDF_TYPE = RDF + "type"
#: Relations that imply the two bounding boxes intersect (everything but disjoint).
SPATIAL_RELATIONS = frozenset(
    {
        "sfIntersects",
        "sfWithin",
        "sfContains",
        "sfOverlaps",
        "sfTouches",
        "sfCrosses",
        "sfEquals",
        "ehEquals",
        "ehMeet",
        "ehOverlap",
        "ehCovers",
        "ehCoveredBy",
        "ehInside",
        "ehContains",
        "rcc8eq",
        "rcc8ec",
        "rcc8po",
        "rcc8tppi",
        "rcc8tpp",
        "rcc8ntpp",
        "rcc8ntppi",
    }
)
_NON_DETERMINISTIC = frozenset({"NOW", "RAND", "UUID", "STRUUID", "BNODE"})
_ARG_ORDER = ("arg", "arg1", "arg2", "arg3", "text", "start", "length", "pattern")
_ARG_ORDER_TAIL = ("replacement", "flags")


class Unwritable(Exception):
    """An expression the writer does not cover: it is left to local evaluation."""


@dataclass(frozen=True)
class Pattern:
    """One triple pattern; terms are SPARQL text (``?v``, ``<iri>``, ``"lit"^^<dt>``)."""

    s: str
    p: str
    o: str

    def text(self) -> str:
        return f"{self.s} {self.p} {self.o} ."

    @property
    def variables(self) -> set[str]:
        return {t[1:] for t in (self.s, self.p, self.o) if t.startswith("?")}

    def shape(self) -> str:
        """The pattern with variables renamed in order: the ASK cache key."""
        names: dict[str, str] = {}
        out = []
        for t in (self.s, self.p, self.o):
            if t.startswith("?"):
                out.append(names.setdefault(t, f"?v{len(names)}"))
            else:
                out.append(t)
        return " ".join(out)


@dataclass
class Filter:
    """One FILTER conjunct: its text (None when unwritable), variables, functions."""

    expr: Any
    text: str | None
    variables: set[str]
    functions: set[str]
    has_exists: bool = False


@dataclass
class Block:
    """A basic graph pattern as the engine sees it."""

    patterns: list[Pattern]
    #: IRIs of property paths other than sequences/inverses: shipped wholesale.
    path_predicates: set[str] = field(default_factory=set)

    @property
    def variables(self) -> set[str]:
        return {v for p in self.patterns for v in p.variables}


def parse(text: str) -> Any:
    """The rdflib algebra of ``text``; a syntax error is a ``QueryError`` saying where."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        return prepareQuery(text)
    except Exception as exc:  # pyparsing and rdflib raise several kinds
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QueryError(f"cannot parse the query: {message}", where="federated query") from exc


def term_text(term: Any, names: dict[Any, str]) -> str:
    """An rdflib term as SPARQL text; query blank nodes become fresh variables."""
    from rdflib import BNode, Literal, URIRef, Variable

    if isinstance(term, Variable):
        return f"?{term}"
    if isinstance(term, BNode):
        return "?" + names.setdefault(term, f"{FRESH}b{len(names)}")
    if isinstance(term, URIRef | Literal):
        return str(term.n3())
    raise Unwritable(f"term {term!r}")


def block_of(triples: list[Any], counter: Iterator[int], names: dict[Any, str]) -> Block:
    """Turn BGP triples into patterns, expanding sequence and inverse paths."""
    from rdflib import URIRef
    from rdflib.paths import InvPath, Path, SequencePath

    block = Block([])

    def expand(s: str, path: Any, o: str) -> None:
        if isinstance(path, URIRef):
            block.patterns.append(Pattern(s, str(path.n3()), o))
        elif isinstance(path, SequencePath):
            current = s
            for i, step in enumerate(path.args):
                nxt = o if i == len(path.args) - 1 else f"?{FRESH}p{next(counter)}"
                expand(current, step, nxt)
                current = nxt
        elif isinstance(path, InvPath):
            expand(o, path.arg, s)
        elif isinstance(path, Path):
            block.path_predicates |= set(path_iris(path))
        else:
            block.patterns.append(Pattern(s, term_text(path, names), o))

    for s, p, o in triples:
        expand(term_text(s, names), p, term_text(o, names))
    return block


def path_iris(path: Any) -> Iterator[str]:
    """Every IRI in a property path (for paths that are shipped wholesale)."""
    from rdflib import URIRef
    from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath

    if isinstance(path, URIRef):
        yield str(path)
    elif isinstance(path, SequencePath | AlternativePath):
        for arg in path.args:
            yield from path_iris(arg)
    elif isinstance(path, InvPath):
        yield from path_iris(path.arg)
    elif isinstance(path, MulPath):
        yield from path_iris(path.path)
    elif isinstance(path, NegatedPath):
        raise QueryError(
            "negated property paths are not supported by the federation engine",
            where=f"path {path.n3()}",
        )


# ---------------------------------------------------------------------- expressions


def conjuncts(expr: Any) -> list[Any]:
    """``a && b && c`` as [a, b, c]: FILTER(a && b) is FILTER(a) FILTER(b)."""
    if getattr(expr, "name", None) == "ConditionalAndExpression":
        out = conjuncts(expr["expr"])
        for other in expr.get("other") or []:
            out.extend(conjuncts(other))
        return out
    return [expr]


def make_filter(expr: Any) -> Filter:
    variables: set[str] = set()
    functions: set[str] = set()
    has_exists = _scan(expr, variables, functions)
    try:
        text = None if has_exists else write_expr(expr)
    except Unwritable:
        text = None
    return Filter(expr, text, variables, functions, has_exists)


def exists_graphs(expr: Any) -> Iterator[Any]:
    """Graph patterns of EXISTS / NOT EXISTS inside ``expr`` (as algebra)."""
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(expr, CompValue):
        if expr.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
            yield to_algebra(expr["graph"])
            return
        for value in expr.values():
            yield from exists_graphs(value)
    elif isinstance(expr, list):
        for value in expr:
            yield from exists_graphs(value)


def to_algebra(graph: Any) -> Any:
    """A group graph pattern still in parse-tree form (EXISTS, SERVICE) as algebra."""
    from rdflib.plugins.sparql.algebra import translateGroupGraphPattern

    parse_forms = ("GroupGraphPatternSub", "SubSelect", "GroupOrUnionGraphPattern")
    if getattr(graph, "name", None) in parse_forms:
        return translateGroupGraphPattern(graph)
    return graph


def _scan(expr: Any, variables: set[str], functions: set[str]) -> bool:
    from rdflib import Variable
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(expr, Variable):
        variables.add(str(expr))
        return False
    if isinstance(expr, list):
        found = False
        for value in expr:
            found = _scan(value, variables, functions) or found
        return found
    if isinstance(expr, CompValue):
        if expr.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
            return True
        if expr.name == "Function":
            functions.add(str(expr["iri"]))
        found = False
        for key, value in expr.items():
            if key != "_vars":
                found = _scan(value, variables, functions) or found
        return found
    return False


def write_expr(expr: Any) -> str:
    """SPARQL text of an expression; ``Unwritable`` for forms not covered."""
    from rdflib import Literal, URIRef, Variable
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(expr, Variable):
        return f"?{expr}"
    if isinstance(expr, URIRef | Literal):
        return str(expr.n3())
    if not isinstance(expr, CompValue):
        raise Unwritable(repr(expr))
    name = expr.name
    if name == "RelationalExpression":
        left = write_expr(expr["expr"])
        op = expr["op"]
        other = expr["other"]
        if op in ("IN", "NOT IN"):
            items = ", ".join(write_expr(o) for o in other)
            return f"({left} {op} ({items}))"
        return f"({left} {op} {write_expr(other)})"
    if name in ("ConditionalAndExpression", "ConditionalOrExpression"):
        op = " && " if name == "ConditionalAndExpression" else " || "
        parts = [write_expr(expr["expr"])] + [write_expr(o) for o in expr.get("other") or []]
        return "(" + op.join(parts) + ")"
    if name in ("AdditiveExpression", "MultiplicativeExpression"):
        text = write_expr(expr["expr"])
        for op, other in zip(expr.get("op") or [], expr.get("other") or [], strict=True):
            text = f"({text} {op} {write_expr(other)})"
        return text
    if name == "UnaryNot":
        return f"(!{write_expr(expr['expr'])})"
    if name == "UnaryMinus":
        return f"(-{write_expr(expr['expr'])})"
    if name == "UnaryPlus":
        return f"(+{write_expr(expr['expr'])})"
    if name == "Function":
        if expr.get("distinct"):
            raise Unwritable("aggregate")
        call_args = ", ".join(write_expr(a) for a in expr.get("expr") or [])
        return f"<{expr['iri']}>({call_args})"
    if name.startswith("Builtin_"):
        keyword = name[len("Builtin_") :]
        if keyword in _NON_DETERMINISTIC or keyword in ("EXISTS", "NOTEXISTS"):
            raise Unwritable(keyword)
        args: list[str] = []
        known = set(_ARG_ORDER) | set(_ARG_ORDER_TAIL) | {"_vars"}
        if any(k not in known for k in expr):
            raise Unwritable(name)
        for key in (*_ARG_ORDER, *_ARG_ORDER_TAIL):
            if key in expr and expr[key] is not None:
                value = expr[key]
                values = value if isinstance(value, list) else [value]
                args.extend(write_expr(v) for v in values)
        return f"{keyword}({', '.join(args)})"
    raise Unwritable(name)


# ---------------------------------------------------------------------- spatial constants


@dataclass(frozen=True)
class SpatialConstraint:
    """``?var`` must come within ``margin`` of the CRS84 box of a constant geometry."""

    variable: str
    bbox: tuple[float, float, float, float]


def spatial_constraint(flt: Filter) -> SpatialConstraint | None:
    """The box a filter confines a geometry variable to, if it has a constant geometry.

    Covers ``geof:sfX(?w, CONST)`` (either order) for every relation that implies
    intersecting boxes, and ``geof:distance(?w, CONST, uom) < d`` (or ``<=``).
    """
    from rdflib import Literal, URIRef

    expr = flt.expr
    name = getattr(expr, "name", None)
    if name == "Function":
        iri = str(expr["iri"])
        if not iri.startswith(GEOF) or iri[len(GEOF) :] not in SPATIAL_RELATIONS:
            return None
        args = list(expr.get("expr") or [])
        if len(args) != 2:
            return None
        var, const = _var_and_const(args)
        if var is None:
            return None
        box = _literal_bbox(const)
        return SpatialConstraint(var, box) if box else None
    if name == "RelationalExpression" and expr["op"] in ("<", "<="):
        call, limit = expr["expr"], expr["other"]
        if getattr(call, "name", None) != "Function" or str(call["iri"]) != GEOF + "distance":
            return None
        if not isinstance(limit, Literal):
            return None
        try:
            distance = float(limit.toPython())
        except (TypeError, ValueError):
            return None
        args = list(call.get("expr") or [])
        if len(args) != 3 or not isinstance(args[2], URIRef):
            return None
        var, const = _var_and_const(args[:2])
        box = _literal_bbox(const) if var else None
        if var is None or box is None:
            return None
        try:
            grown = _grow(box, distance, str(args[2]))
        except Exception:  # an unknown unit: no pruning, the function reports it
            return None
        return SpatialConstraint(var, grown)
    return None


def _var_and_const(args: list[Any]) -> tuple[str | None, Any]:
    from rdflib import Literal, Variable

    a, b = args
    if isinstance(a, Variable) and isinstance(b, Literal):
        return str(a), b
    if isinstance(b, Variable) and isinstance(a, Literal):
        return str(b), a
    return None, None


def _literal_bbox(literal: Any) -> tuple[float, float, float, float] | None:
    from eokg.kg.geometry import parse_literal, to_crs84

    if literal is None or literal.datatype is None:
        return None
    try:
        geom = to_crs84(parse_literal(str(literal), str(literal.datatype)))
    except Exception:
        return None
    if geom.shape.is_empty:
        return None
    return tuple(float(v) for v in geom.shape.bounds)  # type: ignore[return-value]


def _grow(
    box: tuple[float, float, float, float], distance: float, uom: str
) -> tuple[float, float, float, float]:
    """The box grown by a distance: the same search box the local planner uses
    (``spatial_join.distance_box``), so pruning and indexing never disagree."""
    import shapely

    from eokg.errors import EokgError
    from eokg.kg.spatial_join import distance_box

    grown = distance_box(shapely.box(*box), distance, uom)
    if grown is None:
        raise EokgError(f"unknown unit of measure {uom}", where="geof:distance")
    minx, miny, maxx, maxy = grown
    return (minx, max(-90.0, miny), maxx, min(90.0, maxy))


def fresh_counter() -> Iterator[int]:
    return itertools.count()
