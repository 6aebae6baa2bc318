"""Which geometry literals a SPARQL UPDATE can touch, worked out before it runs.

The spatial index follows updates incrementally: ``effects_of`` names the
``(literal, graph)`` pairs an update may add or remove, or the graphs it may
change wholesale, and after the update the store rechecks only those against
itself (so over-approximating is safe, missing a pair is not):

* ``INSERT DATA`` / ``DELETE DATA``: the geometry literals of the quads, read
  with Oxigraph's own TriG parser so that terms are exactly the store's (a full
  rdflib parse costs ~2 ms, a hundred times the update itself); rdflib when the
  data block is not plain TriG;
* ``DELETE/INSERT ... WHERE`` and ``DELETE WHERE``: the WHERE part is evaluated
  first as a SELECT over the same dataset (WITH / USING) for the template
  variables in object (and graph) position; bound geometry literals and constant
  ones in the templates are the candidates;
* ``CLEAR`` / ``DROP`` / ``ADD`` / ``MOVE`` / ``COPY``: the graphs involved
  (``NAMED``: every named graph; ``ALL``: everything);
* ``LOAD``, anything rdflib cannot parse, and a WHERE operation after another
  operation of the same request (its WHERE would see the earlier changes, which
  a SELECT beforehand cannot): everything, i.e. a full resync.

An update naming no geometry predicate or datatype, with no variables and no
graph operation, cannot touch the index and is not analysed at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eokg.kg.sparql_text import Token, is_word, matching, tokenize
from eokg.kg.spatial_index import (
    DEFAULT_GRAPH,
    GEOMETRY_DATATYPES,
    GEOMETRY_PREDICATES,
    graph_key,
    is_geometry_literal,
)

#: Evaluate a SELECT on the store: (query, default graph keys or None, named graph IRIs or None)
#: -> solutions that map variable names to terms.  None means the store's own dataset part.
Select = Callable[[str, list[str] | None, list[str] | None], Iterable[Any]]

# Anything that might reach a geometry triple: a variable, a graph operation, a
# geometry predicate/datatype or the GeoSPARQL namespace, or a \u escape that
# could spell one.
_MAY_TOUCH = re.compile(
    r"[?$]|\\[uU]|geosparql|as(?:WKT|GeoJSON|GML|KML)|(?:wkt|geoJSON|gml|kml)Literal"
    r"|\b(?:CLEAR|DROP|LOAD|MOVE|COPY|ADD)\b",
    re.IGNORECASE,
)
_PATTERN_OPS = frozenset({"Modify", "DeleteWhere"})
# Candidate pairs kept from a WHERE before falling back to a full rescan.
_MAX_PAIRS = 1_000_000


@dataclass(frozen=True)
class Effects:
    """What an update may change in the index."""

    pairs: frozenset[tuple[Any, str]] = field(default_factory=frozenset)  # (Literal, graph key)
    graphs: frozenset[str] = field(default_factory=frozenset)  # graph keys changed wholesale
    named_graphs: bool = False  # every named graph changed wholesale
    everything: bool = False  # not analysable: rescan the store

    def __or__(self, other: Effects) -> Effects:
        return Effects(
            self.pairs | other.pairs,
            self.graphs | other.graphs,
            self.named_graphs or other.named_graphs,
            self.everything or other.everything,
        )

    @property
    def none(self) -> bool:
        return not (self.pairs or self.graphs or self.named_graphs or self.everything)


NONE = Effects()
EVERYTHING = Effects(everything=True)


def may_touch_geometry(sparql: str) -> bool:
    """Cheap textual pre-check; False means the update cannot change the index."""
    return _MAY_TOUCH.search(sparql) is not None


def effects_of(sparql: str, select: Select, base_iri: str | None = None) -> Effects:
    """What ``sparql`` may change in the index; call before the update runs.

    ``base_iri`` is the one the update itself runs with (relative IRIs).
    """
    if not may_touch_geometry(sparql):
        return NONE
    try:
        return _effects(sparql, select, base_iri)
    except Exception:  # rdflib cannot read it (Oxigraph may), or a shape not foreseen: rescan
        return EVERYTHING


def _effects(sparql: str, select: Select, base_iri: str | None) -> Effects:
    tokens = tokenize(sparql)
    data = _data_effects(sparql, tokens, base_iri)
    if data is not None:
        return data
    from rdflib.plugins.sparql.algebra import translateUpdate
    from rdflib.plugins.sparql.parser import parseUpdate

    operations = list(translateUpdate(parseUpdate(sparql), base=base_iri).algebra)
    out = NONE
    for position, op in enumerate(operations):
        if op.name in _PATTERN_OPS:
            if position > 0:
                return EVERYTHING
            out |= _pattern_effects(op, sparql, tokens, select)
        else:
            out |= _other_effects(op)
        if out.everything:
            return EVERYTHING
    return out


# --- INSERT DATA / DELETE DATA: Oxigraph's TriG parser -------------------------------------


def _data_effects(text: str, tokens: list[Token], base_iri: str | None) -> Effects | None:
    """Effects of a request made only of DATA operations; None when it is anything else."""
    import pyoxigraph

    documents: list[str] = []
    prologue: list[str] = []
    i = 0
    while i < len(tokens):
        declared = _declaration(tokens, i)
        if declared:
            prologue.append(text[tokens[i].start : tokens[declared - 1].end] + "\n")
            i = declared
            continue
        if not (
            i + 2 < len(tokens)
            and is_word(tokens[i], "INSERT", "DELETE")
            and is_word(tokens[i + 1], "DATA")
            and tokens[i + 2].text == "{"
        ):
            return None
        close = _close(tokens, i + 2)
        if close is None:
            return None
        documents.append("".join(prologue) + _trig(text, tokens, i + 2, close))
        i = close + 1
        if i < len(tokens) and tokens[i].text == ";":
            i += 1
    pairs: set[tuple[Any, str]] = set()
    for document in documents:
        try:
            quads = list(pyoxigraph.parse(document, pyoxigraph.RdfFormat.TRIG, base_iri=base_iri))
        except SyntaxError:
            return None
        pairs.update(
            (quad.object, graph_key(quad.graph_name))
            for quad in quads
            if quad.predicate.value in GEOMETRY_PREDICATES and is_geometry_literal(quad.object)
        )
    return Effects(pairs=frozenset(pairs))


def _declaration(tokens: list[Token], i: int) -> int:
    """Index after a ``PREFIX p: <iri>`` or ``BASE <iri>`` starting at ``i``; 0 if none."""
    if is_word(tokens[i], "BASE") and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
        return i + 2
    if (
        is_word(tokens[i], "PREFIX")
        and i + 2 < len(tokens)
        and tokens[i + 1].kind == "pname"
        and tokens[i + 2].kind == "iri"
    ):
        return i + 3
    return 0


def _trig(text: str, tokens: list[Token], open_: int, close: int) -> str:
    """A SPARQL QuadData block as TriG: default-graph triples wrapped in ``{ }``.

    (TriG needs a final '.' after top-level triples but not inside braces, and it
    has no nested ``GRAPH`` inside a wrapped default graph, hence the split.)
    """
    parts: list[str] = []
    start: int | None = None
    end = 0
    i = open_ + 1
    while i < close:
        token = tokens[i]
        if is_word(token, "GRAPH") and i + 2 < close and tokens[i + 2].text == "{":
            if start is not None:
                parts.append("{" + text[start:end] + "}")
                start = None
            inner = _close(tokens, i + 2)
            if inner is None or inner >= close:
                return text[tokens[open_].start : tokens[close].end]  # let the parser complain
            parts.append(text[token.start : tokens[inner].end])
            i = inner + 1
            continue
        if start is None and token.text != ".":
            start = token.start
        if start is not None:
            end = token.end
        i += 1
    if start is not None:
        parts.append("{" + text[start:end] + "}")
    return "\n".join(parts)


def _close(tokens: list[Token], open_: int) -> int | None:
    try:
        return matching(tokens, open_)
    except ValueError:
        return None


# --- DELETE/INSERT WHERE: evaluate the WHERE first -----------------------------------------


def _pattern_effects(op: Any, text: str, tokens: list[Token], select: Select) -> Effects:
    """Candidates of the request's first operation, a DELETE/INSERT ... WHERE or DELETE WHERE."""
    with_graph = _field(op, "withClause")
    with_graph = None if with_graph is None else str(with_graph)
    default_key = with_graph if with_graph is not None else DEFAULT_GRAPH
    clauses = [op] if op.name == "DeleteWhere" else [_field(op, "delete"), _field(op, "insert")]
    templates = [
        (graph, obj)
        for clause in clauses
        if clause is not None
        for graph, _, predicate, obj in _template_quads(clause)
        if _may_be_geometry(predicate, obj)
    ]
    if not templates:
        return NONE
    from rdflib.term import Variable

    pairs: set[tuple[Any, str]] = set()
    variables: set[str] = set()
    for graph, obj in templates:
        for term in (graph, obj):
            if isinstance(term, Variable):
                variables.add(str(term))
        if not isinstance(graph, Variable) and not isinstance(obj, Variable):
            pairs.add((_literal(obj), _template_graph(graph, default_key)))
    if variables:
        where = _first_where(text, tokens)
        if where is None:
            return EVERYTHING
        prologue, group = where
        query = (
            prologue
            + " SELECT DISTINCT "
            + " ".join("?" + name for name in sorted(variables))
            + " WHERE "
            + group
        )
        default, named = _dataset(op, with_graph)
        for row in select(query, default, named):
            if len(pairs) > _MAX_PAIRS:
                return EVERYTHING  # a rescan holds less than this many candidates
            for graph, obj in templates:
                literal = row[str(obj)] if isinstance(obj, Variable) else _literal(obj)
                if isinstance(graph, Variable):
                    bound = row[str(graph)]
                    key = None if bound is None else graph_key(bound)
                else:
                    key = _template_graph(graph, default_key)
                if key is not None and is_geometry_literal(literal):
                    pairs.add((literal, key))
    return Effects(pairs=frozenset(pairs))


