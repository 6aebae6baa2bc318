"""Read RML mappings (Turtle) into a typed :class:`~eokg.spark.model.MappingPlan`.

Both the legacy vocabulary (``rr:`` R2RML + ``rml:`` http://semweb.mmlab.be/ns/rml#,
FnML ``fnml:functionValue``) and the new W3C community group one
(http://w3id.org/rml/) are accepted: the new terms are rewritten to the legacy
ones before interpretation, so there is one interpreter.  GeoTriples-style
``rrx:function`` / ``rrx:argumentMap`` calls are accepted as well.

Every problem raises :class:`~eokg.errors.MappingError` whose ``where`` names the
mapping file, the triples map IRI and the term map, so a broken rule in a file
with fifty triples maps is found at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from eokg.errors import MappingError
from eokg.spark.functions import FUNCTIONS, canonical_function, positional_params
from eokg.spark.model import (
    Formulation,
    FunctionCall,
    JoinCondition,
    LogicalSource,
    MappingPlan,
    PredicateObjectMap,
    Reference,
    RefObjectMap,
    TermKind,
    TermMap,
    TermType,
    TriplesMap,
    parse_reference,
    parse_template,
)

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node

RR = "http://www.w3.org/ns/r2rml#"
RML = "http://semweb.mmlab.be/ns/rml#"
RML2 = "http://w3id.org/rml/"
QL = "http://semweb.mmlab.be/ns/ql#"
FNML = "http://semweb.mmlab.be/ns/fnml#"
FNO = "https://w3id.org/function/ontology#"
FNO_OLD = "http://w3id.org/function/ontology#"
RRX = "http://www.w3.org/ns/r2rml-ext#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
#: eokg's own reference formulations, for inputs RML has no name for.
EOQL = "https://w3id.org/eokg/formulation#"

_FORMULATIONS: dict[str, Formulation] = {
    QL + "JSONPath": "jsonpath",
    RML2 + "JSONPath": "jsonpath",
    QL + "CSV": "csv",
    RML2 + "CSV": "csv",
    EOQL + "GeoJSON": "geojson",
    EOQL + "GeoParquet": "geoparquet",
    EOQL + "Parquet": "parquet",
    QL + "Parquet": "parquet",
    EOQL + "Shapefile": "shapefile",
    EOQL + "STAC": "stac",
    EOQL + "StatoilJSON": "statoil",
}

#: New-vocabulary terms whose legacy equivalent lives in rml: rather than rr:.
_RML2_TO_LEGACY_RML = {
    "logicalSource",
    "source",
    "referenceFormulation",
    "iterator",
    "reference",
}
#: New-vocabulary terms with no one-to-one legacy name.
_RML2_SPECIAL = {
    "IRI": RR + "IRI",
    "Literal": RR + "Literal",
    "BlankNode": RR + "BlankNode",
    "defaultGraph": RR + "defaultGraph",
}


def load_mapping(
    paths: Path | str | Iterable[Path | str],
    inputs: Mapping[str, Path | str] | None = None,
    base_dir: Path | str | None = None,
) -> MappingPlan:
    """Parse one or more mapping files into a plan.

    ``inputs`` overrides logical-source paths by name (the ``rml:source`` text,
    its file name, or its file stem); ``base_dir`` resolves relative sources
    (default: the mapping file's folder).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    tms: list[TriplesMap] = []
    files: list[str] = []
    for path in paths:
        text_path = Path(path)
        try:
            text = text_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError(f"cannot read mapping: {exc}", where=str(text_path)) from exc
        tms.extend(_parse(text, text_path, inputs or {}, base_dir))
        files.append(str(text_path))
    plan = MappingPlan(triples_maps=tuple(tms), files=tuple(files))
    _check_parents(plan)
    return plan


def parse_mapping_text(
    text: str,
    name: str = "<string>",
    inputs: Mapping[str, Path | str] | None = None,
    base_dir: Path | str | None = None,
) -> MappingPlan:
    """Parse mapping Turtle given as a string (tests, embedded mappings)."""
    plan = MappingPlan(
        triples_maps=tuple(_parse(text, Path(name), inputs or {}, base_dir)), files=(name,)
    )
    _check_parents(plan)
    return plan


# ----------------------------------------------------------------- internals


def _parse(
    text: str, path: Path, inputs: Mapping[str, Path | str], base_dir: Path | str | None
) -> list[TriplesMap]:
    import rdflib

    graph = rdflib.Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=path.resolve().as_uri())
    except Exception as exc:  # rdflib raises many unrelated types for syntax errors
        raise MappingError(f"not valid Turtle: {exc}", where=str(path)) from exc
    _normalise_rml2(graph)
    reader = _Reader(graph, str(path), path.parent if base_dir is None else Path(base_dir), inputs)
    return reader.triples_maps()


