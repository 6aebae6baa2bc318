"""Keys of the eokg SKOS concept schemes, read from the ontology files.

Loaders check category values (a crop, a stage of development) against the
schemes themselves, so adding a concept to a ``.ttl`` file is all it takes to
accept a new value.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import rdflib

from eokg.ontologies.namespaces import EOC, SKOS
from eokg.ontologies.paths import CONCEPTS_DIR

#: scheme name -> file in the concepts folder
SCHEME_FILES = {"seaice": "seaice.ttl", "crop": "crops.ttl", "product": "products.ttl"}


@cache
def concept_keys(scheme: str) -> frozenset[str]:
    """The local names of the concepts in ``scheme`` (``"seaice"``, ``"crop"``, ``"product"``)."""
    graph = rdflib.Graph()
    # through importlib.resources: on a cluster's executors the package is a zip
    # (spark/ship.py), where CONCEPTS_DIR names no real folder
    text = resources.files("eokg.ontologies").joinpath("concepts", SCHEME_FILES[scheme])
    graph.parse(data=text.read_text(encoding="utf-8"), format="turtle",
                publicID=(CONCEPTS_DIR / SCHEME_FILES[scheme]).as_uri())
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
