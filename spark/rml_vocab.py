"""The RML vocabulary eokg reads: the current one, and the legacy names as aliases.

The primary vocabulary is the W3C KG-Construct Community Group's RML
(``http://w3id.org/rml/``: RML-Core, RML-IO, RML-FNML).  The legacy one
(R2RML ``rr:`` + ``http://semweb.mmlab.be/ns/rml#`` + ``ql:``) is still what
most published mappings use, so :func:`normalise` rewrites its terms to the
current ones through :data:`LEGACY`, one table, before the reader looks at the
graph: there is one reader, and it only knows current terms.

:func:`unimplemented` lists every property of these namespaces the engine does
not implement; the reader refuses them rather than silently dropping a part of
the user's mapping.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rdflib import Graph

RML = "http://w3id.org/rml/"
RR = "http://www.w3.org/ns/r2rml#"
OLD_RML = "http://semweb.mmlab.be/ns/rml#"
QL = "http://semweb.mmlab.be/ns/ql#"
FNML = "http://semweb.mmlab.be/ns/fnml#"
FNO = "https://w3id.org/function/ontology#"
FNO_OLD = "http://w3id.org/function/ontology#"
RRX = "http://www.w3.org/ns/r2rml-ext#"
#: Legacy RML-Target and compression namespaces (RMLMapper's ``rmlt:`` / ``comp:``).
RMLT = "http://semweb.mmlab.be/ns/rml-target#"
COMP = "http://semweb.mmlab.be/ns/rml-compression#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

_SAME_IN_RR = (
    "TriplesMap", "SubjectMap", "PredicateMap", "ObjectMap", "GraphMap",
    "PredicateObjectMap", "RefObjectMap", "Join",
    "subjectMap", "subject", "predicateObjectMap", "predicate", "predicateMap",
    "object", "objectMap", "graph", "graphMap", "class", "constant", "template",
    "termType", "datatype", "language", "parentTriplesMap", "joinCondition",
    "child", "parent", "IRI", "Literal", "BlankNode", "defaultGraph",
)  # fmt: skip
_SAME_IN_OLD_RML = (
    "logicalSource", "source", "referenceFormulation", "iterator", "reference",
    "languageMap", "LogicalSource",
)  # fmt: skip

#: Legacy term -> current term.  Legacy terms not in this table keep their IRI
#: and, being unimplemented, are refused by name.
LEGACY: dict[str, str] = {
    **{RR + name: RML + name for name in _SAME_IN_RR},
    **{OLD_RML + name: RML + name for name in _SAME_IN_OLD_RML},
    RR + "column": RML + "reference",
    QL + "CSV": RML + "CSV",
    QL + "JSONPath": RML + "JSONPath",
    QL + "XPath": RML + "XPath",
    OLD_RML + "logicalTarget": RML + "logicalTarget",
    **{
        RMLT + name: RML + name
        for name in ("LogicalTarget", "target", "serialization", "compression")
    },
    **{COMP + name: RML + name for name in ("none", "gzip", "zip", "tar", "targz", "tarxz")},
}

#: Properties the reader interprets (after :func:`normalise`).
_IMPLEMENTED_LOCAL = (
    "logicalSource", "source", "referenceFormulation", "iterator",
    "root", "path", "encoding", "compression", "null",
    "subjectMap", "subject", "predicateObjectMap", "predicate", "predicateMap",
    "object", "objectMap", "graph", "graphMap", "class",
    "constant", "reference", "template", "termType",
    "datatype", "datatypeMap", "language", "languageMap",
    "parentTriplesMap", "joinCondition", "child", "parent", "childMap", "parentMap",
    "baseIRI", "functionExecution", "function", "input", "parameter",
    "inputValue", "inputValueMap", "return",
    "logicalTarget", "target", "serialization",
)  # fmt: skip
IMPLEMENTED: frozenset[str] = frozenset(
    [RML + name for name in _IMPLEMENTED_LOCAL] + [FNML + "functionValue"]
)

#: Namespaces whose every property must be understood.
CHECKED = (RML, RR, OLD_RML, QL, FNML, RMLT, COMP)

#: BCP 47 language tags (a 2-3 letter primary language; "english" is not a tag).
LANGUAGE_TAG = re.compile(
    r"^(?:[a-zA-Z]{2,3}(?:-[a-zA-Z]{3}){0,3}(?:-[a-zA-Z]{4})?(?:-(?:[a-zA-Z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*(?:-[0-9A-WY-Za-wy-z](?:-[a-zA-Z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-zA-Z0-9]{1,8})+)?|x(?:-[a-zA-Z0-9]{1,8})+)$"
)

_PREFIXES = {
    RML: "rml:",
    RR: "rr:",
    OLD_RML: "rml(legacy):",
    QL: "ql:",
    FNML: "fnml:",
    RMLT: "rmlt:",
}


def short(iri: str) -> str:
    """``rml:foo`` for an IRI of a known namespace (for messages)."""
    for ns, prefix in sorted(_PREFIXES.items(), key=lambda kv: -len(kv[0])):
        if iri.startswith(ns):
            return prefix + iri[len(ns) :]
    return f"<{iri}>"


def normalise(graph: Graph) -> bool:
    """Rewrite legacy terms (anywhere in a triple) to their current names, in place.

    True when the graph used legacy terms: legacy mappings keep legacy data
    semantics (empty CSV cells are null, JSON values are plain strings).
    """
    from rdflib import URIRef

    changed = [t for t in graph if any(str(x) in LEGACY for x in t)]
    for triple in changed:
        graph.remove(triple)
        graph.add(tuple(URIRef(LEGACY[str(x)]) if str(x) in LEGACY else x for x in triple))  # type: ignore[arg-type]
    return bool(changed)


def unimplemented(graph: Graph) -> list[tuple[str, str]]:
    """(property, subject) of every checked-namespace property the engine does not read."""
    out = []
    for s, p, _ in graph:
        name = str(p)
        if name.startswith(CHECKED) and name not in IMPLEMENTED:
            out.append((name, str(s)))
    return sorted(set(out))