def _template_quads(clause: Any) -> Iterable[tuple[Any, Any, Any, Any]]:
    """``(graph or None, s, p, o)`` for each triple of a template (rdflib algebra)."""
    for s, p, o in _field(clause, "triples") or ():
        yield None, s, p, o
    for graph, triples in (_field(clause, "quads") or {}).items():
        for s, p, o in triples:
            yield graph, s, p, o


def _may_be_geometry(predicate: Any, obj: Any) -> bool:
    from rdflib.term import Literal, Variable

    if not (isinstance(predicate, Variable) or str(predicate) in GEOMETRY_PREDICATES):
        return False
    if isinstance(obj, Variable):
        return True
    return isinstance(obj, Literal) and str(obj.datatype) in GEOMETRY_DATATYPES


def _field(node: Any, name: str) -> Any:
    """A part of an rdflib algebra node, None when absent (its ``get`` returns the name)."""
    return node[name] if name in node else None  # noqa: SIM401 (get(name, None) differs)


def _template_graph(graph: Any, default_key: str) -> str:
    return default_key if graph is None else str(graph)


def _literal(term: Any) -> Any:
    import pyoxigraph

    return pyoxigraph.Literal(str(term), datatype=pyoxigraph.NamedNode(str(term.datatype)))


def _dataset(op: Any, with_graph: str | None) -> tuple[list[str] | None, list[str] | None]:
    """(default graph keys, named graph IRIs) the WHERE part is evaluated over."""
    using = _field(op, "using") or []
    if using:
        default = [str(u["default"]) for u in using if "default" in u]
        named = [str(u["named"]) for u in using if "named" in u]
        return default, named
    if with_graph is not None:
        return [with_graph], None
    return None, None


