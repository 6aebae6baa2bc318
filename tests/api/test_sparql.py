"""SPARQL 1.1 Protocol conformance of ``/sparql`` and the VoID document at ``/void``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest
import rdflib
from fastapi.testclient import TestClient

G1 = "https://example.org/graph/sea-ice"
G2 = "https://example.org/graph/crops"
GEO = "http://www.opengis.net/ont/geosparql#"
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
JSON_RESULTS = "application/sparql-results+json"

DATA = f"""
@prefix eo: <https://w3id.org/eokg/ontology#> .
@prefix geo: <{GEO}> .
@prefix ex: <https://example.org/ice/> .
@prefix crop: <https://example.org/crop/> .

<{G1}> {{
  ex:floe1 a eo:SeaIceFloe ; eo:label "floe, one" ; geo:hasGeometry ex:g1 .
  ex:g1 a geo:Geometry ; geo:asWKT "POLYGON((10 70, 12 70, 12 72, 10 72, 10 70))"^^geo:wktLiteral .
  ex:floe2 a eo:SeaIceFloe ; eo:label "floe\\ttwo"@en ; geo:hasGeometry ex:g2 .
  ex:g2 a geo:Geometry ; geo:asWKT "POINT(15 75)"^^geo:wktLiteral .
}}
<{G2}> {{
  crop:field1 a eo:Field ; eo:crop "wheat" ; eo:area 12.5 .
  crop:field2 a eo:Field ; eo:crop "maize" ; eo:area 3 .
}}
"""
ALL_TRIPLES = 16
HEAVY = (
    "SELECT (COUNT(*) AS ?n) WHERE { "
    + " ".join(f"VALUES ?{v} {{ {' '.join(str(i) for i in range(50))} }}" for v in "abcd")
    + " }"
)


def new_source(tmp_path: Path) -> Any:
    """The embedded GeoStore, in memory, holding ``DATA``."""
    from eokg.kg.store import GeoStore

    data = tmp_path / "data.trig"
    data.write_text(DATA, encoding="utf-8")
    source = GeoStore()
    source.load([data])
    return source


@pytest.fixture
def make_client(tmp_path: Path, settings: Any):
    def make(**api: Any) -> TestClient:
        from eokg.api.app import create_app

        configured = settings.model_copy(
            update={"api": settings.api.model_copy(update=api)}, deep=True
        )
        return TestClient(create_app(configured, store=new_source(tmp_path)))

    return make


@pytest.fixture
def client(make_client: Any) -> TestClient:
    return make_client()


def _solutions(response: Any, fmt: Any) -> list[dict[str, str]]:
    parsed = pyoxigraph.parse_query_results(response.content, fmt)
    names = [v.value for v in parsed.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in parsed]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


FIELDS = (
    "PREFIX eo: <https://w3id.org/eokg/ontology#> "
    f"SELECT ?f ?crop ?area WHERE {{ GRAPH <{G2}> {{ ?f eo:crop ?crop ; eo:area ?area }} }} "
    "ORDER BY ?crop"
)
EXPECTED_FIELDS = [
    {"f": "https://example.org/crop/field2", "crop": "maize", "area": "3"},
    {"f": "https://example.org/crop/field1", "crop": "wheat", "area": "12.5"},
]


# ---------------------------------------------------------------- query methods


def test_get_query_defaults_to_json_results(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": FIELDS})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON_RESULTS)
    assert _solutions(response, pyoxigraph.QueryResultsFormat.JSON) == EXPECTED_FIELDS


def test_post_form_query(client: TestClient) -> None:
    response = client.post("/sparql", data={"query": FIELDS})
    assert response.status_code == 200
    assert _solutions(response, pyoxigraph.QueryResultsFormat.JSON) == EXPECTED_FIELDS


def test_post_direct_query(client: TestClient) -> None:
    response = client.post(
        "/sparql",
        content=FIELDS.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": JSON_RESULTS},
    )
    assert response.status_code == 200
    assert _solutions(response, pyoxigraph.QueryResultsFormat.JSON) == EXPECTED_FIELDS


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("application/sparql-results+xml", pyoxigraph.QueryResultsFormat.XML),
        ("text/tab-separated-values", pyoxigraph.QueryResultsFormat.TSV),
        ("application/sparql-results+json", pyoxigraph.QueryResultsFormat.JSON),
    ],
)
def test_results_formats_parse_back(client: TestClient, accept: str, fmt: Any) -> None:
    response = client.get("/sparql", params={"query": FIELDS}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    assert _solutions(response, fmt) == EXPECTED_FIELDS


def test_csv_results_parse_back(client: TestClient) -> None:
    query = (
        "PREFIX eo: <https://w3id.org/eokg/ontology#> "
        f"SELECT ?label WHERE {{ GRAPH <{G1}> {{ ?x eo:label ?label }} }} ORDER BY ?label"
    )
    response = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["label"]
    assert sorted(rows[1:]) == sorted([["floe, one"], ["floe\ttwo"]])


def test_tsv_escapes_tabs_and_keeps_language(client: TestClient) -> None:
    query = (
        "PREFIX eo: <https://w3id.org/eokg/ontology#> "
        f"SELECT ?label WHERE {{ GRAPH <{G1}> {{ ?x eo:label ?label "
        'FILTER(lang(?label) = "en") } }'
    )
    response = client.get("/sparql", params={"query": query, "format": "tsv"})
    lines = response.text.splitlines()
    assert lines[0] == "?label"
    assert len(lines) == 2 and lines[1].endswith("@en")
    (row,) = pyoxigraph.parse_query_results(response.content, pyoxigraph.QueryResultsFormat.TSV)
    assert row["label"].value == "floe\ttwo" and row["label"].language == "en"


def test_ask(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": f"ASK {{ GRAPH <{G2}> {{ ?s ?p ?o }} }}"})
    assert response.status_code == 200
    assert response.json() == {"head": {}, "boolean": True}
    xml = client.get(
        "/sparql",
        params={"query": "ASK { <urn:x> <urn:y> <urn:z> }"},
        headers={"Accept": "application/sparql-results+xml"},
    )
    assert (
        bool(pyoxigraph.parse_query_results(xml.content, pyoxigraph.QueryResultsFormat.XML))
        is False
    )


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [
        (None, "turtle"),
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
    ],
)
def test_construct_formats(client: TestClient, accept: str | None, rdflib_format: str) -> None:
    query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{G1}> {{ ?s ?p ?o }} }}"
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", params={"query": query}, headers=headers)
    assert response.status_code == 200
    expected_type = accept or "text/turtle"
    assert response.headers["content-type"].startswith(expected_type)
    graph = rdflib.Graph().parse(data=response.content, format=rdflib_format)
    assert len(graph) == 10
    assert (None, rdflib.URIRef(GEO + "asWKT"), None) in graph


def test_describe(client: TestClient) -> None:
    response = client.get(
        "/sparql",
        params={"query": "DESCRIBE <https://example.org/crop/field1>", "named-graph-uri": G2},
        headers={"Accept": "application/n-triples"},
    )
    assert response.status_code == 200


def test_default_and_named_graph_parameters(client: TestClient) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    response = client.get("/sparql", params={"query": query, "default-graph-uri": G2})
    assert _solutions(response, pyoxigraph.QueryResultsFormat.JSON) == [{"n": "6"}]
    both = client.post("/sparql", data={"query": query, "default-graph-uri": [G1, G2]})
    assert _solutions(both, pyoxigraph.QueryResultsFormat.JSON) == [{"n": str(ALL_TRIPLES)}]
    named = client.post(
        "/sparql?named-graph-uri=" + G1,
        content=b"SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
        headers={"Content-Type": "application/sparql-query"},
    )
    assert _solutions(named, pyoxigraph.QueryResultsFormat.JSON) == [{"g": G1}]


def test_union_default_graph_can_be_switched_off(make_client: Any) -> None:
    """store.union_default_graph=false: plain SPARQL 1.1, the default graph is its own."""
    client = make_client()
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    union = client.get("/sparql", params={"query": query})
    assert _solutions(union, pyoxigraph.QueryResultsFormat.JSON) == [{"n": str(ALL_TRIPLES)}]
    client.app.state.settings.store.union_default_graph = False  # type: ignore[attr-defined]
    own = client.get("/sparql", params={"query": query})
    assert _solutions(own, pyoxigraph.QueryResultsFormat.JSON) == [{"n": "0"}]
    named = client.get("/sparql", params={"query": query, "default-graph-uri": G2})
    assert _solutions(named, pyoxigraph.QueryResultsFormat.JSON) == [{"n": "6"}]


def test_large_result_streams_past_the_first_page(make_client: Any) -> None:
    client = make_client()
    client.app.state.settings.store.page_size = 7  # type: ignore[attr-defined]
    values = " ".join(str(i) for i in range(2000))
    query = f"SELECT ?i WHERE {{ VALUES ?i {{ {values} }} }}"
    response = client.post("/sparql", data={"query": query}, headers={"Accept": JSON_RESULTS})
    assert response.status_code == 200
    rows = response.json()["results"]["bindings"]
    assert [int(r["i"]["value"]) for r in rows] == list(range(2000))


# ---------------------------------------------------------------- errors


def test_unsupported_accept_is_406(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": FIELDS}, headers={"Accept": "image/png"})
    _problem(response, 406)
    construct = client.get(
        "/sparql",
        params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
        headers={"Accept": "text/csv"},
    )
    body = _problem(construct, 406)
    assert "text/turtle" in body["detail"]


def test_malformed_query_is_400_with_parser_message(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": "SELECT ?s WHERE { ?s ?p }"})
    body = _problem(response, 400)
    assert body["code"] == "bad-query"
    assert "1:" in body["detail"]  # the parser's line:column


def test_bad_requests(client: TestClient) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    _problem(client.post("/sparql", content=b"", headers=form), 400)
    _problem(client.post("/sparql", data={"query": "ASK {}", "update": "CLEAR ALL"}), 400)
    _problem(client.get("/sparql", params={"query": ["ASK {}", "ASK {}"]}), 400)
    _problem(client.get("/sparql", params={"update": "CLEAR ALL"}), 400)
    wrong_type = client.post("/sparql", content=b"ASK {}", headers={"Content-Type": "text/plain"})
    _problem(wrong_type, 415)


def test_oversized_request_is_413(make_client: Any) -> None:
    client = make_client(max_request_bytes=200)
    padding = "#" + "x" * 400 + "\n"
    body = _problem(client.post("/sparql", data={"query": padding + "ASK {}"}), 413)
    assert body["code"] == "request-too-large"
    direct = client.post(
        "/sparql",
        content=(padding + "ASK {}").encode(),
        headers={"Content-Type": "application/sparql-query"},
    )
    _problem(direct, 413)
    _problem(client.get("/sparql", params={"query": padding + "ASK {}"}), 413)
    assert client.post("/sparql", data={"query": "ASK {}"}).status_code == 200


def test_slow_query_times_out_with_503(make_client: Any) -> None:
    client = make_client(query_timeout_s=0.02)
    body = _problem(client.get("/sparql", params={"query": HEAVY}), 503)
    assert body["code"] == "query-timeout"


def test_max_results_is_enforced(make_client: Any) -> None:
    client = make_client(max_results=3)
    query = f"SELECT ?s ?p ?o WHERE {{ GRAPH <{G1}> {{ ?s ?p ?o }} }}"
    body = _problem(client.get("/sparql", params={"query": query}), 413)
    assert body["code"] == "result-too-large"
    limited = client.get("/sparql", params={"query": query + " LIMIT 3"})
    assert len(limited.json()["results"]["bindings"]) == 3
    # The default graph is the union of all graphs, so an unbounded CONSTRUCT is capped too.
    construct = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert _problem(construct, 413)["code"] == "result-too-large"
    bounded = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 3"})
    assert bounded.status_code == 200


# ---------------------------------------------------------------- updates


INSERT = f'INSERT DATA {{ GRAPH <{G2}> {{ <https://example.org/crop/field3> <urn:p> "new" }} }}'


def _count(client: TestClient, graph: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    return int(
        client.get("/sparql", params={"query": query}).json()["results"]["bindings"][0]["n"][
            "value"
        ]
    )


def test_update_is_refused_when_no_key_is_configured(client: TestClient) -> None:
    response = client.post(
        "/sparql", content=INSERT.encode(), headers={"Content-Type": "application/sparql-update"}
    )
    body = _problem(response, 403)
    assert "api_key" in body["detail"]
    assert _count(client, G2) == 6


def test_update_needs_the_key(make_client: Any) -> None:
    client = make_client(api_key="s3cret")
    headers = {"Content-Type": "application/sparql-update"}
    _problem(client.post("/sparql", content=INSERT.encode(), headers=headers), 401)
    wrong = {**headers, "Authorization": "Bearer nope"}
    _problem(client.post("/sparql", content=INSERT.encode(), headers=wrong), 401)
    assert _count(client, G2) == 6

    ok = client.post(
        "/sparql", content=INSERT.encode(), headers={**headers, "Authorization": "Bearer s3cret"}
    )
    assert ok.status_code == 204
    assert _count(client, G2) == 7

    form = client.post(
        "/sparql", data={"update": f"CLEAR GRAPH <{G2}>"}, headers={"X-API-Key": "s3cret"}
    )
    assert form.status_code == 204
    assert _count(client, G2) == 0


def test_update_dataset_from_the_protocol(make_client: Any) -> None:
    """using-graph-uri / using-named-graph-uri act as USING / USING NAMED (Protocol
    2.2.3): the WHERE part sees only those graphs; with USING or WITH in the request
    too, 400 and nothing changes."""
    client = make_client(api_key="k")
    headers = {"Content-Type": "application/sparql-update", "X-API-Key": "k"}
    copy = "INSERT { GRAPH <urn:copy> { ?s ?p ?o } } WHERE { ?s ?p ?o }"
    ok = client.post("/sparql", params={"using-graph-uri": G2}, content=copy, headers=headers)
    assert ok.status_code == 204, ok.text
    assert _count(client, "urn:copy") == _count(client, G2) == 6

    named = "INSERT { GRAPH <urn:names> { ?s <urn:in> ?g } } WHERE { GRAPH ?g { ?s ?p ?o } }"
    form = client.post(
        "/sparql",
        data={"update": named, "using-named-graph-uri": G1},
        headers={"X-API-Key": "k"},
    )
    assert form.status_code == 204, form.text
    graphs = client.get(
        "/sparql", params={"query": "SELECT DISTINCT ?g WHERE { GRAPH <urn:names> { ?s ?p ?g } }"}
    ).json()["results"]["bindings"]
    assert [b["g"]["value"] for b in graphs] == [G1]

    delete_where = f"DELETE WHERE {{ GRAPH <{G2}> {{ ?s <urn:p> ?o }} }}"
    client.post("/sparql", content=INSERT.encode(), headers=headers)
    assert _count(client, G2) == 7
    elsewhere = client.post(
        "/sparql", params={"using-graph-uri": G1}, content=delete_where, headers=headers
    )
    assert elsewhere.status_code == 204
    assert _count(client, G2) == 7  # DELETE WHERE's pattern was matched in G1 only

    own = f"WITH <{G2}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"
    body = _problem(
        client.post("/sparql", params={"using-graph-uri": G1}, content=own, headers=headers), 400
    )
    assert "using-graph-uri" in body["detail"]
    assert _count(client, G2) == 7


def test_malformed_update_is_400(make_client: Any) -> None:
    client = make_client(api_key="k")
    response = client.post(
        "/sparql",
        content=b"INSERT DATA { <a> <b> }",
        headers={"Content-Type": "application/sparql-update", "X-API-Key": "k"},
    )
    _problem(response, 400)


# ---------------------------------------------------------------- description


def _description(response: Any) -> rdflib.Graph:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/turtle")
    return rdflib.Graph().parse(data=response.content, format="turtle")


def test_service_description_and_void(client: TestClient) -> None:
    for response in (
        client.get("/sparql", headers={"Accept": "text/turtle"}),
        client.get("/void"),
    ):
        graph = _description(response)
        service = rdflib.URIRef("http://testserver/sparql")
        assert (service, rdflib.RDF.type, rdflib.URIRef(SD + "Service")) in graph
        names = set(graph.objects(None, rdflib.URIRef(SD + "name")))
        assert names == {rdflib.URIRef(G1), rdflib.URIRef(G2)}
        rows = graph.query(
            """
            PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>
            PREFIX void: <http://rdfs.org/ns/void#>
            SELECT ?name ?triples WHERE { ?g sd:name ?name ; void:triples ?triples }
            """
        )
        counts = {str(name): int(triples) for name, triples in rows}
        assert counts == {G1: 10, G2: 6}
        conformance = rdflib.URIRef("http://www.opengis.net/spec/geosparql/1.1/conf/core")
        assert (service, rdflib.DCTERMS.conformsTo, conformance) in graph
        intersects = rdflib.URIRef("http://www.opengis.net/def/function/geosparql/sfIntersects")
        assert (service, rdflib.URIRef(SD + "extensionFunction"), intersects) in graph
        assert (service, rdflib.URIRef(SD + "supportedLanguage"), None) in graph


def test_void_lists_classes_properties_spaces_and_extent(client: TestClient) -> None:
    graph = _description(client.get("/void"))
    rows = graph.query(
        f"""
        PREFIX sd: <{SD}>
        PREFIX void: <{VOID}>
        PREFIX geo: <{GEO}>
        SELECT ?space ?wkt WHERE {{
            ?g sd:name <{G1}> ; void:uriSpace ?space ;
               geo:hasBoundingBox/geo:asWKT ?wkt .
        }}
        """
    )
    ((space, wkt),) = list(rows)
    assert str(space) == "https://example.org/ice/"
    assert wkt.datatype == rdflib.URIRef(GEO + "wktLiteral")
    import shapely

    assert shapely.from_wkt(str(wkt)).bounds == (10.0, 70.0, 15.0, 75.0)

    classes = graph.query(
        f"""
        PREFIX sd: <{SD}>
        PREFIX void: <{VOID}>
        SELECT ?class ?n WHERE {{
            ?g sd:name <{G2}> ; void:classPartition [ void:class ?class ; void:entities ?n ] }}
        """
    )
    assert {(str(c), int(n)) for c, n in classes} == {("https://w3id.org/eokg/ontology#Field", 2)}
    properties = {
        str(p)
        for p in graph.query(
            f"""
            PREFIX sd: <{SD}>
            PREFIX void: <{VOID}>
            SELECT ?p WHERE {{ ?g sd:name <{G2}> ; void:propertyPartition/void:property ?p }}
            """
        )
        for p in p
    }
    assert "https://w3id.org/eokg/ontology#crop" in properties


def test_description_in_other_formats_and_page(client: TestClient) -> None:
    nt = client.get("/void", headers={"Accept": "application/n-triples"})
    assert nt.headers["content-type"].startswith("application/n-triples")
    assert len(rdflib.Graph().parse(data=nt.content, format="nt")) > 10
    jsonld = client.get("/void", headers={"Accept": "application/ld+json"})
    assert isinstance(json.loads(jsonld.content), list | dict)
    _problem(client.get("/void", headers={"Accept": "image/png"}), 406)

    page = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<textarea" in page.text and "fetch(" in page.text
    assert "<script src" not in page.text and "<link" not in page.text  # nothing fetched


def test_description_sees_updates(make_client: Any) -> None:
    client = make_client(api_key="k")
    before = _description(client.get("/void"))
    new_graph = "https://example.org/graph/new"
    client.post(
        "/sparql",
        data={"update": f"INSERT DATA {{ GRAPH <{new_graph}> {{ <urn:a> <urn:b> <urn:c> }} }}"},
        headers={"X-API-Key": "k"},
    )
    after = _description(client.get("/void"))
    assert (None, rdflib.URIRef(SD + "name"), rdflib.URIRef(new_graph)) not in before
    assert (None, rdflib.URIRef(SD + "name"), rdflib.URIRef(new_graph)) in after
    feature = rdflib.URIRef(SD + "supportedLanguage")
    assert (None, feature, rdflib.URIRef(SD + "SPARQL11Update")) in after


def test_limit_hit_after_the_first_page_aborts_the_stream(make_client: Any) -> None:
    """Past the first page the status is sent: the only honest signal left is to cut
    the response short, never to end it as if the result were complete."""
    from eokg.errors import ResultTooLarge

    client = make_client(max_results=50)
    client.app.state.settings.store.page_size = 10  # type: ignore[attr-defined]
    values = " ".join(str(i) for i in range(100))
    query = f"SELECT ?i WHERE {{ VALUES ?i {{ {values} }} }}"
    # Starlette reports the error (which a real server turns into a dropped
    # connection) as "response already started", caused by ours.
    with pytest.raises(Exception) as caught:
        client.get("/sparql", params={"query": query})
    error: BaseException | None = caught.value
    while error is not None and not isinstance(error, ResultTooLarge):
        error = error.__cause__
    assert isinstance(error, ResultTooLarge)


def test_setup_opens_the_configured_store(settings: Any) -> None:
    from eokg.api.app import create_app
    from eokg.kg.store import GeoStore

    app = create_app(settings)
    assert isinstance(app.state.store, GeoStore)
    response = TestClient(app).get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert response.json()["boolean"] is False


# ------------------------------------------------------------------ planner over HTTP

SPATIAL = (
    f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
    "SELECT ?f WHERE { ?f geo:hasGeometry/geo:asWKT ?w "
    "FILTER(geof:sfIntersects(?w, 'POLYGON((9 69, 13 69, 13 73, 9 73, 9 69))'^^geo:wktLiteral)) }"
)


def test_explain_by_get_and_post(client: TestClient) -> None:
    for response in (
        client.get("/sparql", params={"query": SPATIAL, "explain": "true"}),
        client.post("/sparql", data={"query": SPATIAL, "explain": "1"}),
    ):
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["rows"] == 1 and report["rewritten"]
        (step,) = [s for s in report["steps"] if s["kind"] != "entailment"]
        assert step["kind"] == "selection" and step["used_index"]
        assert step["candidates"] == {"w": 1}


def test_spatial_query_in_path_form_answers(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": SPATIAL}, headers={"Accept": JSON_RESULTS})
    rows = _solutions(response, pyoxigraph.QueryResultsFormat.JSON)
    assert rows == [{"f": "https://example.org/ice/floe1"}]


@pytest.mark.parametrize("depth", [100, 5000, 50000])
def test_deeply_nested_query_is_400_and_the_server_lives(client: TestClient, depth: int) -> None:
    deep = "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * depth + "1" + ")" * depth + ") }"
    body = _problem(client.post("/sparql", data={"query": deep}), 400)
    assert "nested" in body["detail"]
    deep_update = "INSERT { <a:b> <a:c> " + "(" * depth + " ) } WHERE {}"
    _problem(client.post("/sparql", data={"update": deep_update}), 400)
    assert client.get("/sparql", params={"query": "ASK {}"}).status_code == 200


def test_results_are_freed_on_the_thread_that_made_them(tmp_path: Path) -> None:
    """pyoxigraph results must die on their worker thread.  rdflib's parser (its first
    import, its packrat cache) keeps tracebacks of the frames that were live while it
    parsed; a result held by one of those frames was freed later by the garbage
    collector on another thread: "PyQuerySolutions is unsendable, but is being dropped
    on another thread".  A fresh interpreter, so the parser is imported on the worker."""
    import subprocess
    import sys

    script = f"""
import gc
from fastapi.testclient import TestClient
from eokg.api.app import create_app
from eokg.config import load_settings
from eokg.kg.store import GeoStore
client = TestClient(create_app(load_settings(data_dir={str(tmp_path)!r}), store=GeoStore()))
query = ("PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
         "SELECT ?f WHERE {{ ?f geo:hasGeometry/geo:asWKT ?w . FILTER(geof:sfIntersects(?w, "
         "'POINT(1 2)'^^geo:wktLiteral)) }}")
assert client.get("/sparql", params={{"query": query}}).status_code == 200
gc.collect()
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "unsendable" not in run.stderr
