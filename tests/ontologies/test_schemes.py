"""The ontology and the SKOS concept schemes: parse, labelled, consistent hierarchies."""

from __future__ import annotations

import pytest
import rdflib
from rdflib.namespace import OWL, RDF, SKOS

from eokg.ontologies import CONCEPTS_DIR, ONTOLOGY_FILE, SHAPES_FILE, all_schema_files

ICE = rdflib.Namespace("https://w3id.org/eokg/concept/seaice/")


@pytest.fixture(scope="module")
def concepts() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in sorted(CONCEPTS_DIR.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def test_every_schema_file_parses() -> None:
    for path in [*all_schema_files(), SHAPES_FILE]:
        assert len(rdflib.Graph().parse(path, format="turtle")) > 0, path


def test_ontology_declares_its_classes() -> None:
    graph = rdflib.Graph().parse(ONTOLOGY_FILE, format="turtle")
    eo = rdflib.Namespace("https://w3id.org/eokg/ontology#")
    for name in (
        "Product",
        "Sentinel1GRD",
        "ImagePatch",
        "Label",
        "IceChartPolygon",
        "FieldParcel",
        "Prediction",
        "MLModel",
        "TrainingDataset",
    ):
        assert (eo[name], RDF.type, OWL.Class) in graph, name


def test_every_concept_has_one_english_preflabel_and_a_scheme(concepts: rdflib.Graph) -> None:
    all_concepts = set(concepts.subjects(RDF.type, SKOS.Concept))
    assert len(all_concepts) > 50
    for concept in all_concepts:
        english = [
            lab
            for lab in concepts.objects(concept, SKOS.prefLabel)
            if isinstance(lab, rdflib.Literal) and lab.language == "en"
        ]
        assert len(english) == 1, concept
        assert concepts.value(concept, SKOS.inScheme) is not None, concept


def test_broader_and_narrower_are_mutual_inverses(concepts: rdflib.Graph) -> None:
    broader = set(concepts.subject_objects(SKOS.broader))
    narrower = {(child, parent) for parent, child in concepts.subject_objects(SKOS.narrower)}
    assert broader == narrower


def test_hierarchies_have_no_cycles(concepts: rdflib.Graph) -> None:
    for concept in set(concepts.subjects(RDF.type, SKOS.Concept)):
        seen = {concept}
        frontier = [concept]
        while frontier:
            node = frontier.pop()
            for parent in concepts.objects(node, SKOS.broader):
                assert parent != concept, f"cycle through {concept}"
                if parent not in seen:
                    seen.add(parent)
                    frontier.append(parent)


def test_top_concepts_have_no_broader(concepts: rdflib.Graph) -> None:
    for _, top in concepts.subject_objects(SKOS.hasTopConcept):
        assert concepts.value(top, SKOS.broader) is None, top


def test_iceberg_is_ice_of_land_origin_which_is_ice(concepts: rdflib.Graph) -> None:
    assert (ICE.iceberg, SKOS.broader, ICE["ice-of-land-origin"]) in concepts
    assert (ICE["ice-of-land-origin"], SKOS.broader, ICE.ice) in concepts
    assert (ICE.ship, SKOS.broader, ICE.vessel) in concepts
