"""``RemoteSparqlSource`` against real SPARQL servers on loopback.

Two servers: the Oxigraph server binary (pip package ``oxigraph``; those tests
skip when it is not installed) and the eokg API itself, run by uvicorn in a
thread.  No test double: every request crosses a real socket.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph
import pytest

from eokg.errors import (
    QueryError,
    QueryTimeout,
    RDFParseError,
    SourceUnavailable,
    Unauthorized,
)
from eokg.kg.remote import RemoteSparqlSource
from eokg.kg.source import QueryOptions, SparqlSource

pytestmark = pytest.mark.server

GRAPH = "https://example.org/graph/ice"
TURTLE = """
@prefix eo: <https://w3id.org/eokg/ontology#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix ex: <https://example.org/ice/> .
ex:floe1 a eo:SeaIceFloe ; eo:label "floe one"@en ; geo:hasGeometry [ geo:asWKT
    "POLYGON((10 70, 12 70, 12 72, 10 72, 10 70))"^^geo:wktLiteral ] .
ex:floe2 a eo:SeaIceFloe ; eo:label "floe two" ; eo:area 12.5 .
"""
TRIPLES = 7
HEAVY = (
    "SELECT (COUNT(*) AS ?n) WHERE { "
    + " ".join(f"VALUES ?{v} {{ {' '.join(str(i) for i in range(60))} }}" for v in "abcd")
    + " }"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="module")
def oxigraph_url() -> Iterator[str]:
    binary = shutil.which("oxigraph")
    if binary is None:
        pytest.skip("the Oxigraph server is not installed (pip install oxigraph)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/query")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def oxigraph(oxigraph_url: str) -> Iterator[RemoteSparqlSource]:
    source = RemoteSparqlSource(oxigraph_url + "/query", oxigraph_url + "/update", timeout_s=10)
    source.update("CLEAR ALL")
    yield source
    source.close()


@pytest.fixture(scope="module")
def eokg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The eokg API with an embedded store and an API key, served by uvicorn."""
    import uvicorn

    from eokg.api.app import create_app
    from eokg.config import load_settings
    from eokg.kg.store import GeoStore

    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("data"),
        api={"api_key": "k3y", "query_timeout_s": 0.15, "max_results": 1000},
    )
    app = create_app(settings, store=GeoStore())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/void")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "ice.ttl"
    path.write_text(TURTLE, encoding="utf-8")
    return path


def _labels(source: SparqlSource, options: QueryOptions | None = None) -> dict[str, Any]:
    query = (
        "PREFIX eo: <https://w3id.org/eokg/ontology#> "
        f"SELECT ?x ?label WHERE {{ GRAPH <{GRAPH}> {{ ?x eo:label ?label }} }}"
    )
    return {row["x"].value: row["label"] for row in source.query(query, options)}


# ------------------------------------------------------------------ Oxigraph server


def test_round_trip_through_oxigraph_server(oxigraph: RemoteSparqlSource, data_file: Path) -> None:
    assert isinstance(oxigraph, SparqlSource)
    report = oxigraph.load([data_file], graph=GRAPH)
    assert report.triples == TRIPLES and report.graphs == (GRAPH,)
    assert oxigraph.graphs() == [GRAPH]

    result = oxigraph.query(f"SELECT ?s WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}")
    assert isinstance(result, pyoxigraph.QuerySolutions)
    assert len(list(result)) == TRIPLES

    labels = _labels(oxigraph)
    assert labels["https://example.org/ice/floe1"] == pyoxigraph.Literal("floe one", language="en")
    assert labels["https://example.org/ice/floe2"] == pyoxigraph.Literal("floe two")

    ask = oxigraph.query(f"ASK {{ GRAPH <{GRAPH}> {{ ?s a ?c }} }}")
    assert isinstance(ask, pyoxigraph.QueryBoolean) and bool(ask)

    triples = list(
        oxigraph.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}")
    )
    assert len(triples) == TRIPLES and all(isinstance(t, pyoxigraph.Triple) for t in triples)


def test_dataset_options_reach_the_server(oxigraph: RemoteSparqlSource, data_file: Path) -> None:
    oxigraph.load([data_file], graph=GRAPH)
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    (row,) = oxigraph.query(query, QueryOptions(default_graph_uris=[GRAPH]))
    assert row["n"].value == str(TRIPLES)
    (row,) = oxigraph.query(query)
    assert row["n"].value == "0"


