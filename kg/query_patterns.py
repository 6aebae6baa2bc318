"""Reading the parse tree: filter conjuncts, geof: calls, paths, variables in scope.

Small, pure functions over rdflib's SPARQL parse tree (see ``sparql_syntax``),
shared by the planner and the entailment rewriting.
"""

from __future__ import annotations

from typing import Any

from eokg.errors import GeometryError
from eokg.kg.entailment import SUBPROPERTIES, TOPOLOGY
from eokg.kg.geometry import GEOMETRY_DATATYPES, GEOMETRY_PREDICATES, parse_literal
from eokg.kg.sparql_syntax import Writer, _get, _is_seq, flatten
from eokg.ontologies.namespaces import GEO, GEOF, RDF


def conjuncts(expr: Any) -> list[Any]:
    """The ``&&`` conjuncts of a filter expression, wrappers removed."""
    node = core(expr)
    if getattr(node, "name", None) == "ConditionalAndExpression":
        return [core(node["expr"]), *(core(o) for o in _get(node, "other") or [])]
    return [node]


def core(node: Any) -> Any:
    """Strip single-operand expression wrappers the parse tree keeps."""
    while getattr(node, "name", None) in (
        "ConditionalOrExpression",
        "ConditionalAndExpression",
        "RelationalExpression",
        "AdditiveExpression",
        "MultiplicativeExpression",
    ):
        if _get(node, "other") or _get(node, "op"):
            return node
        node = node["expr"]
    return node


def geof_call(writer: Writer, node: Any) -> tuple[str, list[tuple[str, Any]]] | None:
    from rdflib import Literal, URIRef, Variable

    iri = writer.iri(node["iri"])
    if not iri.startswith(GEOF) or _get(node, "distinct"):
        return None
    args: list[tuple[str, Any]] = []
    for raw in _get(node, "expr") or []:
        arg = core(raw)
        if isinstance(arg, Variable):
            args.append(("var", str(arg)))
            continue
        datatype = literal_datatype(writer, arg)
        if datatype in GEOMETRY_DATATYPES:
            value = str(arg["string"]) if not isinstance(arg, Literal) else str(arg)
            try:
                args.append(("geom", parse_literal(value, datatype)))
            except GeometryError:
                return None  # a bad constant: the function library reports it
            continue
        if isinstance(arg, URIRef) or getattr(arg, "name", None) == "pname":
            args.append(("iri", writer.iri(arg)))
            continue
        return None
    return iri[len(GEOF) :], args


def number(node: Any) -> float | None:
    from rdflib import Literal

    if isinstance(node, Literal):
        try:
            return float(node.toPython())
        except (TypeError, ValueError):
            return None
    return None


def literal_datatype(writer: Writer, node: Any) -> str | None:
    from rdflib import Literal

    if isinstance(node, Literal):
        return str(node.datatype) if node.datatype else None
    if getattr(node, "name", None) == "literal" and _get(node, "datatype") is not None:
        return writer.iri(node["datatype"])
    return None


def constant_from_text(text: str) -> Any:
    """Parse a literal written by ``Writer.term`` (``"..."^^<dt>``) back to a Geom."""
    import json

    if "^^<" not in text:
        return None
    lexical, _, datatype = text.rpartition("^^<")
    try:
        value = json.loads(lexical)
        return parse_literal(value, datatype.rstrip(">"))
    except (ValueError, GeometryError):
        return None


def plain_iri(writer: Writer, path: Any) -> str | None:
    """The IRI of a path that is a single forward IRI step with no modifier."""
    from rdflib import URIRef, Variable

    node = path
    while True:
        if isinstance(node, Variable):
            return None
        if isinstance(node, URIRef) or getattr(node, "name", None) == "pname":
            return writer.iri(node)
        name = getattr(node, "name", None)
        if name in ("PathAlternative", "PathSequence"):
            items = node["part"]
            if len(items) != 1:
                return None
            node = items[0]
        elif name == "PathElt":
            if _get(node, "mod"):
                return None
            node = node["part"]
        else:
            return None


def sequence_steps(writer: Writer, path: Any) -> list[str] | None:
    """The IRIs of a path that is a sequence of two or more plain forward steps.

    ``geo:hasGeometry/geo:asWKT`` is the usual way to reach a literal; split into
    triples it gets the same entailment and index planning as explicit triples.
    """
    node = path
    if getattr(node, "name", None) == "PathAlternative":
        if len(node["part"]) != 1:
            return None
        node = node["part"][0]
    if getattr(node, "name", None) != "PathSequence" or len(node["part"]) < 2:
        return None
    steps = [plain_iri(writer, step) for step in node["part"]]
    return None if any(step is None for step in steps) else steps  # type: ignore[return-value]


