"""Helpers: compare produced lines with expected RDF; SHACL with the ontology loaded."""

from __future__ import annotations

from collections.abc import Iterable

import rdflib
from rdflib.compare import isomorphic, to_isomorphic

PREFIXES = """
@prefix rr: <http://www.w3.org/ns/r2rml#> .
@prefix rml: <http://semweb.mmlab.be/ns/rml#> .
@prefix ql: <http://semweb.mmlab.be/ns/ql#> .
@prefix fnml: <http://semweb.mmlab.be/ns/fnml#> .
@prefix fno: <https://w3id.org/function/ontology#> .
@prefix eofn: <https://w3id.org/eokg/function#> .
@prefix eoql: <https://w3id.org/eokg/formulation#> .
@prefix ex: <http://example.org/> .
@prefix eo: <https://w3id.org/eokg/ontology#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


def graph_of(lines: Iterable[str]) -> rdflib.Graph:
    """Triples of N-Triples/N-Quads lines, graph names dropped."""
    ds = rdflib.Dataset()
    ds.parse(data="\n".join(lines) + "\n", format="nquads")
    graph = rdflib.Graph()
    for s, p, o, _ in ds.quads():
        graph.add((s, p, o))
    return graph


def quads_of(lines: Iterable[str]) -> set[tuple]:
    ds = rdflib.Dataset()
    ds.parse(data="\n".join(lines) + "\n", format="nquads")
    return {(s, p, o, g) for s, p, o, g in ds.quads()}


def turtle(text: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=PREFIXES + text, format="turtle")


def assert_isomorphic(actual: rdflib.Graph, expected: rdflib.Graph) -> None:
    if not isomorphic(actual, expected):
        a, e = to_isomorphic(actual), to_isomorphic(expected)
        missing = sorted(str(t) for t in e - a)[:10]
        extra = sorted(str(t) for t in a - e)[:10]
        raise AssertionError(f"graphs differ\nmissing: {missing}\nextra: {extra}")


def shacl_report(data: rdflib.Graph) -> tuple[bool, str]:
    """pyshacl against shapes.ttl with the TBox and concept schemes in the data graph,
    as in the store, where the schemes are loaded beside the data."""
    import pyshacl

    from eokg.ontologies.paths import SHAPES_FILE, all_schema_files

    graph = rdflib.Graph()
    for triple in data:
        graph.add(triple)
    for path in all_schema_files():
        graph.parse(path, format="turtle")
    shapes = rdflib.Graph().parse(SHAPES_FILE, format="turtle")
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="rdfs")
    return bool(conforms), text
