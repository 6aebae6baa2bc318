"""SPARQL 1.1 Graph Store HTTP Protocol at ``/store``: the W3C test sequence
(``sparql11/http-rdf-update/tests.txt``) in order, on direct identification as the
suite writes it (``/store/person/1.ttl``), then indirect identification, the key,
atomic replacement and the spatial index following each write."""

from __future__ import annotations

from typing import Any

import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib.compare import isomorphic

KEY = "gsp-key"
HOST = "http://testserver"
TURTLE = {"Content-Type": "text/turtle"}
PREFIXES = (
    "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
    "@prefix v: <http://www.w3.org/2006/vcard/ns#> .\n"
)
GEO = "http://www.opengis.net/ont/geosparql#"


def _person(name: str, prop: str = "v:fn", subject: str = f"<{HOST}/person/1>") -> str:
    return PREFIXES + f'{subject} a foaf:Person; foaf:businessCard [ a v:VCard; {prop} "{name}" ] .'


@pytest.fixture
def make_client(settings: Any):
    from eokg.api.app import create_app
    from eokg.kg.store import GeoStore

    def make(key: str | None = KEY) -> TestClient:
        configured = settings.model_copy(
            update={"api": settings.api.model_copy(update={"api_key": key})}, deep=True
        )
        headers = {"X-API-Key": key} if key else {}
        return TestClient(create_app(configured, store=GeoStore()), headers=headers)

    return make


@pytest.fixture
def client(make_client: Any) -> TestClient:
    return make_client()


def _graph(response: Any) -> rdflib.Graph:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/turtle")
    return rdflib.Graph().parse(data=response.text, format="turtle")


def _same(response: Any, turtle: str) -> bool:
    return isomorphic(_graph(response), rdflib.Graph().parse(data=turtle, format="turtle"))