def term_iri(writer: Writer, node: Any) -> str | None:
    from rdflib import URIRef

    if isinstance(node, URIRef) or getattr(node, "name", None) == "pname":
        return writer.iri(node)
    return None


def last_steps(writer: Writer, path: Any) -> set[str] | None:
    """IRIs a path can end with (forward, unmodified), or None when it could end otherwise."""
    from rdflib import URIRef, Variable

    if isinstance(path, Variable):
        return None
    if isinstance(path, URIRef) or getattr(path, "name", None) == "pname":
        return {writer.iri(path)}
    name = getattr(path, "name", None)
    if name == "PathAlternative":
        out: set[str] = set()
        for alt in path["part"]:
            ends = last_steps(writer, alt)
            if ends is None:
                return None
            out |= ends
        return out
    if name == "PathSequence":
        return last_steps(writer, path["part"][-1])
    if name == "PathElt":
        if _get(path, "mod") in ("*", "?"):
            return None  # may be zero-length: the object is then the subject
        return last_steps(writer, path["part"])
    return None


def geometry_object(writer: Writer, path: Any, obj: Any) -> str | None:
    from rdflib import Variable

    if not isinstance(obj, Variable):
        return None
    ends = last_steps(writer, path)
    if ends and ends <= GEOMETRY_PREDICATES:
        return str(obj)
    return None


def triple_text(writer: Writer, s: Any, p: Any, o: Any) -> str:
    return f"{writer.term(s)} {writer.path(p)} {writer.term(o)} ."


def vars_of(*nodes: Any) -> set[str]:
    from rdflib import BNode, Variable

    out: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, Variable):
            out.add(str(node))
        elif isinstance(node, BNode):
            out.add(f"eokg_b{node}")  # as Writer.term writes it
        elif isinstance(node, dict):
            for key, value in node.items():
                if key != "_vars":
                    visit(value)
        elif _is_seq(node):
            for value in node:
                visit(value)

    for node in nodes:
        visit(node)
    return out


def raw_vars(text: str) -> set[str]:
    import re

    return set(re.findall(r"\?([A-Za-z0-9_]+)", re.sub(r'"(?:[^"\\]|\\.)*"|<[^>]*>', " ", text)))


def in_scope(group: Any) -> list[str]:
    """Variables ``SELECT *`` returns for a group, in order of appearance (SPARQL 18.2.1)."""
    from rdflib import Variable

    seen: dict[str, None] = {}

    def add(node: Any) -> None:
        for v in _ordered_vars(node):
            seen.setdefault(v, None)

    def visit(node: Any) -> None:
        name = getattr(node, "name", None)
        if name == "SubSelect":
            projection = _get(node, "projection")
            if not projection:
                visit(node["where"])
                return
            for item in projection:
                var = _get(item, "var") if _get(item, "var") is not None else _get(item, "evar")
                if isinstance(var, Variable):
                    seen.setdefault(str(var), None)
            return
        if name != "GroupGraphPatternSub":
            return
        for part in _get(node, "part") or []:
            kind = part.name
            if kind == "TriplesBlock":
                add(flatten(part["triples"]))
            elif kind in ("OptionalGraphPattern",):
                visit(part["graph"])
            elif kind == "GroupOrUnionGraphPattern":
                for g in part["graph"]:
                    visit(g)
            elif kind == "GraphGraphPattern":
                if isinstance(part["term"], Variable):
                    seen.setdefault(str(part["term"]), None)
                visit(part["graph"])
            elif kind == "ServiceGraphPattern":
                visit(part["graph"])
            elif kind == "Bind":
                seen.setdefault(str(part["var"]), None)
            elif kind == "InlineData":
                for v in _get(part, "var") or []:
                    seen.setdefault(str(v), None)

    visit(group)
    return list(seen)


def _ordered_vars(node: Any) -> list[str]:
    from rdflib import Variable

    out: list[str] = []
    if isinstance(node, Variable):
        out.append(str(node))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "_vars":
                out.extend(_ordered_vars(value))
    elif _is_seq(node):
        for value in node:
            out.extend(_ordered_vars(value))
    return out


def needs_entailment(writer: Writer, path: Any, obj: Any) -> bool:
    """A triple whose plain match may miss entailed or computed answers."""
    iri = plain_iri(writer, path)
    if iri is None or (not iri.startswith(GEO) and iri != RDF + "type"):
        return False
    if iri == RDF + "type":
        cls = term_iri(writer, obj)
        return cls is not None and cls.startswith(GEO)
    local = iri[len(GEO) :]
    return local in TOPOLOGY or local in SUBPROPERTIES
