"""Real SPARQL clients against ``eokg serve``'s endpoint on loopback: SPARQLWrapper
asks with ``format=`` aliases (json, xml, n3, csv, tsv) for SELECT and CONSTRUCT and
sends updates with the key; rdflib's ``SPARQLUpdateStore`` reads and writes a graph
through the endpoint as an rdflib ``Graph``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.server
SPARQLWrapper = pytest.importorskip("SPARQLWrapper")

DATA = """
<http://x/a> <http://x/p> "one" .
<http://x/b> <http://x/p> "two" .
"""
SELECT = "SELECT ?s ?o WHERE { ?s <http://x/p> ?o } ORDER BY ?s"
KEY = "clients-key"
CONSTRUCT = "CONSTRUCT { ?s <http://x/q> ?o } WHERE { ?s <http://x/p> ?o }"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from eokg.api.app import create_app
    from eokg.config import load_settings
    from eokg.kg.store import GeoStore

    tmp: Path = tmp_path_factory.mktemp("clients")
    data = tmp / "data.nt"
    data.write_text(DATA, encoding="utf-8")
    store = GeoStore()
    store.load([data])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(data_dir=tmp / "data")
    settings = settings.model_copy(
        update={"api": settings.api.model_copy(update={"api_key": KEY})}, deep=True
    )
    app = create_app(settings, store=store)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/sparql"
    server.should_exit = True
    thread.join(timeout=10)


def _ask(endpoint: str, query: str, fmt: str) -> Any:
    client = SPARQLWrapper.SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    return client.query().convert()


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_select_in_every_format(endpoint: str, fmt: str) -> None:
    converted = _ask(endpoint, SELECT, fmt)
    if fmt == "json":
        rows = converted["results"]["bindings"]
        assert [r["o"]["value"] for r in rows] == ["one", "two"]
    elif fmt == "xml":
        assert len(converted.getElementsByTagName("result")) == 2
    else:
        text = converted.decode() if isinstance(converted, bytes) else converted
        lines = [line for line in text.splitlines() if line]
        assert len(lines) == 3 and "one" in lines[1]


@pytest.mark.parametrize("fmt", ["n3", "turtle", "xml", "json-ld", "json"])
def test_construct_in_every_format(endpoint: str, fmt: str) -> None:
    import rdflib

    converted = _ask(endpoint, CONSTRUCT, fmt)
    if isinstance(converted, rdflib.Graph):
        graph = converted
    else:
        raw = converted.decode() if isinstance(converted, bytes) else converted
        graph = rdflib.Graph().parse(data=raw, format="json-ld" if "json" in fmt else "turtle")
    assert len(graph) == 2
    assert (
        rdflib.URIRef("http://x/a"),
        rdflib.URIRef("http://x/q"),
        rdflib.Literal("one"),
    ) in graph


def test_sparqlwrapper_sends_updates_with_the_key(endpoint: str) -> None:
    def update(text: str, key: str | None) -> Any:
        client = SPARQLWrapper.SPARQLWrapper(endpoint)
        client.setMethod(SPARQLWrapper.POST)
        client.setQuery(text)
        if key:
            client.addCustomHttpHeader("X-API-Key", key)
        return client.query()

    insert = 'INSERT DATA { GRAPH <urn:w> { <http://x/c> <http://x/p> "three" } }'
    from SPARQLWrapper.SPARQLExceptions import Unauthorized

    with pytest.raises(Unauthorized):
        update(insert, None)
    assert update(insert, KEY).response.status == 204
    rows = _ask(endpoint, "SELECT ?o WHERE { GRAPH <urn:w> { ?s ?p ?o } }", "json")
    assert [r["o"]["value"] for r in rows["results"]["bindings"]] == ["three"]
    update("DROP GRAPH <urn:w>", KEY)


def test_rdflib_sparql_update_store_reads_and_writes_a_graph(endpoint: str) -> None:
    import rdflib
    from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

    store = SPARQLUpdateStore(
        query_endpoint=endpoint, update_endpoint=endpoint, headers={"X-API-Key": KEY}
    )
    graph = rdflib.Graph(store, identifier=rdflib.URIRef("urn:rdflib"))
    s, p = rdflib.URIRef("http://x/r"), rdflib.URIRef("http://x/p")
    graph.add((s, p, rdflib.Literal("via rdflib", lang="en")))
    graph.add((s, p, rdflib.Literal(42)))
    assert len(graph) == 2
    assert set(graph.objects(s, p)) == {rdflib.Literal("via rdflib", lang="en"), rdflib.Literal(42)}
    graph.remove((s, p, rdflib.Literal(42)))
    answer = list(graph.query("SELECT ?o WHERE { ?s ?p ?o }"))
    assert [row[0] for row in answer] == [rdflib.Literal("via rdflib", lang="en")]
    store.update("DROP GRAPH <urn:rdflib>")
    store.close()
