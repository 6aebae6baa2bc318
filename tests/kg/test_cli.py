"""``eokg load`` and ``eokg query`` through ``eokg.cli.main``."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph
import pytest
import rdflib

from eokg.cli import main

GRAPH = "https://example.org/graph/ice"
TURTLE = """
@prefix eo: <https://w3id.org/eokg/ontology#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix ex: <https://example.org/ice/> .
ex:floe1 a eo:SeaIceFloe ; eo:area 3.5 ; geo:hasGeometry ex:g1 .
ex:g1 geo:asWKT "POLYGON((10 70, 12 70, 12 72, 10 72, 10 70))"^^geo:wktLiteral .
ex:floe2 a eo:SeaIceFloe ; eo:area 12 ; geo:hasGeometry ex:g2 .
ex:g2 geo:asWKT "POINT(15 75)"^^geo:wktLiteral .
"""
AREAS = (
    "PREFIX eo: <https://w3id.org/eokg/ontology#> "
    f"SELECT ?f ?area WHERE {{ GRAPH <{GRAPH}> {{ ?f eo:area ?area }} }} ORDER BY ?area"
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No eokg.toml or EOKG_* variable from the caller's environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("EOKG_CONFIG", "EOKG_STORE__BACKEND", "EOKG_STORE__PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "ice.ttl"
    path.write_text(TURTLE, encoding="utf-8")
    return path


@pytest.fixture
def loaded(tmp_path: Path, data_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    store = tmp_path / "store"
    assert main(["load", "--store", str(store), "--graph", GRAPH, str(data_file)]) == 0
    capsys.readouterr()
    return store


def test_load_reports_what_it_added(
    tmp_path: Path, data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    assert main(["load", "--store", str(store), "--graph", GRAPH, str(data_file)]) == 0
    out = capsys.readouterr().out
    assert "loaded 8 triples from 1 file(s)" in out
    assert f"graphs: {GRAPH}" in out
    assert "geometries indexed: 2" in out
    assert "time:" in out


def test_load_parse_error_names_file_and_line(
    loaded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("<urn:a> <urn:b> <urn:c> .\n\n<urn:a> <urn:b> .\n", encoding="utf-8")
    assert main(["load", "--store", str(loaded), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3" in err
    # nothing from the bad file went in
    assert main(["query", "--store", str(loaded), "ASK { <urn:a> ?p ?o }"]) == 0
    assert json.loads(capsys.readouterr().out)["boolean"] is False


def test_query_formats(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--store", str(loaded), AREAS]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]["bindings"]
    assert [r["area"]["value"] for r in rows] == ["3.5", "12"]

    assert main(["query", "--store", str(loaded), "--format", "csv", AREAS]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table == [
        ["f", "area"],
        ["https://example.org/ice/floe1", "3.5"],
        ["https://example.org/ice/floe2", "12"],
    ]

    for fmt, results_format in (
        ("tsv", pyoxigraph.QueryResultsFormat.TSV),
        ("xml", pyoxigraph.QueryResultsFormat.XML),
    ):
        assert main(["query", "--store", str(loaded), "--format", fmt, AREAS]) == 0
        parsed = pyoxigraph.parse_query_results(capsys.readouterr().out, results_format)
        assert [row["area"].value for row in parsed] == ["3.5", "12"]


def test_query_from_file_and_construct(
    loaded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query_file = tmp_path / "q.rq"
    query_file.write_text(
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}", encoding="utf-8"
    )
    assert main(["query", "--store", str(loaded), "--file", str(query_file)]) == 0
    graph = rdflib.Graph().parse(data=capsys.readouterr().out, format="turtle")
    assert len(graph) == 8

    out_file = tmp_path / "out.nt"
    args = ["query", "--store", str(loaded), "--file", str(query_file), "--format", "ntriples"]
    assert main([*args, "-o", str(out_file)]) == 0
    assert len(rdflib.Graph().parse(out_file, format="nt")) == 8


def test_query_errors(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--store", str(loaded), "SELECT ?s WHERE { ?s }"]) == 1
    assert "error" in capsys.readouterr().err
    construct = "CONSTRUCT WHERE { ?s ?p ?o }"
    assert main(["query", "--store", str(loaded), "--format", "csv", construct]) == 1
    assert "--format" in capsys.readouterr().err
    assert main(["query", "--store", str(loaded)]) == 1
    assert main(["query", "--store", str(loaded), "--max-results", "1", AREAS]) == 1
    assert "more than 1" in capsys.readouterr().err


# ------------------------------------------------------------------ remote backend


@pytest.fixture
def oxigraph_url() -> Iterator[str]:
    binary = shutil.which("oxigraph")
    if binary is None:
        pytest.skip("the Oxigraph server is not installed (pip install oxigraph)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                httpx.get(base + "/query", timeout=1.0)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.server
def test_load_and_query_a_remote_endpoint(
    oxigraph_url: str,
    data_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EOKG_STORE__BACKEND", "sparql")
    monkeypatch.setenv("EOKG_STORE__QUERY_URL", oxigraph_url + "/query")
    monkeypatch.setenv("EOKG_STORE__UPDATE_URL", oxigraph_url + "/update")
    assert main(["load", "--graph", GRAPH, str(data_file)]) == 0
    assert "loaded 8 triples" in capsys.readouterr().out
    assert main(["query", "--format", "csv", AREAS]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "https://example.org/ice/floe1,3.5",
        "https://example.org/ice/floe2,12",
    ]


def test_query_explain_prints_the_plan(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    spatial = (
        "PREFIX geo: <http://www.opengis.net/ont/geosparql#> "
        "PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
        "SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w "
        "FILTER(geof:sfIntersects(?w, "
        "'POLYGON((-180 -90, 180 -90, 180 90, -180 90, -180 -90))'^^geo:wktLiteral)) }"
    )
    capsys.readouterr()
    assert main(["query", "--store", str(loaded), "--explain", spatial]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["kind"] for s in report["steps"]] == ["selection"]
    assert "seconds" in report
