"""SKOS concept schemes: hierarchy expansion and multilingual label matching."""

from __future__ import annotations

import pytest

from eokg.catalog.concepts import ConceptScheme, concept_query, default_scheme, normalise
from eokg.errors import InputError

EOC = "https://w3id.org/eokg/concept/"


def test_expand_is_transitive(scheme):
    assert scheme.expand(EOC + "seaice/sea-ice") == {
        EOC + "seaice/sea-ice",
        EOC + "seaice/new-ice",
        EOC + "seaice/nilas",
        EOC + "seaice/first-year-ice",
    }
    assert scheme.expand(EOC + "seaice/open-water") == {EOC + "seaice/open-water"}
    assert scheme.expand("urn:unknown") == {"urn:unknown"}


def test_labels_in_every_language(scheme):
    assert scheme.match_text("Meereis") == {EOC + "seaice/sea-ice"}
    assert scheme.match_text("  SEA-ICE ") == {EOC + "seaice/sea-ice"}
    assert scheme.match_text("glace de premiere annee") == {EOC + "seaice/first-year-ice"}
    assert scheme.match_text("young ice") == {EOC + "seaice/new-ice"}
    assert scheme.label(EOC + "seaice/sea-ice", "de") == "Meereis"
    assert normalise("Glace de Première-Année") == "glace de premiere annee"


def test_concept_query_explains(scheme):
    cq = concept_query(scheme, [EOC + "seaice/new-ice"], ["open water"])
    assert set(cq.expansions) == {EOC + "seaice/new-ice", EOC + "seaice/open-water"}
    assert cq.explain([EOC + "seaice/nilas"]) == [(EOC + "seaice/new-ice", EOC + "seaice/nilas")]


def test_cycles_do_not_hang():
    ttl = """@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
    <urn:a> skos:narrower <urn:b> . <urn:b> skos:narrower <urn:a> ."""
    assert ConceptScheme.from_turtle(ttl).expand("urn:a") == {"urn:a", "urn:b"}


def test_bad_turtle_names_the_file(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle")
    with pytest.raises(InputError) as info:
        ConceptScheme.from_files([bad])
    assert info.value.where == str(bad)


def test_shipped_schemes_load():
    """Whatever the ontology package ships loads generically (may still be empty)."""
    scheme = default_scheme()
    for iri in list(scheme.labels)[:50]:
        assert iri in scheme.expand(iri)


def test_shipped_sea_ice_scheme_expands():
    scheme = default_scheme()
    top = EOC + "seaice/sea-ice"
    if top not in scheme.labels:
        pytest.skip("the sea-ice concept scheme is not shipped yet")
    narrower = scheme.expand(top)
    assert {EOC + "seaice/new-ice", EOC + "seaice/nilas"} <= narrower
    assert scheme.match_text("havis") == {top}