def _normalise_rml2(graph: Graph) -> None:
    """Rewrite http://w3id.org/rml/ terms to their legacy rr:/rml: equivalents."""
    from rdflib import URIRef

    def legacy(term: Node) -> Node:
        if not isinstance(term, URIRef) or not str(term).startswith(RML2):
            return term
        local = str(term)[len(RML2) :]
        if local in _RML2_SPECIAL:
            return URIRef(_RML2_SPECIAL[local])
        if local in _RML2_TO_LEGACY_RML:
            return URIRef(RML + local)
        if local in _FORMULATIONS_LOCAL:
            return term  # formulations are looked up by full IRI
        return URIRef(RR + local)

    if not any(str(p).startswith(RML2) for p in graph.predicates()):
        return
    for s, p, o in list(graph):
        new = (legacy(s), legacy(p), legacy(o))
        if new != (s, p, o):
            graph.remove((s, p, o))
            graph.add(new)


_FORMULATIONS_LOCAL = {"JSONPath", "CSV", "XPath", "SQL2008"}


class _TermCommon(TypedDict):
    """The :class:`TermMap` fields every kind of term map shares."""

    term_type: TermType
    where: str
    datatype: str | None
    language: str | None


class _Reader:
    def __init__(
        self, graph: Graph, file: str, base: Path, inputs: Mapping[str, Path | str]
    ) -> None:
        from rdflib import URIRef

        self.g = graph
        self.file = file
        self.base = base
        self.inputs = {k: Path(v) for k, v in inputs.items()}
        self.U = URIRef
        self.base_uri = Path(file).resolve().as_uri()

    # helpers ---------------------------------------------------------------
    def one(self, node: Node, pred: str, where: str) -> Node | None:
        values = list(self.g.objects(node, self.U(pred)))
        if len(values) > 1:
            raise MappingError(f"more than one <{pred}>", where=where)
        return values[0] if values else None

    def all(self, node: Node, *preds: str) -> list[Node]:
        out: list[Node] = []
        for pred in preds:
            out.extend(self.g.objects(node, self.U(pred)))
        return out

    def name(self, node: Node) -> str:
        from rdflib import BNode

        if isinstance(node, BNode):
            return f"_:{node}"
        text = str(node)
        # Maps named relative to the file (<#Parcels>) keep their short name.
        if text.startswith(self.base_uri + "#"):
            return Path(self.file).name + text[len(self.base_uri) :]
        return text

    # triples maps ------------------------------------------------------------
    def triples_maps(self) -> list[TriplesMap]:
        nodes = set(self.g.subjects(self.U(RML + "logicalSource"), None))
        nodes |= set(self.g.subjects(self.U(RR + "logicalTable"), None))
        nodes |= set(self.g.subjects(self.U(RDF_TYPE), self.U(RR + "TriplesMap")))
        # Function-call bodies in FnML are themselves triples maps without a subject.
        fn_bodies = set(self.g.objects(None, self.U(FNML + "functionValue")))
        ordered = sorted((n for n in nodes if n not in fn_bodies), key=str)
        return [self.triples_map(node) for node in ordered]

    def triples_map(self, node: Node) -> TriplesMap:
        iri = self.name(node)
        where = f"{self.file} <{iri}>"
        source = self.logical_source(node, where)
        subject_nodes = self.all(node, RR + "subjectMap")
        subject_consts = self.all(node, RR + "subject")
        if len(subject_nodes) + len(subject_consts) != 1:
            raise MappingError("a triples map needs exactly one subject map", where=where)
        classes: tuple[str, ...] = ()
        graphs: tuple[TermMap, ...] = ()
        if subject_nodes:
            sm = subject_nodes[0]
            subject = self.term_map(sm, f"{where} subject map", role="subject")
            classes = tuple(str(c) for c in self.all(sm, RR + "class"))
            graphs = self.graph_maps(sm, f"{where} subject map graph")
        else:
            subject = TermMap(
                kind="constant",
                term_type="iri",
                where=f"{where} subject",
                constant=str(subject_consts[0]),
            )
        poms = tuple(
            self.pom(pom, f"{where} predicate-object map {self._pom_label(pom)}")
            for pom in (sorted(self.all(node, RR + "predicateObjectMap"), key=self._pom_order))
        )
        return TriplesMap(
            iri=iri,
            source=source,
            subject=subject,
            classes=classes,
            subject_graphs=graphs,
            poms=poms,
            mapping_file=self.file,
        )

    def _pom_label(self, pom: Node) -> str:
        preds = [str(p) for p in self.all(pom, RR + "predicate")]
        for pm in self.all(pom, RR + "predicateMap"):
            preds.extend(str(c) for c in self.all(pm, RR + "constant"))
        return f"<{sorted(preds)[0]}>" if preds else "(no predicate)"

    def _pom_order(self, pom: Node) -> str:
        preds = sorted(str(p) for p in self.all(pom, RR + "predicate"))
        for pm in self.all(pom, RR + "predicateMap"):
            preds.extend(str(c) for c in self.all(pm, RR + "constant"))
        return "|".join(sorted(preds)) + str(pom)

    def logical_source(self, node: Node, where: str) -> LogicalSource:
        ls = self.one(node, RML + "logicalSource", where)
        if ls is None:
            raise MappingError("no rml:logicalSource", where=where)
        lwhere = f"{where} logical source"
        source = self.one(ls, RML + "source", lwhere)
        if source is None:
            raise MappingError("no rml:source", where=lwhere)
        source_text = str(source)
        if source_text.startswith("file:"):
            from urllib.parse import unquote, urlparse

            source_text = unquote(urlparse(source_text).path)
        formulation_node = self.one(ls, RML + "referenceFormulation", lwhere)
        iterator = self.one(ls, RML + "iterator", lwhere)
        formulation = self.formulation(formulation_node, source_text, lwhere)
        path = self.resolve_source(source_text, self.name(ls))
        return LogicalSource(
            name=source_text,
            path=path,
            formulation=formulation,
            iterator=str(iterator) if iterator is not None else None,
            where=lwhere,
        )

    def formulation(self, node: Node | None, source: str, where: str) -> Formulation:
        if node is not None:
            found = _FORMULATIONS.get(str(node))
            if found is None:
                known = ", ".join(sorted(_FORMULATIONS))
                raise MappingError(
                    f"unsupported reference formulation <{node}>; known: {known}", where=where
                )
            return found
        suffix = Path(source).suffix.lower()
        by_suffix: dict[str, Formulation] = {
            ".csv": "csv",
            ".json": "jsonpath",
            ".ndjson": "jsonpath",
            ".jsonl": "jsonpath",
            ".geojson": "geojson",
            ".parquet": "parquet",
            ".shp": "shapefile",
        }
        if suffix not in by_suffix:
            raise MappingError(f"no rml:referenceFormulation for {source!r}", where=where)
        return by_suffix[suffix]

    def resolve_source(self, source: str, node_name: str) -> Path:
        candidates = [source, Path(source).name, Path(source).stem, node_name]
        if "#" in node_name:
            candidates.append(node_name.rsplit("#", 1)[1])
        for key in candidates:
            if key in self.inputs:
                return self.inputs[key]
        path = Path(source)
        return path if path.is_absolute() else self.base / path

    def graph_maps(self, node: Node, where: str) -> tuple[TermMap, ...]:
        out: list[TermMap] = []
        for i, gm in enumerate(self.all(node, RR + "graphMap")):
            out.append(self.term_map(gm, f"{where} #{i + 1}", role="graph"))
        for g in self.all(node, RR + "graph"):
            out.append(TermMap(kind="constant", term_type="iri", where=where, constant=str(g)))
        return tuple(t for t in out if t.constant != RR + "defaultGraph")

    def pom(self, node: Node, where: str) -> PredicateObjectMap:
        preds = [
            TermMap(kind="constant", term_type="iri", where=f"{where} predicate", constant=str(p))
            for p in self.all(node, RR + "predicate")
        ]
        preds += [
            self.term_map(pm, f"{where} predicate map", role="predicate")
            for pm in self.all(node, RR + "predicateMap")
        ]
        if not preds:
            raise MappingError("no rr:predicate / rr:predicateMap", where=where)
        objects: list[TermMap] = []
        refs: list[RefObjectMap] = []
        for o in self.all(node, RR + "object"):
            objects.append(self.constant_term(o, f"{where} object"))
        for i, om in enumerate(self.all(node, RR + "objectMap")):
            owhere = f"{where} object map #{i + 1}"
            parent = self.one(om, RR + "parentTriplesMap", owhere)
            if parent is not None:
                joins = []
                for jc in self.all(om, RR + "joinCondition"):
                    child = self.one(jc, RR + "child", owhere)
                    par = self.one(jc, RR + "parent", owhere)
                    if child is None or par is None:
                        raise MappingError(
                            "join condition needs rr:child and rr:parent", where=owhere
                        )
                    joins.append(
                        JoinCondition(
                            self.reference(str(child), owhere), self.reference(str(par), owhere)
                        )
                    )
                refs.append(
                    RefObjectMap(parent=self.name(parent), joins=tuple(joins), where=owhere)
                )
            else:
                objects.append(self.term_map(om, owhere, role="object"))
        if not objects and not refs:
            raise MappingError("no rr:object / rr:objectMap", where=where)
        return PredicateObjectMap(
            predicates=tuple(preds),
            objects=tuple(objects),
            ref_objects=tuple(refs),
            graphs=self.graph_maps(node, f"{where} graph"),
            where=where,
        )

    def constant_term(self, value: Node, where: str) -> TermMap:
        from rdflib import Literal

        if isinstance(value, Literal):
            dt = str(value.datatype) if value.datatype else None
            if dt == XSD_STRING:
                dt = None
            return TermMap(
                kind="constant",
                term_type="literal",
                where=where,
                constant=str(value),
                datatype=dt,
                language=value.language,
            )
        return TermMap(kind="constant", term_type="iri", where=where, constant=str(value))

    def reference(self, text: str, where: str, raw: bool = False) -> Reference:
        try:
            return parse_reference(text, raw=raw)
        except ValueError as exc:
            raise MappingError(str(exc), where=where) from exc

    def term_map(self, node: Node, where: str, role: str, raw: bool = False) -> TermMap:
        from rdflib import BNode

        if (
            not isinstance(node, BNode)
            and role != "param"
            and not list(self.g.predicate_objects(node))
        ):
            # rr:subjectMap <iri> shortcut is not RML; a bare IRI here is a constant.
            return self.constant_term(node, where)
        constant = self.one(node, RR + "constant", where)
        reference = self.one(node, RML + "reference", where) or self.one(node, RR + "column", where)
        template = self.one(node, RR + "template", where)
        function = self.one(node, FNML + "functionValue", where)
        rrx_function = self.one(node, RRX + "function", where)
        given = [
            x for x in (constant, reference, template, function, rrx_function) if x is not None
        ]
        if len(given) != 1:
            raise MappingError(
                "a term map needs exactly one of rr:constant, rml:reference, rr:template, "
                "fnml:functionValue",
                where=where,
            )
        term_type_node = self.one(node, RR + "termType", where)
        datatype = self.one(node, RR + "datatype", where)
        language = self.one(node, RR + "language", where)
        if constant is not None:
            term = self.constant_term(constant, where)
            if term_type_node is not None:
                term = TermMap(
                    kind="constant",
                    term_type=self.term_type(term_type_node, where),
                    where=where,
                    constant=term.constant,
                )
            kind: TermKind = "constant"
        elif reference is not None:
            kind = "reference"
        elif template is not None:
            kind = "template"
        else:
            kind = "function"
        default_type: TermType = (
            "literal" if role == "object" and kind in ("reference", "function") else "iri"
        )
        if role == "param":
            default_type = "literal"
        if datatype is not None or language is not None:
            default_type = "literal"
        term_type = (
            self.term_type(term_type_node, where) if term_type_node is not None else default_type
        )
        if role in ("subject", "graph") and term_type == "literal":
            raise MappingError(f"a {role} map cannot produce literals", where=where)
        if role == "predicate" and term_type != "iri":
            raise MappingError("a predicate map must produce IRIs", where=where)
        if language is not None and datatype is not None:
            raise MappingError("rr:language and rr:datatype together", where=where)
        common: _TermCommon = {
            "term_type": term_type,
            "where": where,
            "datatype": str(datatype) if datatype is not None else None,
            "language": str(language) if language is not None else None,
        }
        if kind == "constant":
            return TermMap(kind="constant", constant=str(constant), **common)
        if kind == "reference":
            return TermMap(
                kind="reference", reference=self.reference(str(reference), where, raw), **common
            )
        if kind == "template":
            try:
                parts = parse_template(str(template))
            except ValueError as exc:
                raise MappingError(f"bad template: {exc}", where=where) from exc
            return TermMap(kind="template", template=parts, **common)
        call = self.function_call(
            function if function is not None else node, where, rrx=function is None
        )
        return TermMap(kind="function", function=call, **common)

    def term_type(self, node: Node, where: str) -> TermType:
        mapping: dict[str, TermType] = {
            RR + "IRI": "iri",
            RR + "Literal": "literal",
            RR + "BlankNode": "blank",
        }
        if str(node) not in mapping:
            raise MappingError(f"unknown rr:termType <{node}>", where=where)
        return mapping[str(node)]

    def function_call(self, node: Node, where: str, rrx: bool = False) -> FunctionCall:
        fwhere = f"{where} function"
        if rrx:
            fn_iri = str(self.one(node, RRX + "function", fwhere))
            args_node = self.one(node, RRX + "argumentMap", fwhere)
            from rdflib.collection import Collection

            args = list(Collection(self.g, args_node)) if args_node is not None else []
            canonical = canonical_function(fn_iri)
            if canonical is None:
                raise MappingError(f"unknown function <{fn_iri}>", where=fwhere)
            names = positional_params(canonical)
            if len(args) > len(names):
                raise MappingError(f"too many arguments for <{fn_iri}>", where=fwhere)
            positional = tuple(
                (names[i], self.term_map(a, f"{fwhere} argument #{i + 1}", role="param"))
                for i, a in enumerate(args)
            )
            return self.checked_call(canonical, positional, fn_iri, fwhere)
        executes: str | None = None
        params: list[tuple[str, TermMap]] = []
        for i, pom in enumerate(self.all(node, RR + "predicateObjectMap")):
            pwhere = f"{fwhere} parameter #{i + 1}"
            pred_nodes = self.all(pom, RR + "predicate")
            for pm in self.all(pom, RR + "predicateMap"):
                pred_nodes.extend(self.all(pm, RR + "constant"))
            if len(pred_nodes) != 1:
                raise MappingError("a function parameter needs one rr:predicate", where=pwhere)
            pred = str(pred_nodes[0])
            values = [self.constant_term(o, pwhere) for o in self.all(pom, RR + "object")]
            values += [
                self.term_map(om, pwhere, role="param") for om in self.all(pom, RR + "objectMap")
            ]
            if len(values) != 1:
                raise MappingError("a function parameter needs one value", where=pwhere)
            if pred in (FNO + "executes", FNO_OLD + "executes"):
                if values[0].kind != "constant":
                    raise MappingError("fno:executes must be a constant IRI", where=pwhere)
                executes = values[0].constant
            else:
                params.append((pred, values[0]))
        if executes is None:
            raise MappingError("function value without fno:executes", where=fwhere)
        canonical = canonical_function(executes)
        if canonical is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise MappingError(f"unknown function <{executes}>; known: {known}", where=fwhere)
        return self.checked_call(canonical, tuple(params), executes, fwhere)

    def checked_call(
        self, canonical: str, params: tuple[tuple[str, TermMap], ...], given: str, where: str
    ) -> FunctionCall:
        spec = FUNCTIONS[canonical]
        names = {p for p, _ in params}
        unknown = names - set(spec.params) - set(spec.aliases)
        if unknown:
            raise MappingError(
                f"unknown parameter(s) {sorted(unknown)} for <{given}>; "
                f"expected {sorted(spec.params)}",
                where=where,
            )
        normalised = tuple((spec.aliases.get(p, p), v) for p, v in params)
        normalised = tuple((p, _as_raw(v) if p in spec.raw else v) for p, v in normalised)
        missing = [p for p in spec.required if p not in {n for n, _ in normalised}]
        if missing:
            raise MappingError(f"missing parameter(s) {missing} for <{given}>", where=where)
        return FunctionCall(function=canonical, params=normalised)


def _as_raw(term: TermMap) -> TermMap:
    """The same term map reading its reference whole (JSON text, WKB)."""
    from dataclasses import replace

    if term.kind == "reference" and term.reference is not None:
        return replace(term, reference=replace(term.reference, raw=True))
    return term


def _check_parents(plan: MappingPlan) -> None:
    iris = {tm.iri for tm in plan.triples_maps}
    for tm in plan.triples_maps:
        for pom in tm.poms:
            for rom in pom.ref_objects:
                if rom.parent not in iris:
                    raise MappingError(
                        f"unknown parent triples map <{rom.parent}>", where=rom.where
                    )
                parent = plan.get(rom.parent)
                if not rom.joins and parent.source.key != tm.source.key:
                    raise MappingError(
                        "a referencing object map over another logical source needs "
                        "rr:joinCondition",
                        where=rom.where,
                    )