def _first_where(text: str, tokens: list[Token]) -> tuple[str, str] | None:
    """(prologue, WHERE group) of the first operation, as text."""
    i = 0
    while i < len(tokens) and (declared := _declaration(tokens, i)):
        i = declared
    prologue = text[: tokens[i].start] if i < len(tokens) else text
    depth = 0
    for j in range(i, len(tokens)):
        token = tokens[j]
        if token.kind == "op" and token.text == "{":
            depth += 1
        elif token.kind == "op" and token.text == "}":
            depth -= 1
        elif depth == 0 and is_word(token, "WHERE"):
            if j + 1 < len(tokens) and tokens[j + 1].text == "{":
                close = _close(tokens, j + 1)
                if close is not None:
                    return prologue, text[tokens[j + 1].start : tokens[close].end]
            return None
        elif depth == 0 and token.text == ";":
            return None
    return None


# --- graph management -----------------------------------------------------------------------


def _other_effects(op: Any) -> Effects:
    name = op.name
    if name in ("InsertData", "DeleteData"):
        return Effects(
            pairs=frozenset(
                (_literal(o), _template_graph(graph, DEFAULT_GRAPH))
                for graph, _, p, o in _template_quads(op)
                if _may_be_geometry(p, o)
            )
        )
    if name in ("Clear", "Drop"):
        target = op.graphiri
        if target == "ALL":
            return EVERYTHING  # the store is empty of geometry afterwards: rescanning is cheap
        if target == "NAMED":
            return Effects(named_graphs=True)
        return Effects(graphs=frozenset({_graph_ref(target)}))
    if name in ("Add", "Move", "Copy"):
        return Effects(graphs=frozenset(_graph_ref(g) for g in op.graph))
    if name == "Create":
        return NONE
    return EVERYTHING  # LOAD, and anything newer than this module


def _graph_ref(ref: Any) -> str:
    return DEFAULT_GRAPH if ref == "DEFAULT" else str(ref)
