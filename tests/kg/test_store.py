# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""GeoStore: atomic loads, updates, limits, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyoxigraph
import pytest

from eokg.errors import InputError, QueryError, QueryTimeout, RDFParseError, ResultTooLarge
from eokg.kg.source import QueryOptions, SparqlSource
from eokg.kg.store import GeoStore

GOOD = "".join(f"<http://ex/s{i}> <http://ex/p> <http://ex/o{i}> .\n" for i in range(50))


def test_is_a_sparql_source() -> None:
    assert isinstance(GeoStore(), SparqlSource)


def test_load_formats_and_graphs(tmp_path: Path) -> None:
    nt = tmp_path / "a.nt"
    nt.write_text(GOOD)
    ttl = tmp_path / "b.ttl.gz"
    with gzip.open(ttl, "wt") as fh:
        fh.write("@prefix ex: <http://ex/> . ex:x ex:p ex:y , ex:z .\n")
    trig = tmp_path / "c.trig"
    trig.write_text(
        "<http://ex/q> { <http://ex/a> <http://ex/b> <http://ex/c> } <http://ex/d> <http://ex/e> <http://ex/f> ."
    )
    store = GeoStore()
    report = store.load([nt, ttl], graph="http://ex/g1")
    assert report.triples == 52 and report.graphs == ("http://ex/g1",)
    store.load([trig], graph="http://ex/g2")
    assert store.graphs() == ["http://ex/g1", "http://ex/g2", "http://ex/q"]
    count = store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH <http://ex/g1> { ?s ?p ?o } }")
    assert next(iter(count))["n"].value == "52"
    assert bool(store.query("ASK { GRAPH <http://ex/g2> { <http://ex/d> ?p ?o } }"))


def test_load_is_atomic_and_names_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.nt"
    good.write_text(GOOD)
    bad = tmp_path / "bad.nt"
    bad.write_text(GOOD + '<http://ex/a> <http://ex/b> "unterminated .\n' + GOOD)
    store = GeoStore()
    store.load([good])
    before = set(store.raw)
    with pytest.raises(RDFParseError) as err:
        store.load([good, bad], graph="http://ex/new")
    assert set(store.raw) == before
    assert f"{bad}:51" in str(err.value)
    assert err.value.details["line"] == 51
    assert err.value.to_problem()["status"] == 400


def test_load_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "x.weird"
    path.write_text(GOOD)
    with pytest.raises(InputError, match="format"):
        GeoStore().load([path])
    assert GeoStore().load([path], format="nt").triples == 50


def test_persistent_reopen(tmp_path: Path) -> None:
    nt = tmp_path / "a.nt"
    nt.write_text(GOOD)
    store = GeoStore(tmp_path / "db")
    store.load([nt])
    store.flush()
    del store
    again = GeoStore(tmp_path / "db")
    assert len(again) == 50


def test_update_atomic_and_errors() -> None:
    store = GeoStore()
    store.update("INSERT DATA { <http://ex/a> <http://ex/p> 1 }")
    with pytest.raises(QueryError):
        store.update("INSERT DATA { <http://ex/b> <http://ex/p> 2 } ; DELETE WHERE { ?s ")
    assert len(store) == 1
    with pytest.raises(QueryError) as err:
        store.query("SELECT * WHERE { ?s ?p }")
    assert "1:" in str(err.value)  # parser position


def test_max_results_and_timeout() -> None:
    store = GeoStore()
    store.update(
        "INSERT DATA { "
        + " ".join(f"<http://ex/s{i}> <http://ex/p> {i} ." for i in range(300))
        + "}"
    )
    capped = store.query("SELECT ?s WHERE { ?s ?p ?o }", QueryOptions(max_results=300))
    assert isinstance(capped, pyoxigraph.QuerySolutions)
    assert len(list(capped)) == 300
    assert b"http://ex/s1" in store.query(
        "SELECT ?s WHERE { ?s ?p ?o }", QueryOptions(max_results=1000)
    ).serialize(format=pyoxigraph.QueryResultsFormat.JSON)
    with pytest.raises(ResultTooLarge):
        store.query("SELECT ?s WHERE { ?s ?p ?o }", QueryOptions(max_results=299))
    triples = store.query("CONSTRUCT WHERE { ?s ?p ?o }", QueryOptions(max_results=1000))
    assert len(list(triples)) == 300 and triples.serialize(format=pyoxigraph.RdfFormat.N_TRIPLES)
    assert bool(store.query("ASK { ?s ?p 5 }", QueryOptions(timeout_s=10)))
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f . ?g ?t ?h }"
    with pytest.raises(QueryTimeout):
        store.query(slow, QueryOptions(timeout_s=0.2))