def test_load_is_atomic_and_names_the_bad_line(
    oxigraph: RemoteSparqlSource, data_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("<urn:a> <urn:b> <urn:c> .\n<urn:a> <urn:b> .\n", encoding="utf-8")
    with pytest.raises(RDFParseError) as caught:
        oxigraph.load([data_file, bad], graph=GRAPH)
    assert caught.value.where == f"{bad}:2"
    assert oxigraph.graphs() == []


def test_blank_nodes_stay_distinct_across_files(
    oxigraph: RemoteSparqlSource, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.ttl").write_text(f'_:b1 <urn:name> "{name}" .\n', encoding="utf-8")
    oxigraph.load([tmp_path / "a.ttl", tmp_path / "b.ttl"], graph=GRAPH)
    (row,) = oxigraph.query(
        f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}"
    )
    assert row["n"].value == "2"


def test_graph_store_protocol_load(oxigraph_url: str, data_file: Path) -> None:
    with RemoteSparqlSource(
        oxigraph_url + "/query",
        oxigraph_url + "/update",
        graph_store_url=oxigraph_url + "/store",
    ) as source:
        source.update("CLEAR ALL")
        report = source.load([data_file], graph=GRAPH)
        assert report.triples == TRIPLES
        assert len(_labels(source)) == 2


def test_bad_query_carries_the_endpoint_message(oxigraph: RemoteSparqlSource) -> None:
    with pytest.raises(QueryError) as caught:
        oxigraph.query("SELECT ?s WHERE { ?s ?p }")
    assert "HTTP 400" in str(caught.value.where)
    assert caught.value.message


def test_unreachable_endpoint_is_source_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/sparql"
    with RemoteSparqlSource(url, timeout_s=2) as source, pytest.raises(SourceUnavailable) as caught:
        source.query("ASK {}")
    assert caught.value.where == url
    assert caught.value.status == 502


def test_describe_a_remote_source(oxigraph: RemoteSparqlSource, data_file: Path) -> None:
    import rdflib

    from eokg.kg.service import describe_service

    oxigraph.load([data_file], graph=GRAPH)
    turtle = describe_service(oxigraph, endpoint_url=oxigraph.query_url)
    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    sd_name = rdflib.URIRef("http://www.w3.org/ns/sparql-service-description#name")
    assert set(graph.objects(None, sd_name)) == {rdflib.URIRef(GRAPH)}


# ------------------------------------------------------------------ eokg server


def test_round_trip_through_the_eokg_api(eokg_url: str, data_file: Path) -> None:
    with RemoteSparqlSource(
        eokg_url + "/sparql", headers={"Authorization": "Bearer k3y"}, timeout_s=10
    ) as source:
        source.update("CLEAR ALL")
        report = source.load([data_file], graph=GRAPH)
        assert report.triples == TRIPLES
        assert source.graphs() == [GRAPH]
        labels = _labels(source)
        assert labels["https://example.org/ice/floe1"].language == "en"
        describe = "DESCRIBE <https://example.org/ice/floe2>"
        triples = list(source.query(describe, QueryOptions(default_graph_uris=[GRAPH])))
        assert len(triples) == 3


def test_eokg_api_errors_map_back(eokg_url: str) -> None:
    with RemoteSparqlSource(eokg_url + "/sparql", timeout_s=10) as source:
        with pytest.raises(Unauthorized):
            source.update("CLEAR ALL")
        with pytest.raises(QueryError) as caught:
            source.query("SELECT * WHERE { ?s }")
        assert "1:" in caught.value.message  # the store parser's line:column
        with pytest.raises(QueryTimeout):
            source.query(HEAVY)


def test_eokg_api_in_front_of_a_remote_store(
    oxigraph: RemoteSparqlSource, oxigraph_url: str, data_file: Path, tmp_path: Path
) -> None:
    """backend = "sparql": the eokg endpoint serves another server's data."""
    import rdflib
    from fastapi.testclient import TestClient

    from eokg.api.app import create_app
    from eokg.config import load_settings
    from eokg.kg.open import open_source

    oxigraph.load([data_file], graph=GRAPH)
    settings = load_settings(
        data_dir=tmp_path,
        store={"backend": "sparql", "query_url": oxigraph_url + "/query"},
    )
    assert isinstance(open_source(settings.store), RemoteSparqlSource)
    client = TestClient(create_app(settings))
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}"
    response = client.get("/sparql", params={"query": construct})
    assert response.status_code == 200
    assert len(rdflib.Graph().parse(data=response.content, format="turtle")) == TRIPLES
    csv_rows = client.get(
        "/sparql", params={"query": "SELECT ?g WHERE { GRAPH ?g {} }", "format": "csv"}
    )
    assert csv_rows.text.splitlines() == ["g", GRAPH]
