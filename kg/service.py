"""SPARQL service description and VoID statistics for a source.

The federation engine decides which source may answer a triple pattern, and
where, from what a source says about itself: which classes and properties each
named graph holds, which IRI namespaces its subjects live in, and the bounding
box of its geometries.  This module computes that with plain SPARQL, so it
describes the embedded store and any remote endpoint alike.

Shape of the output (Turtle)::

    <endpoint> a sd:Service ; sd:endpoint <endpoint> ; sd:resultFormat ... ;
        dct:conformsTo <GeoSPARQL 1.1 conformance classes> ;
        sd:defaultDataset <void#dataset> .
    <void#dataset> a sd:Dataset, void:Dataset ; void:triples N ;
        sd:defaultGraph [ a sd:Graph ; void:triples n ] ;
        sd:namedGraph <void#graph-XXXX> ; void:subset <void#graph-XXXX> .
    <void#graph-XXXX> a sd:NamedGraph, void:Dataset ; sd:name <graph IRI> ;
        void:triples n ; void:entities n ; void:uriSpace "https://..." ;
        void:classPartition [ void:class C ; void:entities n ] ;
        void:propertyPartition [ void:property P ; void:triples n ] ;
        geo:hasBoundingBox [ a geo:Geometry ; geo:asWKT "POLYGON(...)"^^geo:wktLiteral ] .
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eokg.kg.source import QueryOptions, SparqlSource
from eokg.ontologies.namespaces import DCTERMS, GEO, RDF, XSD

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
FORMATS = "http://www.w3.org/ns/formats/"

#: Prefixes for the Turtle output.
SERVICE_PREFIXES: dict[str, str] = {
    "sd": SD,
    "void": VOID,
    "geo": GEO,
    "dct": DCTERMS,
    "formats": FORMATS,
    "xsd": XSD,
}

#: W3C format IRIs for the media types the endpoint serves.
RESULT_FORMAT_IRIS = (
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "JSON-LD",
    "RDF_XML",
)
#: GeoSPARQL 1.1 conformance classes the eokg store implements.
GEOSPARQL_CONFORMANCE = (
    "http://www.opengis.net/spec/geosparql/1.1/conf/core",
    "http://www.opengis.net/spec/geosparql/1.1/conf/topology-vocab-extension",
    "http://www.opengis.net/spec/geosparql/1.1/conf/geometry-extension",
    "http://www.opengis.net/spec/geosparql/1.1/conf/geometry-topology-extension",
)

_TRIPLES_PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
_DEFAULT_TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
_CLASSES = "SELECT ?g ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s a ?c } } GROUP BY ?g ?c"
_PROPERTIES = "SELECT ?g ?p (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ?p"
# Namespace = the IRI up to its last "/" or "#"; counted in the engine so that
# only one row per namespace crosses the wire.
_SUBJECT_SPACES = (
    "SELECT ?g ?ns (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
    'FILTER(isIRI(?s)) BIND(REPLACE(STR(?s), "[^/#]*$", "") AS ?ns) } GROUP BY ?g ?ns'
)


@dataclass
class GraphStats:
    """What VoID says about one named graph."""

    name: str
    triples: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    properties: dict[str, int] = field(default_factory=dict)
    subject_spaces: dict[str, int] = field(default_factory=dict)
    extent: tuple[float, float, float, float] | None = None

    @property
    def entities(self) -> int:
        return sum(self.subject_spaces.values())


def graph_statistics(source: SparqlSource, *, timeout_s: float | None = None) -> list[GraphStats]:
    """Per-graph counts by aggregate queries (a handful of rows each, whatever the size)."""
    options = QueryOptions(timeout_s=timeout_s)
    stats: dict[str, GraphStats] = {}

    def get(name: str) -> GraphStats:
        if name not in stats:
            stats[name] = GraphStats(name)
        return stats[name]

    for row in _rows(source, _TRIPLES_PER_GRAPH, options):
        get(row["g"].value).triples = _int(row["n"])
    for row in _rows(source, _CLASSES, options):
        get(row["g"].value).classes[row["c"].value] = _int(row["n"])
    for row in _rows(source, _PROPERTIES, options):
        get(row["g"].value).properties[row["p"].value] = _int(row["n"])
    for row in _rows(source, _SUBJECT_SPACES, options):
        get(row["g"].value).subject_spaces[row["ns"].value] = _int(row["n"])

    spatial_extent = getattr(source, "spatial_extent", None)
    if callable(spatial_extent):
        for graph in stats.values():
            extent = spatial_extent(graph.name)
            graph.extent = tuple(float(v) for v in extent) if extent else None  # type: ignore[assignment]
    return sorted(stats.values(), key=lambda g: g.name)


def default_graph_triples(source: SparqlSource, *, timeout_s: float | None = None) -> int:
    rows = list(_rows(source, _DEFAULT_TRIPLES, QueryOptions(timeout_s=timeout_s)))
    return _int(rows[0]["n"]) if rows else 0


def bbox_wkt(extent: tuple[float, float, float, float]) -> str:
    """A lon/lat box as a closed WKT polygon (CRS84, the GeoSPARQL default)."""
    minx, miny, maxx, maxy = extent
    ring = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy), (minx, miny)]
    return "POLYGON((" + ", ".join(f"{x:.10g} {y:.10g}" for x, y in ring) + "))"


def describe_service(
    source: SparqlSource,
    *,
    endpoint_url: str,
    void_url: str | None = None,
    update_enabled: bool = False,
    media_type: str = "text/turtle",
    timeout_s: float | None = None,
) -> bytes:
    """The service description with VoID for every named graph, serialised.

    Dataset nodes get IRIs under ``void_url`` (default: the endpoint URL) so a
    federation engine can refer back to them; graph nodes use a hash of the
    graph IRI, stable across runs.
    """
    import pyoxigraph

    triples = service_triples(
        source,
        endpoint_url=endpoint_url,
        void_url=void_url,
        update_enabled=update_enabled,
        timeout_s=timeout_s,
    )
    rdf_format = pyoxigraph.RdfFormat.from_media_type(media_type) or pyoxigraph.RdfFormat.TURTLE
    prefixes = SERVICE_PREFIXES if rdf_format.name in ("Turtle", "RDF/XML") else None
    body = pyoxigraph.serialize(triples, None, rdf_format, prefixes=prefixes)
    return bytes(body or b"")


def service_triples(
    source: SparqlSource,
    *,
    endpoint_url: str,
    void_url: str | None = None,
    update_enabled: bool = False,
    timeout_s: float | None = None,
) -> list[Any]:
    """The description as pyoxigraph triples (for callers that merge it elsewhere)."""
    from pyoxigraph import BlankNode, Literal, NamedNode, Triple

    base = void_url or endpoint_url
    out: list[Any] = []

    def add(s: Any, p: str, o: Any) -> None:
        out.append(Triple(s, NamedNode(p), o))

    def count(n: int) -> Any:
        return Literal(str(n), datatype=NamedNode(XSD + "integer"))

    service = NamedNode(endpoint_url)
    add(service, RDF + "type", NamedNode(SD + "Service"))
    add(service, SD + "endpoint", service)
    add(service, SD + "supportedLanguage", NamedNode(SD + "SPARQL11Query"))
    if update_enabled:
        add(service, SD + "supportedLanguage", NamedNode(SD + "SPARQL11Update"))
    for name in RESULT_FORMAT_IRIS:
        add(service, SD + "resultFormat", NamedNode(FORMATS + name))
    functions, aggregates, geosparql = _extensions(source)
    if geosparql:
        for conformance in GEOSPARQL_CONFORMANCE:
            add(service, DCTERMS + "conformsTo", NamedNode(conformance))
    for function in functions:
        add(service, SD + "extensionFunction", NamedNode(function))
    for aggregate in aggregates:
        add(service, SD + "extensionAggregate", NamedNode(aggregate))

    dataset = NamedNode(f"{base}#dataset")
    add(service, SD + "defaultDataset", dataset)
    add(dataset, RDF + "type", NamedNode(SD + "Dataset"))
    add(dataset, RDF + "type", NamedNode(VOID + "Dataset"))
    add(dataset, VOID + "sparqlEndpoint", service)

    default_graph = BlankNode()
    default_count = default_graph_triples(source, timeout_s=timeout_s)
    add(dataset, SD + "defaultGraph", default_graph)
    add(default_graph, RDF + "type", NamedNode(SD + "Graph"))
    add(default_graph, VOID + "triples", count(default_count))

    total = default_count
    for stats in graph_statistics(source, timeout_s=timeout_s):
        total += stats.triples
        digest = hashlib.sha1(stats.name.encode("utf-8")).hexdigest()[:12]
        node = NamedNode(f"{base}#graph-{digest}")
        add(dataset, SD + "namedGraph", node)
        add(dataset, VOID + "subset", node)
        add(node, RDF + "type", NamedNode(SD + "NamedGraph"))
        add(node, RDF + "type", NamedNode(VOID + "Dataset"))
        add(node, SD + "name", NamedNode(stats.name))
        add(node, VOID + "sparqlEndpoint", service)
        add(node, VOID + "triples", count(stats.triples))
        add(node, VOID + "entities", count(stats.entities))
        add(node, VOID + "classes", count(len(stats.classes)))
        add(node, VOID + "properties", count(len(stats.properties)))
        for space in sorted(stats.subject_spaces):
            add(node, VOID + "uriSpace", Literal(space))
        for cls, n in sorted(stats.classes.items()):
            part = BlankNode()
            add(node, VOID + "classPartition", part)
            add(part, VOID + "class", NamedNode(cls))
            add(part, VOID + "entities", count(n))
        for prop, n in sorted(stats.properties.items()):
            part = BlankNode()
            add(node, VOID + "propertyPartition", part)
            add(part, VOID + "property", NamedNode(prop))
            add(part, VOID + "triples", count(n))
        if stats.extent is not None:
            box = BlankNode()
            add(node, GEO + "hasBoundingBox", box)
            add(box, RDF + "type", NamedNode(GEO + "Geometry"))
            # No CRS IRI: CRS84 is the GeoSPARQL default, and readers can parse bare WKT.
            wkt = bbox_wkt(stats.extent)
            add(box, GEO + "asWKT", Literal(wkt, datatype=NamedNode(GEO + "wktLiteral")))
    add(dataset, VOID + "triples", count(total))
    return out


def _extensions(source: SparqlSource) -> tuple[list[str], list[str], bool]:
    """(function IRIs, aggregate IRIs, GeoSPARQL conformance) the source offers.

    Known for the embedded store; a remote endpoint's own description is the
    authority on itself, so nothing is claimed for it here.
    """
    from eokg.kg.store import GeoStore

    if not isinstance(source, GeoStore):
        return [], [], False
    from eokg.kg.functions import custom_aggregates, custom_functions

    functions = sorted(f.value for f in custom_functions())
    aggregates = sorted(a.value for a in custom_aggregates())
    return functions, aggregates, True


def _rows(source: SparqlSource, sparql: str, options: QueryOptions) -> Iterable[Any]:
    return source.query(sparql, options)


def _int(term: Any) -> int:
    return int(term.value)
