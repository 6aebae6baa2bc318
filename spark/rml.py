"""Read RML mappings (Turtle) into a typed :class:`~eokg.spark.model.MappingPlan`.

The vocabulary is the W3C KG-Construct Community Group's RML
(http://w3id.org/rml/: RML-Core, RML-IO, RML-FNML).  The legacy one (``rr:``
R2RML + ``rml:`` http://semweb.mmlab.be/ns/rml#, FnML ``fnml:functionValue``)
is read as an alias: :mod:`eokg.spark.rml_vocab` rewrites its terms to the
current ones before interpretation, so there is one reader.  GeoTriples-style
``rrx:function`` / ``rrx:argumentMap`` calls are accepted as well.

Every property of the RML namespaces the engine does not implement is refused
by name, never silently dropped.  Every problem raises
:class:`~eokg.errors.MappingError` whose ``where`` names the mapping file, the
triples map IRI and the term map, so a broken rule in a file with fifty
triples maps is found at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eokg.errors import MappingError
from eokg.spark.grel import PARAM_SYNONYMS, known_functions, lookup
from eokg.spark.model import (
    Formulation,
    FunctionCall,
    JoinCondition,
    LogicalSource,
    MappingPlan,
    PredicateObjectMap,
    Reference,
    RefObjectMap,
    TermMap,
    TermType,
    TriplesMap,
    parse_reference,
)
from eokg.spark.model import parse_template as _parse_template
from eokg.spark.rml_vocab import (
    FNML,
    FNO,
    FNO_OLD,
    LANGUAGE_TAG,
    QL,
    RDF_TYPE,
    RML,
    RRX,
    normalise,
    short,
    unimplemented,
)
from eokg.spark.targets import FORMATS, SERIALIZATIONS, LogicalTarget, TargetedTermMap

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
#: eokg's own reference formulations, for inputs RML has no name for.
EOQL = "https://w3id.org/eokg/formulation#"

_FORMULATIONS: dict[str, Formulation] = {
    RML + "JSONPath": "jsonpath",
    RML + "CSV": "csv",
    RML + "XPath": "xpath",
    EOQL + "GeoJSON": "geojson",
    EOQL + "GeoParquet": "geoparquet",
    EOQL + "Parquet": "parquet",
    QL + "Parquet": "parquet",
    EOQL + "Shapefile": "shapefile",
    EOQL + "STAC": "stac",
    EOQL + "StatoilJSON": "statoil",
}
_TERM_TYPES: dict[str, tuple[TermType, bool]] = {
    RML + "IRI": ("iri", False),
    RML + "URI": ("iri", False),
    RML + "UnsafeIRI": ("iri", True),
    RML + "UnsafeURI": ("iri", True),
    RML + "Literal": ("literal", False),
    RML + "BlankNode": ("blank", False),
}
_ENCODINGS = {RML + "UTF-8": "utf-8", RML + "UTF-16": "utf-16"}
_COMPRESSIONS = {
    RML + "none": None,
    RML + "gzip": "gzip",
    RML + "zip": "zip",
    RML + "tar": "tar",
    RML + "targz": "targz",
}
#: Properties a term map of each role may carry (beyond how its value is given).
_VALUE_PROPS = {"constant", "reference", "template", "functionExecution", "termType", "return"}
_TARGETED = _VALUE_PROPS | {"logicalTarget"}
_ROLE_PROPS = {
    "subject": _TARGETED | {"class", "graph", "graphMap"},
    "predicate": _TARGETED,
    "object": _TARGETED | {"datatype", "datatypeMap", "language", "languageMap"},
    "graph": _TARGETED,
    "param": _VALUE_PROPS | {"datatype", "language"},
    "expression": {"constant", "reference", "template", "functionExecution"},
}
_VOID_DUMP = "http://rdfs.org/ns/void#dataDump"
_DCAT_DOWNLOAD = "http://www.w3.org/ns/dcat#downloadURL"
_BASE = re.compile(r"^\s*(?:@base\s*<([^>]*)>\s*\.|BASE\s*<([^>]*)>)", re.M | re.I)


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
        except UnicodeDecodeError as exc:
            raise MappingError(
                f"not a text mapping: byte {exc.start + 1} is not UTF-8", where=str(text_path)
            ) from None
        found = _parse(text, text_path, inputs or {}, base_dir)
        if not found:  # an empty or unrelated file would map nothing and exit 0
            raise MappingError("no triples map in this file", where=str(text_path))
        tms.extend(found)
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


def valid_language(tag: str) -> bool:
    """True for a well-formed BCP 47 language tag."""
    return bool(LANGUAGE_TAG.match(tag))


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
    legacy = normalise(graph)
    refused = unimplemented(graph)
    if refused:
        prop, subject = refused[0]
        names = ", ".join(sorted({short(p) for p, _ in refused}))
        raise MappingError(
            f"{short(prop)} is not implemented by eokg (unsupported: {names})",
            where=f"{path} <{subject}>",
        )
    match = _BASE.search(text)
    doc_base = (match.group(1) or match.group(2)) if match else None
    folder = path.parent if base_dir is None else Path(base_dir)
    reader = _Reader(graph, str(path), folder, inputs, doc_base, legacy)
    return reader.triples_maps()


class _Reader:
    def __init__(
        self,
        graph: Graph,
        file: str,
        base: Path,
        inputs: Mapping[str, Path | str],
        doc_base: str | None,
        legacy: bool = False,
    ) -> None:
        from rdflib import URIRef

        self.g = graph
        self.file = file
        self.base = base
        self.inputs = {k: Path(v) for k, v in inputs.items()}
        self.U = URIRef
        self.base_uri = Path(file).resolve().as_uri()
        self.doc_base = doc_base
        self.iri_base: str | None = doc_base
        self.legacy = legacy
        #: The formulation of the triples map being read: it decides how references parse.
        self.current: Formulation | None = None
        self.targets: dict[Node, LogicalTarget] = {}
        self.targeted: set[Node] = set()  # term maps whose rml:logicalTarget was read

    # helpers ---------------------------------------------------------------
    def one(self, node: Node, pred: str, where: str) -> Node | None:
        values = list(self.g.objects(node, self.U(pred)))
        if len(values) > 1:
            raise MappingError(f"more than one {short(pred)}", where=where)
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

    def check_props(self, node: Node, allowed: set[str], what: str, where: str) -> None:
        """Refuse rml: properties that mean nothing on this kind of node."""
        for pred in self.g.predicates(node, None):
            text = str(pred)
            if text.startswith(RML) and text[len(RML) :] not in allowed:
                raise MappingError(f"{short(text)} is not allowed on {what}", where=where)

    # triples maps ------------------------------------------------------------
    def triples_maps(self) -> list[TriplesMap]:
        nodes = set(self.g.subjects(self.U(RML + "logicalSource"), None))
        nodes |= set(self.g.subjects(self.U(RDF_TYPE), self.U(RML + "TriplesMap")))
        # Function-call bodies in FnML are themselves triples maps without a subject.
        fn_bodies = set(self.g.objects(None, self.U(FNML + "functionValue")))
        ordered = sorted((n for n in nodes if n not in fn_bodies), key=str)
        maps = [self.triples_map(node) for node in ordered]
        for node in self.g.subjects(self.U(RML + "logicalTarget"), None):
            if node not in self.targeted:
                raise MappingError(
                    "rml:logicalTarget is allowed on subject, predicate, object and graph maps "
                    "only",
                    where=f"{self.file} <{self.name(node)}>",
                )
        return maps

    def triples_map(self, node: Node) -> TriplesMap:
        iri = self.name(node)
        where = f"{self.file} <{iri}>"
        base = self.one(node, RML + "baseIRI", where)
        self.iri_base = str(base) if base is not None else self.doc_base
        source = self.logical_source(node, where)
        self.current = source.formulation
        subject_nodes = self.all(node, RML + "subjectMap")
        subject_consts = self.all(node, RML + "subject")
        if len(subject_nodes) + len(subject_consts) != 1:
            raise MappingError("a triples map needs exactly one subject map", where=where)
        classes: tuple[str, ...] = ()
        graphs: tuple[TermMap, ...] = ()
        if subject_nodes:
            sm = subject_nodes[0]
            subject = self.term_map(sm, f"{where} subject map", role="subject")
            classes = tuple(str(c) for c in self.all(sm, RML + "class"))
            graphs = self.graph_maps(sm, f"{where} subject map graph")
        else:
            subject = self.constant_iri(subject_consts[0], f"{where} subject")
        poms = tuple(
            self.pom(pom, f"{where} predicate-object map {self._pom_label(pom)}")
            for pom in (sorted(self.all(node, RML + "predicateObjectMap"), key=self._pom_order))
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

    def _predicates_of(self, pom: Node) -> list[str]:
        preds = [str(p) for p in self.all(pom, RML + "predicate")]
        for pm in self.all(pom, RML + "predicateMap"):
            preds.extend(str(c) for c in self.all(pm, RML + "constant"))
        return preds

    def _pom_label(self, pom: Node) -> str:
        preds = self._predicates_of(pom)
        return f"<{sorted(preds)[0]}>" if preds else "(no predicate)"

    def _pom_order(self, pom: Node) -> str:
        return "|".join(sorted(self._predicates_of(pom))) + str(pom)

    def constant_iri(self, node: Node, where: str) -> TermMap:
        return TermMap(
            kind="constant", term_type="iri", where=where, constant=str(node), base=self.iri_base
        )

    # logical sources ---------------------------------------------------------
    def logical_source(self, node: Node, where: str) -> LogicalSource:
        ls = self.one(node, RML + "logicalSource", where)
        if ls is None:
            raise MappingError("no rml:logicalSource", where=where)
        lwhere = f"{where} logical source"
        source = self.one(ls, RML + "source", lwhere)
        if source is None:
            raise MappingError("no rml:source", where=lwhere)
        source_text, folder, options = self.source_description(source, lwhere)
        formulation_node = self.one(ls, RML + "referenceFormulation", lwhere)
        iterator = self.one(ls, RML + "iterator", lwhere)
        formulation = self.formulation(formulation_node, source_text, lwhere)
        if formulation == "xpath":
            from eokg.spark.xml_source import checked_xpath

            checked_xpath(str(iterator) if iterator is not None else "/*", lwhere, "rml:iterator")
        nulls = tuple(str(v) for v in self.all(ls, RML + "null")) + options.pop("null", ())
        if self.legacy:
            nulls = ("", *nulls)  # legacy processors read an empty CSV cell as no value
        return LogicalSource(
            name=source_text,
            path=self.resolve_source(source_text, self.name(ls), folder),
            formulation=formulation,
            iterator=str(iterator) if iterator is not None else None,
            where=lwhere,
            null_values=nulls,
            natural_types=not self.legacy,
            **options,
        )

    def source_description(self, source: Node, where: str) -> tuple[str, Path, dict[str, Any]]:
        """(path text, folder it is relative to, LogicalSource options) of an ``rml:source``."""
        from rdflib import BNode, Literal

        if isinstance(source, Literal) or (
            not isinstance(source, BNode) and not list(self.g.predicate_objects(source))
        ):
            text = str(source)
            if text.startswith("file:"):
                from urllib.parse import unquote, urlparse

                text = unquote(urlparse(text).path)
            return text, self.base, {}
        swhere = f"{where} source"
        allowed = {"root", "path", "encoding", "compression", "null"}
        self.check_props(source, allowed, "a source description", swhere)
        path = self.one(source, RML + "path", swhere)
        if path is None:
            raise MappingError("a source description needs rml:path", where=swhere)
        folder = self.root_folder(source, swhere)
        options: dict[str, Any] = {"null": tuple(str(v) for v in self.all(source, RML + "null"))}
        encoding = self.one(source, RML + "encoding", swhere)
        if encoding is not None:
            if str(encoding) not in _ENCODINGS:
                raise MappingError(f"unsupported rml:encoding <{encoding}>", where=swhere)
            options["encoding"] = _ENCODINGS[str(encoding)]
        compression = self.one(source, RML + "compression", swhere)
        if compression is not None:
            if str(compression) not in _COMPRESSIONS:
                raise MappingError(f"unsupported rml:compression <{compression}>", where=swhere)
            options["compression"] = _COMPRESSIONS[str(compression)]
        return str(path), folder, options

    def root_folder(self, node: Node, where: str) -> Path:
        """The folder ``rml:path`` of a source or target is relative to (``rml:root``;
        the mapping's base folder by default)."""
        root = self.one(node, RML + "root", where)
        if root is None:
            return self.base
        if str(root) == RML + "MappingDirectory":
            return Path(self.file).resolve().parent
        if str(root) == RML + "CurrentWorkingDirectory":
            return Path.cwd()
        return Path(str(root))

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
            ".tsv": "csv",
            ".json": "jsonpath",
            ".ndjson": "jsonpath",
            ".jsonl": "jsonpath",
            ".xml": "xpath",
            ".geojson": "geojson",
            ".parquet": "parquet",
            ".shp": "shapefile",
        }
        if suffix not in by_suffix:
            raise MappingError(f"no rml:referenceFormulation for {source!r}", where=where)
        return by_suffix[suffix]

    def resolve_source(self, source: str, node_name: str, folder: Path) -> Path:
        candidates = [source, Path(source).name, Path(source).stem, node_name]
        if "#" in node_name:
            candidates.append(node_name.rsplit("#", 1)[1])
        for key in candidates:
            if key in self.inputs:
                return self.inputs[key]
        path = Path(source)
        return path if path.is_absolute() else folder / path

    # predicate-object maps -----------------------------------------------------
    def graph_maps(self, node: Node, where: str) -> tuple[TermMap, ...]:
        out: list[TermMap] = []
        for i, gm in enumerate(self.all(node, RML + "graphMap")):
            out.append(self.term_map(gm, f"{where} #{i + 1}", role="graph"))
        for g in self.all(node, RML + "graph"):
            out.append(self.constant_iri(g, where))
        return tuple(t for t in out if t.constant != RML + "defaultGraph")

    def pom(self, node: Node, where: str) -> PredicateObjectMap:
        preds = [
            self.constant_iri(p, f"{where} predicate") for p in self.all(node, RML + "predicate")
        ]
        preds += [
            self.term_map(pm, f"{where} predicate map", role="predicate")
            for pm in self.all(node, RML + "predicateMap")
        ]
        if not preds:
            raise MappingError("no rml:predicate / rml:predicateMap", where=where)
        objects: list[TermMap] = []
        refs: list[RefObjectMap] = []
        for o in self.all(node, RML + "object"):
            objects.append(self.constant_term(o, f"{where} object"))
        for i, om in enumerate(self.all(node, RML + "objectMap")):
            owhere = f"{where} object map #{i + 1}"
            parent = self.one(om, RML + "parentTriplesMap", owhere)
            if parent is not None:
                refs.append(self.ref_object_map(om, parent, owhere))
            else:
                objects.append(self.term_map(om, owhere, role="object"))
        if not objects and not refs:
            raise MappingError("no rml:object / rml:objectMap", where=where)
        return PredicateObjectMap(
            predicates=tuple(preds),
            objects=tuple(objects),
            ref_objects=tuple(refs),
            graphs=self.graph_maps(node, f"{where} graph"),
            where=where,
        )

    def ref_object_map(self, om: Node, parent: Node, where: str) -> RefObjectMap:
        self.check_props(
            om, {"parentTriplesMap", "joinCondition"}, "a referencing object map", where
        )
        parent_formulation = self.formulation_of(parent)
        joins = [
            self.join(jc, where, parent_formulation) for jc in self.all(om, RML + "joinCondition")
        ]
        return RefObjectMap(parent=self.name(parent), joins=tuple(joins), where=where)

    def formulation_of(self, triples_map: Node) -> Formulation | None:
        """The reference formulation of another triples map (None if it cannot tell)."""
        try:
            ls = self.one(triples_map, RML + "logicalSource", "")
            if ls is None:
                return None
            source = self.one(ls, RML + "source", "")
            text = self.source_description(source, "")[0] if source is not None else ""
            node = self.one(ls, RML + "referenceFormulation", "")
            return self.formulation(node, text, "")
        except MappingError:
            return None  # reported where that map itself is read

    def join(
        self, jc: Node, where: str, parent_formulation: Formulation | None = None
    ) -> JoinCondition:
        """``rml:child``/``rml:parent`` or ``rml:childMap``/``rml:parentMap`` (references)."""
        sides = []
        for side in ("child", "parent"):
            short_form = self.one(jc, RML + side, where)
            long_form = self.one(jc, RML + side + "Map", where)
            if (short_form is None) == (long_form is None):
                raise MappingError(
                    f"a join condition needs one of rml:{side} / rml:{side}Map", where=where
                )
            if long_form is not None:
                self.check_props(long_form, {"reference"}, f"rml:{side}Map", where)
                short_form = self.one(long_form, RML + "reference", where)
                if short_form is None:
                    raise MappingError(
                        f"rml:{side}Map supports rml:reference only in eokg", where=where
                    )
            formulation = self.current if side == "child" else parent_formulation
            sides.append(self.reference(str(short_form), where, formulation=formulation))
        return JoinCondition(sides[0], sides[1])

    # term maps -------------------------------------------------------------------
    def constant_term(self, value: Node, where: str) -> TermMap:
        from rdflib import Literal

        if isinstance(value, Literal):
            dt = str(value.datatype) if value.datatype else None
            if dt in (XSD_STRING, RDF_LANG_STRING):
                dt = None
            return TermMap(
                kind="constant",
                term_type="literal",
                where=where,
                constant=str(value),
                datatype=dt,
                language=value.language,
            )
        return self.constant_iri(value, where)

    def reference(
        self,
        text: str,
        where: str,
        raw: bool = False,
        formulation: Formulation | None = None,
    ) -> Reference:
        if (formulation or self.current) == "xpath":
            from eokg.spark.xml_source import checked_xpath, xpath_key

            checked_xpath(text, where)
            return Reference(text=text, path=(xpath_key(text),), raw=raw)
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
            # A bare IRI in place of a term map is a constant.
            return self.constant_term(node, where)
        self.check_props(node, _ROLE_PROPS[role], f"a {role} map", where)
        value = self.value_of(node, where)
        kind = value[0]
        if kind == "constant":
            term = self.constant_term(value[1], where)
        elif kind == "reference":
            term = TermMap(
                kind="reference",
                term_type="literal",
                where=where,
                reference=self.reference(str(value[1]), where, raw),
            )
        elif kind == "template":
            try:
                parts = parse_template(str(value[1]), self.current == "xpath")
            except ValueError as exc:
                raise MappingError(f"bad template: {exc}", where=where) from exc
            parts = tuple(
                self.reference(p.text, where) if isinstance(p, Reference) else p for p in parts
            )
            term = TermMap(kind="template", term_type="literal", where=where, template=parts)
        else:
            call = self.function_call(value[1], where, style=kind)
            term = TermMap(kind="function", term_type="literal", where=where, function=call)
        term = self.typed(term, node, where, role)
        targets = self.all(node, RML + "logicalTarget")
        if not targets:
            return term
        self.targeted.add(node)
        values = {f.name: getattr(term, f.name) for f in fields(term)}
        return TargetedTermMap(
            **values, targets=tuple(self.logical_target(t, where) for t in targets)
        )

    # logical targets ---------------------------------------------------------------
    def logical_target(self, node: Node, where: str) -> LogicalTarget:
        """A file target (RML-IO); anything else is refused by name."""
        if node in self.targets:
            return self.targets[node]
        twhere = f"{self.file} <{self.name(node)}>"
        self.check_props(
            node,
            {"target", "serialization", "compression", "encoding"},
            "a logical target",
            twhere,
        )
        target = self.one(node, RML + "target", twhere)
        if target is None:
            raise MappingError("a logical target needs rml:target", where=twhere)
        self.check_props(
            target,
            {"path", "root", "serialization", "compression", "encoding"},
            "a target",
            twhere,
        )
        options: dict[str, Any] = {}
        for prop in ("serialization", "compression", "encoding"):
            given = self.all(node, RML + prop) + self.all(target, RML + prop)
            if len(set(given)) > 1:
                raise MappingError(f"more than one rml:{prop}", where=twhere)
            if given:
                options[prop] = str(given[0])
        serialization = options.get("serialization", FORMATS + "N-Quads")
        if serialization not in SERIALIZATIONS:
            raise MappingError(
                f"unsupported rml:serialization <{serialization}> of a logical target; "
                "eokg writes formats:N-Triples and formats:N-Quads",
                where=twhere,
            )
        compression = options.get("compression", RML + "none")
        if compression not in (RML + "none", RML + "gzip"):
            raise MappingError(
                f"unsupported rml:compression <{compression}> of a logical target; "
                "eokg writes rml:none and rml:gzip (zip and tar archives are not written)",
                where=twhere,
            )
        if options.get("encoding", RML + "UTF-8") != RML + "UTF-8":
            raise MappingError(
                f"unsupported rml:encoding <{options['encoding']}> of a logical target; "
                "eokg writes rml:UTF-8",
                where=twhere,
            )
        found = LogicalTarget(
            path=self.target_path(target, twhere),
            serialization=SERIALIZATIONS[serialization],
            compression="gzip" if compression == RML + "gzip" else None,
            where=twhere,
        )
        self.targets[node] = found
        return found

    def target_path(self, target: Node, where: str) -> Path:
        """The file of a target: ``rml:path`` (with ``rml:root``) or a ``file:`` dump IRI."""
        from urllib.parse import unquote, urlparse

        path = self.one(target, RML + "path", where)
        if path is not None:
            given = Path(str(path))
            return given if given.is_absolute() else self.root_folder(target, where) / given
        urls = self.all(target, _VOID_DUMP, _DCAT_DOWNLOAD)
        if len(urls) != 1 or not str(urls[0]).startswith("file:"):
            raise MappingError(
                "rml:target: eokg writes file targets only (rml:path, or one void:dataDump / "
                "dcat:downloadURL with a file: IRI)",
                where=where,
            )
        parsed = urlparse(str(urls[0]))
        text = unquote(parsed.netloc + parsed.path) if parsed.netloc in (".", "..") else None
        given = Path(text if text is not None else unquote(parsed.path))
        return given if given.is_absolute() else self.base / given

    def value_of(self, node: Node, where: str) -> tuple[str, Node]:
        """How a term map gives its value: (kind, node)."""
        given = [
            (kind, value)
            for kind, pred in (
                ("constant", RML + "constant"),
                ("reference", RML + "reference"),
                ("template", RML + "template"),
                ("rml-fnml", RML + "functionExecution"),
                ("fnml", FNML + "functionValue"),
                ("rrx", RRX + "function"),
            )
            if (value := self.one(node, pred, where)) is not None
        ]
        if len(given) != 1:
            raise MappingError(
                "a term map needs exactly one of rml:constant, rml:reference, rml:template, "
                "rml:functionExecution",
                where=where,
            )
        kind, value = given[0]
        return kind, node if kind == "rrx" else value

    def typed(self, term: TermMap, node: Node, where: str, role: str) -> TermMap:
        """Apply term type, datatype and language, checking them against the role."""
        from rdflib import Literal

        term_type_node = self.one(node, RML + "termType", where)
        datatype = self.one(node, RML + "datatype", where)
        language = self.one(node, RML + "language", where)
        datatype_map = self.one(node, RML + "datatypeMap", where)
        language_map = self.one(node, RML + "languageMap", where)
        if role == "param" or (role == "object" and term.kind in ("reference", "function")):
            default: TermType = "literal"
        elif term.kind == "constant":
            default = term.term_type
        else:
            default = "iri"
        if any(x is not None for x in (datatype, language, datatype_map, language_map)):
            default = "literal"
        term_type, unsafe = default, False
        if term_type_node is not None:
            if str(term_type_node) not in _TERM_TYPES:
                raise MappingError(f"unknown rml:termType <{term_type_node}>", where=where)
            term_type, unsafe = _TERM_TYPES[str(term_type_node)]
        if role in ("subject", "graph") and term_type == "literal":
            raise MappingError(f"a {role} map cannot produce literals", where=where)
        if role == "predicate" and term_type != "iri":
            raise MappingError("a predicate map must produce IRIs", where=where)
        if term_type != "literal" and (datatype or language or datatype_map or language_map):
            raise MappingError("a datatype or language on a map that makes IRIs", where=where)
        if (language is not None or language_map is not None) and (
            datatype is not None or datatype_map is not None
        ):
            raise MappingError("a language and a datatype together", where=where)
        if language is not None and not (
            isinstance(language, Literal) and valid_language(str(language))
        ):
            raise MappingError(f"invalid language tag {str(language)!r}", where=where)
        dt = str(datatype) if datatype is not None else term.datatype
        return replace(
            term,
            term_type=term_type,
            unsafe=unsafe,
            datatype=None if dt == XSD_STRING and term.kind != "constant" else dt,
            language=str(language) if language is not None else term.language,
            datatype_map=self.term_map(datatype_map, f"{where} datatype map", "expression")
            if datatype_map is not None
            else None,
            language_map=self.term_map(language_map, f"{where} language map", "expression")
            if language_map is not None
            else None,
            base=self.iri_base if term_type == "iri" else None,
        )

    # functions ---------------------------------------------------------------------
    def function_call(self, node: Node, where: str, style: str) -> FunctionCall:
        fwhere = f"{where} function"
        if style == "rrx":
            return self.rrx_call(node, fwhere)
        if style == "fnml":
            return self.fnml_call(node, fwhere)
        self.check_props(node, {"function", "input"}, "a function execution", fwhere)
        fn = self.one(node, RML + "function", fwhere)
        if fn is None:
            raise MappingError("a function execution needs rml:function", where=fwhere)
        params: list[tuple[str, TermMap]] = []
        for i, inp in enumerate(self.all(node, RML + "input")):
            iwhere = f"{fwhere} input #{i + 1}"
            self.check_props(inp, {"parameter", "inputValue", "inputValueMap"}, "an input", iwhere)
            param = self.one(inp, RML + "parameter", iwhere)
            value = self.one(inp, RML + "inputValue", iwhere)
            value_map = self.one(inp, RML + "inputValueMap", iwhere)
            if param is None or (value is None) == (value_map is None):
                raise MappingError(
                    "an input needs rml:parameter and one of rml:inputValue / rml:inputValueMap",
                    where=iwhere,
                )
            if value is not None:
                term = self.constant_term(value, iwhere)
            else:
                assert value_map is not None
                term = self.term_map(value_map, iwhere, role="param")
            params.append((PARAM_SYNONYMS.get(str(param), str(param)), term))
        return self.checked_call(str(fn), tuple(params), fwhere)

    def rrx_call(self, node: Node, fwhere: str) -> FunctionCall:
        from rdflib.collection import Collection

        fn_iri = str(self.one(node, RRX + "function", fwhere))
        args_node = self.one(node, RRX + "argumentMap", fwhere)
        args = list(Collection(self.g, args_node)) if args_node is not None else []
        found = lookup(fn_iri)
        if found is None:
            raise MappingError(f"unknown function <{fn_iri}>", where=fwhere)
        names = found[1].params
        if len(args) > len(names):
            raise MappingError(f"too many arguments for <{fn_iri}>", where=fwhere)
        positional = tuple(
            (names[i], self.term_map(a, f"{fwhere} argument #{i + 1}", role="param"))
            for i, a in enumerate(args)
        )
        return self.checked_call(fn_iri, positional, fwhere)

    def fnml_call(self, node: Node, fwhere: str) -> FunctionCall:
        """Legacy FnML: a triples map whose predicate-object maps are the parameters."""
        executes: str | None = None
        params: list[tuple[str, TermMap]] = []
        for i, pom in enumerate(self.all(node, RML + "predicateObjectMap")):
            pwhere = f"{fwhere} parameter #{i + 1}"
            pred_nodes = self._predicates_of(pom)
            if len(pred_nodes) != 1:
                raise MappingError("a function parameter needs one rr:predicate", where=pwhere)
            pred = pred_nodes[0]
            values = [self.constant_term(o, pwhere) for o in self.all(pom, RML + "object")]
            values += [
                self.term_map(om, pwhere, role="param") for om in self.all(pom, RML + "objectMap")
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
        return self.checked_call(executes, tuple(params), fwhere)

    def checked_call(
        self, given: str, params: tuple[tuple[str, TermMap], ...], where: str
    ) -> FunctionCall:
        found = lookup(given)
        if found is None:
            known = ", ".join(known_functions())
            raise MappingError(f"unknown function <{given}>; known: {known}", where=where)
        canonical, spec = found
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


def parse_template(template: str, xpath: bool = False) -> tuple[str | Reference, ...]:
    """A template's text and references; XPath references are kept whole.

    XPath expressions may hold the dots and brackets the JSONPath-ish
    reference parser splits on (``{../@id}``), so for XPath sources the text
    between braces is taken as is; the escapes (``\\{``, ``\\}``, ``\\\\``) are
    the same.
    """
    if not xpath:
        return _parse_template(template)
    parts: list[str | Reference] = []
    buf, pos = "", 0
    while pos < len(template):
        char = template[pos]
        if char == "\\" and pos + 1 < len(template) and template[pos + 1] in "{}\\":
            buf, pos = buf + template[pos + 1], pos + 2
        elif char == "{":
            close = template.find("}", pos)
            name = template[pos + 1 : close] if close > 0 else ""
            if close < 0 or not name.strip() or "{" in name:
                raise ValueError(f"unclosed, empty or nested reference in {template!r}")
            if buf:
                parts.append(buf)
            parts.append(Reference(text=name, path=(name,)))
            buf, pos = "", close + 1
        elif char == "}":
            raise ValueError(f"unmatched '}}' in template {template!r}")
        else:
            buf, pos = buf + char, pos + 1
    if buf:
        parts.append(buf)
    return tuple(parts)


def _as_raw(term: TermMap) -> TermMap:
    """The same term map reading its reference whole (JSON text, WKB)."""
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
                        "rml:joinCondition",
                        where=rom.where,
                    )
