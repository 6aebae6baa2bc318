"""The typed mapping plan: what an RML document means, free of RDF syntax.

The parser (``rml.py``) turns Turtle into these frozen dataclasses and the
executors (``arrow_exec.py`` locally and inside Spark's ``mapInArrow``,
``job.py`` for the Spark plumbing) only ever see this plan.  Keeping the plan
plain and picklable is what lets the same object travel to Spark workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

TermKind = Literal["constant", "reference", "template", "function"]
TermType = Literal["iri", "literal", "blank"]

#: Reference formulations the executors read (short names; the parser maps IRIs onto them).
Formulation = Literal[
    "jsonpath", "csv", "xpath", "geojson", "geoparquet", "parquet", "shapefile", "stac", "statoil"
]


@dataclass(frozen=True)
class Reference:
    """One data reference (a JSONPath-like path or a column name).

    ``path`` is the reference split into keys, so ``$.properties['sar:polarizations']``
    becomes ``("properties", "sar:polarizations")``.  ``raw`` asks for the value as
    JSON text (dicts and arrays kept whole), which is what geometry and tensor
    functions need; otherwise arrays yield one term per element, as RML says.
    """

    text: str
    path: tuple[str, ...]
    raw: bool = False

    @property
    def column(self) -> str:
        """The name of the projected column that holds this reference's values."""
        return ("raw:" if self.raw else "val:") + self.text


@dataclass(frozen=True)
class FunctionCall:
    """An FnML/FnO call: the function IRI and its parameters by parameter IRI."""

    function: str
    params: tuple[tuple[str, TermMap], ...]

    def param(self, iri: str) -> TermMap | None:
        for key, value in self.params:
            if key == iri:
                return value
        return None


@dataclass(frozen=True)
class TermMap:
    """A subject, predicate, object or graph map.

    ``value`` is the constant IRI/literal, the reference, or the template string;
    ``template`` is the template pre-split into literal text and references.
    """

    kind: TermKind
    term_type: TermType
    where: str
    constant: str | None = None
    reference: Reference | None = None
    template: tuple[str | Reference, ...] = ()
    function: FunctionCall | None = None
    datatype: str | None = None
    language: str | None = None
    #: ``rml:datatypeMap`` / ``rml:languageMap``: the datatype or tag read per record.
    datatype_map: TermMap | None = None
    language_map: TermMap | None = None
    #: Base IRI that relative IRIs this map generates are resolved against.
    base: str | None = None
    #: ``rml:UnsafeIRI``: template values go into the IRI without percent-encoding.
    unsafe: bool = False

    def references(self) -> list[Reference]:
        """Every data reference this term map reads, functions and tag maps included."""
        refs: list[Reference] = []
        for extra in (self.datatype_map, self.language_map):
            if extra is not None:
                refs.extend(extra.references())
        if self.kind == "reference" and self.reference is not None:
            refs.append(self.reference)
        elif self.kind == "template":
            refs.extend(part for part in self.template if isinstance(part, Reference))
        elif self.kind == "function" and self.function is not None:
            for _, param in self.function.params:
                refs.extend(param.references())
        return refs


@dataclass(frozen=True)
class JoinCondition:
    child: Reference
    parent: Reference


@dataclass(frozen=True)
class RefObjectMap:
    """A referencing object map: the parent triples map's subjects are the objects."""

    parent: str  # IRI of the parent triples map
    joins: tuple[JoinCondition, ...]
    where: str


@dataclass(frozen=True)
class PredicateObjectMap:
    predicates: tuple[TermMap, ...]
    objects: tuple[TermMap, ...]
    ref_objects: tuple[RefObjectMap, ...]
    graphs: tuple[TermMap, ...]
    where: str


@dataclass(frozen=True)
class LogicalSource:
    """Where records come from.  ``path`` is resolved against the mapping file."""

    name: str
    path: Path
    formulation: Formulation
    iterator: str | None = None
    where: str = ""
    #: Values that mean "no value" (``rml:null``); CSV has none unless declared.
    null_values: tuple[str, ...] = ()
    encoding: str = "utf-8"
    #: ``gzip``, ``zip``, ``tar`` or ``targz`` (``rml:compression``); None: plain.
    compression: str | None = None
    #: JSON numbers and booleans as xsd:integer/double/boolean literals (RML-Core
    #: natural mapping); off for legacy mappings, which read every value as a string.
    natural_types: bool = False

    @property
    def key(self) -> tuple[str, str, str | None]:
        """Identity of the record stream: maps with equal keys read the same records."""
        return (str(self.path), self.formulation, self.iterator)