def test_the_w3c_sequence(client: TestClient) -> None:
    one, two = "/store/person/1.ttl", "/store/person/2.ttl"
    get = {"Accept": "text/turtle; charset=utf-8"}
    # PUT - initial state; GET of it
    assert client.put(one, content=_person("John Doe"), headers=TURTLE).status_code == 201
    assert _same(client.get(one, headers=get), _person("John Doe"))
    # PUT - graph already in store: replaced, not merged
    assert client.put(one, content=_person("Jane Doe"), headers=TURTLE).status_code == 204
    assert _same(client.get(one, headers=get), _person("Jane Doe"))
    # PUT - default graph
    alice = _person("Alice", "v:given-name", "[]")
    assert client.put("/store?default", content=alice, headers=TURTLE).status_code in (201, 204)
    assert _same(client.get("/store?default", headers=get), alice)
    # PUT - mismatched payload (Turtle sent as RDF/XML): 400, the graph unchanged
    mismatched = client.put(
        one, content=_person("Jim"), headers={"Content-Type": "application/rdf+xml"}
    )
    assert mismatched.status_code == 400
    assert _same(client.get(one, headers=get), _person("Jane Doe"))
    # PUT - empty graph; GET of it: the graph exists, empty
    assert client.put(two, content=b"", headers=TURTLE).status_code == 201
    assert len(_graph(client.get(two, headers=get))) == 0
    # DELETE - existing graph; GET of it; DELETE - non-existent graph
    assert client.delete(two).status_code in (200, 204)
    assert client.get(two).status_code == 404
    assert client.delete(two).status_code == 404
    # POST - existing graph: merged
    added = PREFIXES + f'<{HOST}/person/1> foaf:name "Jane Doe" .'
    assert client.post(one, content=added, headers=TURTLE).status_code in (200, 204)
    merged = rdflib.Graph().parse(data=_person("Jane Doe"), format="turtle")
    merged.parse(data=added, format="turtle")
    assert isomorphic(_graph(client.get(one, headers=get)), merged)
    # POST - multipart/form-data is not read: refused, nothing changed
    multipart = client.post(
        one,
        content=b"--x\r\n\r\n--x--",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert multipart.status_code == 415
    # POST - create new graph: 201 with its Location, which GET then reads
    created = client.post("/store", content=alice, headers=TURTLE)
    assert created.status_code == 201
    location = created.headers["location"]
    assert location.startswith(f"{HOST}/store/")
    new_path = location.removeprefix(HOST)
    assert _same(client.get(new_path, headers=get), alice)
    # POST - empty graph to existing graph: a no-op, 204
    assert client.post(new_path, content=b"", headers=TURTLE).status_code == 204
    assert _same(client.get(new_path, headers=get), alice)
    # HEAD on an existing graph, on a non-existing one
    head = client.head(one)
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/turtle")
    assert head.content == b""
    assert client.head(two).status_code == 404


def test_indirect_identification_names_any_graph(client: TestClient) -> None:
    graph = "urn:eokg:test:charts"
    params = {"graph": graph}
    put = client.put("/store", params=params, content=_person("Ann"), headers=TURTLE)
    assert put.status_code == 201
    ask = f"ASK {{ GRAPH <{graph}> {{ ?s <http://www.w3.org/2006/vcard/ns#fn> 'Ann' }} }}"
    found = client.get("/sparql", params={"query": ask})
    assert found.json()["boolean"] is True
    nt = client.get("/store", params=params, headers={"Accept": "application/n-triples"})
    assert nt.headers["content-type"].startswith("application/n-triples")
    assert len(nt.text.strip().splitlines()) == 4
    for bad in ({}, {"graph": graph, "default": ""}, {"graph": "not an iri"}):
        assert client.get("/store", params=bad).status_code == 400


def test_writes_need_the_key_and_reads_do_not(make_client: Any) -> None:
    client = make_client()
    assert client.put("/store?graph=urn:g", content=_person("A"), headers=TURTLE).status_code == 201
    anonymous = TestClient(client.app)
    assert anonymous.get("/store?graph=urn:g").status_code == 200
    for method in ("put", "post"):
        answer = getattr(anonymous, method)(
            "/store?graph=urn:g", content=_person("B"), headers=TURTLE
        )
        assert answer.status_code == 401
    assert anonymous.delete("/store?graph=urn:g").status_code == 401
    keyless = make_client(key=None)
    assert (
        keyless.put("/store?graph=urn:g", content=_person("A"), headers=TURTLE).status_code == 403
    )
    assert _same(client.get("/store?graph=urn:g"), _person("A"))


def test_a_bad_body_or_a_dataset_format_leaves_the_graph_as_it_was(client: TestClient) -> None:
    assert client.put("/store?graph=urn:g", content=_person("A"), headers=TURTLE).status_code == 201
    broken = _person("B") + "\n<urn:s> <urn:p> ."
    answer = client.put("/store?graph=urn:g", content=broken, headers=TURTLE)
    assert answer.status_code == 400 and answer.json()["instance"] == "body line 4"
    assert "/tmp" not in answer.text  # the server's temporary file is not named
    quads = client.put(
        "/store?graph=urn:g",
        content=b"<urn:s> <urn:p> <urn:o> <urn:h> .",
        headers={"Content-Type": "application/n-quads"},
    )
    assert quads.status_code == 415
    assert _same(client.get("/store?graph=urn:g"), _person("A"))


def test_the_spatial_index_follows_put_post_and_delete(client: TestClient) -> None:
    def feature(name: str, wkt: str) -> str:
        return (
            f"@prefix geo: <{GEO}> .\n<urn:f:{name}> geo:hasGeometry <urn:g:{name}> .\n"
            f'<urn:g:{name}> geo:asWKT "{wkt}"^^geo:wktLiteral .'
        )

    def inside(box: str) -> set[str]:
        query = (
            f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
            "SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w . "
            f'FILTER(geof:sfIntersects(?w, "{box}"^^geo:wktLiteral)) }}'
        )
        rows = client.get("/sparql", params={"query": query}).json()["results"]["bindings"]
        return {r["f"]["value"] for r in rows}

    north = "POLYGON((0 60, 10 60, 10 70, 0 70, 0 60))"
    south = "POLYGON((0 -70, 10 -70, 10 -60, 0 -60, 0 -70))"
    graph = "/store?graph=urn:charts"
    assert client.put(graph, content=feature("a", "POINT(5 65)"), headers=TURTLE).status_code == 201
    assert inside(north) == {"urn:f:a"}
    client.put(graph, content=feature("b", "POINT(5 -65)"), headers=TURTLE)  # replaces a
    assert inside(north) == set() and inside(south) == {"urn:f:b"}
    client.post(graph, content=feature("c", "POINT(6 66)"), headers=TURTLE)
    assert inside(north) == {"urn:f:c"} and inside(south) == {"urn:f:b"}
    assert client.delete(graph).status_code == 204
    assert inside(north) == inside(south) == set()


def test_a_remote_store_is_not_written_through_the_graph_store(
    settings: Any,
) -> None:
    from eokg.api.app import create_app
    from eokg.kg.remote import RemoteSparqlSource

    configured = settings.model_copy(
        update={"api": settings.api.model_copy(update={"api_key": KEY})}, deep=True
    )
    app = create_app(configured, store=RemoteSparqlSource("http://127.0.0.1:9/sparql"))
    answer = TestClient(app, headers={"X-API-Key": KEY}).put(
        "/store?default", content=_person("A"), headers=TURTLE
    )
    assert answer.status_code == 501
