"""Keys of the eokg SKOS concept schemes, read from the ontology files.

Loaders check category values (a crop, a stage of development) against the
schemes themselves, so adding a concept to a ``.ttl`` file is all it takes to
accept a new value.
"""

from __future__ import annotations

from functools import cache

import rdflib

from eokg.ontologies.namespaces import EOC, SKOS
from eokg.ontologies.paths import CONCEPTS_DIR

#: scheme name -> file in the concepts folder
SCHEME_FILES = {"seaice": "seaice.ttl", "crop": "crops.ttl", "product": "products.ttl"}


@cache
def concept_keys(scheme: str) -> frozenset[str]:
    """The local names of the concepts in ``scheme`` (``"seaice"``, ``"crop"``, ``"product"``)."""
    graph = rdflib.Graph()
    graph.parse(CONCEPTS_DIR / SCHEME_FILES[scheme], format="turtle")
    scheme_iri = rdflib.URIRef(f"{EOC}{scheme}")
    prefix = f"{EOC}{scheme}/"
    return frozenset(
        str(concept)[len(prefix) :]
        for concept in graph.subjects(rdflib.URIRef(f"{SKOS}inScheme"), scheme_iri)
        if str(concept).startswith(prefix)
    )


def concept_iri(scheme: str, key: str) -> str:
    """The IRI of concept ``key`` of ``scheme``, as the mappings mint it."""
    return f"{EOC}{scheme}/{key}"