@dataclass(frozen=True)
class TriplesMap:
    iri: str
    source: LogicalSource
    subject: TermMap
    classes: tuple[str, ...]
    subject_graphs: tuple[TermMap, ...]
    poms: tuple[PredicateObjectMap, ...]
    mapping_file: str

    @property
    def where(self) -> str:
        return f"{self.mapping_file} <{self.iri}>"

    def references(self) -> list[Reference]:
        """Every reference the map reads, so sources project only what is needed."""
        refs = list(self.subject.references())
        for graph in self.subject_graphs:
            refs.extend(graph.references())
        for pom in self.poms:
            for term in (*pom.predicates, *pom.objects, *pom.graphs):
                refs.extend(term.references())
            for rom in pom.ref_objects:
                refs.extend(join.child for join in rom.joins)
        return refs


@dataclass(frozen=True)
class MappingPlan:
    """All triples maps of one or more mapping files, by IRI, in document order."""

    triples_maps: tuple[TriplesMap, ...]
    files: tuple[str, ...] = field(default=())

    def get(self, iri: str) -> TriplesMap:
        for tm in self.triples_maps:
            if tm.iri == iri:
                return tm
        raise KeyError(iri)

    def sources(self) -> list[LogicalSource]:
        seen: dict[tuple[str, str, str | None], LogicalSource] = {}
        for tm in self.triples_maps:
            seen.setdefault(tm.source.key, tm.source)
        return list(seen.values())

    def references_for(self, source: LogicalSource) -> list[Reference]:
        """References read from ``source`` by any map, parents of joins included."""
        refs: dict[str, Reference] = {}
        for tm in self.triples_maps:
            if tm.source.key == source.key:
                for ref in tm.references():
                    refs.setdefault(ref.column, ref)
            for pom in tm.poms:
                for rom in pom.ref_objects:
                    parent = self.get(rom.parent)
                    if parent.source.key != source.key:
                        continue
                    for ref in parent.subject.references():
                        refs.setdefault(ref.column, ref)
                    for join in rom.joins:
                        refs.setdefault(join.parent.column, join.parent)
        return list(refs.values())

    @property
    def uses_graphs(self) -> bool:
        return any(tm.subject_graphs or any(p.graphs for p in tm.poms) for tm in self.triples_maps)


def parse_reference(text: str, *, raw: bool = False) -> Reference:
    """Split a JSONPath-ish reference or column name into keys.

    Accepts ``$.a.b``, ``a.b``, ``$['a:b'].c`` and plain CSV column names.  A
    column name that itself contains dots can be written ``$['a.b']``.
    """
    body = text.strip()
    if body.startswith("$"):
        body = body[1:]
        keys: list[str] = []
        pos = 0
        while pos < len(body):
            if body[pos] == ".":
                end = pos + 1
                while end < len(body) and body[end] not in ".[":
                    end += 1
                keys.append(body[pos + 1 : end])
                pos = end
            elif body[pos] == "[":
                close = body.find("]", pos)
                if close < 0:
                    raise ValueError(f"unclosed '[' in reference {text!r}")
                inner = body[pos + 1 : close].strip()
                if inner[:1] in "'\"" and inner[-1:] == inner[:1]:
                    keys.append(inner[1:-1])
                elif inner in ("*", ""):
                    pass  # "every element": arrays already yield one term each
                else:
                    raise ValueError(f"unsupported selector [{inner}] in reference {text!r}")
                pos = close + 1
            else:
                raise ValueError(f"unexpected {body[pos]!r} in reference {text!r}")
        path = tuple(k for k in keys if k)
    else:
        path = (body,) if "." not in body else tuple(body.split("."))
    if not path or any(not k for k in path):
        raise ValueError(f"empty reference {text!r}")
    return Reference(text=text, path=path, raw=raw)


def parse_template(template: str) -> tuple[str | Reference, ...]:
    """Split an ``rr:template`` into text and references; ``\\{`` escapes a brace."""
    parts: list[str | Reference] = []
    buf = ""
    pos = 0
    while pos < len(template):
        char = template[pos]
        if char == "\\" and pos + 1 < len(template) and template[pos + 1] in "{}\\":
            buf += template[pos + 1]
            pos += 2
        elif char == "{":
            close = template.find("}", pos)
            if close < 0:
                raise ValueError(f"unclosed '{{' in template {template!r}")
            name = template[pos + 1 : close]
            if not name or "{" in name:
                raise ValueError(f"empty or nested reference in template {template!r}")
            if buf:
                parts.append(buf)
                buf = ""
            parts.append(parse_reference(name))
            pos = close + 1
        elif char == "}":
            raise ValueError(f"unmatched '}}' in template {template!r}")
        else:
            buf += char
            pos += 1
    if buf:
        parts.append(buf)
    return tuple(parts)
