"""``/federation/sparql`` (protocol, explain, partial answers) and ``/search/semantic``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eokg.kg.federation.testbed import oxigraph_binary

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(oxigraph_binary() is None, reason="the 'oxigraph' server binary is missing"),
]

JSON_RESULTS = "application/sparql-results+json"
ICE = "https://w3id.org/eokg/concept/seaice/"
PREFIXES = """PREFIX eo: <https://w3id.org/eokg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
"""
JOIN = (
    PREFIXES
    + "SELECT ?p ?label WHERE { ?p a eo:Product ; eo:acquiredOver ?a . ?a rdfs:label ?label }"
)
LOCAL_LABELS = f"""
@prefix eo: <https://w3id.org/eokg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
<https://example.org/label/1> a eo:Label ; eo:labelClass <{ICE}nilas> ; rdfs:label "nilas patch" ;
    geo:hasGeometry <https://example.org/label/1/g> .
<https://example.org/label/1/g> geo:asWKT "POINT(12 77)"^^geo:wktLiteral .
<https://example.org/label/2> a eo:Label ; eo:labelClass <{ICE}open-water> ;
    geo:hasGeometry <https://example.org/label/2/g> .
<https://example.org/label/2/g> geo:asWKT "POINT(12 77.5)"^^geo:wktLiteral .
"""


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from eokg.kg.federation.testbed import OxigraphServer, sample_partitions, void_turtle
    from eokg.kg.store import GeoStore

    folder = tmp_path_factory.mktemp("fedapi")
    parts = sample_partitions()
    servers = {}
    union = GeoStore()
    try:
        for name in ("products", "icecharts"):
            server = OxigraphServer(name)
            servers[name] = server
            graph = f"https://example.org/graph/{name}"
            server.load(parts[name], graph)
            (folder / f"{name}.void.ttl").write_text(
                void_turtle(parts[name], server.query_url, graph), encoding="utf-8"
            )
        for name, text in [*parts.items(), ("labels", LOCAL_LABELS)]:
            (folder / f"{name}.ttl").write_text(text, encoding="utf-8")
        union.load([folder / f"{n}.ttl" for n in (*parts, "labels")])
        yield {"servers": servers, "folder": folder, "union": union}
    finally:
        for server in servers.values():
            server.stop()


def make_client(testbed: Any, settings: Any, *, extra: list[dict[str, Any]] = (), mode="error"):
    from eokg.api.app import create_app
    from eokg.catalog.concepts import ConceptScheme
    from eokg.catalog.samples import SKOS_TTL, make_items
    from eokg.catalog.sqlite_index import SqliteIndex
    from eokg.config import FederationSettings, FederationSource
    from eokg.kg.store import GeoStore

    folder: Path = testbed["folder"]
    sources = [
        FederationSource(
            name=name,
            url=server.query_url,
            void_url=str(folder / f"{name}.void.ttl"),
            timeout_s=5.0,
        )
        for name, server in testbed["servers"].items()
    ] + [FederationSource(**e) for e in extra]
    settings = settings.model_copy(
        update={"federation": FederationSettings(sources=sources, on_source_failure=mode)}
    )
    store = GeoStore()
    store.load([folder / "admin.ttl", folder / "labels.ttl"])
    scheme = ConceptScheme.from_turtle(SKOS_TTL)
    index = SqliteIndex(None, concepts=scheme)
    index.add_collection(
        {
            "type": "Collection",
            "id": "sentinel-1-grd",
            "stac_version": "1.1.0",
            "description": "S1",
            "license": "proprietary",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
            "links": [],
        }
    )
    report = index.upsert_items(make_items(40))
    assert report.failed == 0, report.failures[:2]
    app = create_app(settings, store=store, catalog=index, concepts=scheme)
    return TestClient(app)


def rows(body: dict[str, Any]) -> Counter:
    return Counter(
        tuple(sorted((k, v["value"]) for k, v in b.items())) for b in body["results"]["bindings"]
    )


def reference(testbed: Any, query: str) -> Counter:
    result = testbed["union"].query(query)
    names = [v.value for v in result.variables]
    out = Counter(tuple(sorted((n, s[n].value) for n in names if s[n] is not None)) for s in result)
    del result
    return out


def test_get_and_post_answer_like_one_store(testbed: Any, settings: Any) -> None:
    client = make_client(testbed, settings)
    expected = reference(testbed, JOIN)
    got = client.get("/federation/sparql", params={"query": JOIN}, headers={"Accept": JSON_RESULTS})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith(JSON_RESULTS)
    assert "x-eokg-partial" not in got.headers
    assert rows(got.json()) == expected
    form = client.post("/federation/sparql", data={"query": JOIN})
    assert rows(form.json()) == expected
    direct = client.post(
        "/federation/sparql",
        content=JOIN,
        headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"},
    )
    assert direct.headers["content-type"].startswith("text/csv")
    assert len(direct.text.strip().splitlines()) == sum(expected.values()) + 1


def test_ask_and_negotiation(testbed: Any, settings: Any) -> None:
    client = make_client(testbed, settings)
    ask = PREFIXES + "ASK { ?p eo:covers ?c . ?c eo:stageOfDevelopment ?s }"
    got = client.get("/federation/sparql", params={"query": ask, "format": "xml"})
    assert got.status_code == 200
    assert "<boolean>true</boolean>" in got.text
    refused = client.get(
        "/federation/sparql", params={"query": ask}, headers={"Accept": "image/png"}
    )
    assert refused.status_code == 406


def test_bad_query_is_400(testbed: Any, settings: Any) -> None:
    client = make_client(testbed, settings)
    got = client.get("/federation/sparql", params={"query": "SELECT ?x WHERE { ?x"})
    assert got.status_code == 400
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["code"] == "bad-query"
    assert (
        client.post(
            "/federation/sparql", content=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )


def test_explain_plan_and_run(testbed: Any, settings: Any) -> None:
    client = make_client(testbed, settings)
    plan = client.get("/federation/sparql", params={"query": JOIN, "explain": "true"}).json()
    assert plan["executed"] is False
    assert set(plan["sources"]) == {"local", "products", "icecharts"}
    label = next(p for p in plan["blocks"][0]["patterns"] if "label" in p["pattern"])
    assert set(label["sources"]) == {"local", "products"}
    ran = client.get("/federation/sparql", params={"query": JOIN, "explain": "run"}).json()
    assert ran["executed"] is True
    assert ran["stats"]["products"]["requests"] >= 1
    assert ran["stats"]["icecharts"]["requests"] == 0


def test_partial_answer_is_flagged(testbed: Any, settings: Any) -> None:
    from eokg.kg.federation.testbed import free_port

    dead = {"name": "dead", "url": f"http://127.0.0.1:{free_port()}/query", "timeout_s": 1.0}
    client = make_client(testbed, settings, extra=[dead], mode="partial")
    got = client.get("/federation/sparql", params={"query": JOIN}, headers={"Accept": JSON_RESULTS})
    assert got.status_code == 200
    assert got.headers["x-eokg-partial"] == "dead"
    body = got.json()
    assert body["eokg:partial"]["sources"] == ["dead"]
    assert rows(body) == reference(testbed, JOIN)
    strict = make_client(testbed, settings, extra=[dead], mode="error")
    failed = strict.get("/federation/sparql", params={"query": JOIN})
    assert failed.status_code == 502
    problem = failed.json()
    assert problem["source"] == "dead" and dead["url"] in problem["url"]


# ---------------------------------------------------------------------- semantic search


def test_semantic_search_merges_catalogue_and_graph(testbed: Any, settings: Any) -> None:
    client = make_client(testbed, settings)
    got = client.get("/search/semantic", params={"concept": ICE + "new-ice", "limit": 200})
    assert got.status_code == 200, got.text
    body = got.json()
    sources = set(body["sources"])
    assert "catalog" in sources and "federation:icecharts" in sources and "graph:local" in sources
    assert body["query"]["expanded"][ICE + "nilas"]["depth"] == 1
    by_id = {h["id"]: h for h in body["hits"]}
    local = by_id["https://example.org/label/1"]
    assert local["sources"] == ["graph:local"]
    assert local["why"][0]["via"] == ICE + "nilas" and local["why"][0]["depth"] == 1
    assert "https://example.org/label/2" not in by_id  # open water is not new ice
    charts = [h for h in body["hits"] if h["sources"] == ["federation:icecharts"]]
    assert charts and all(h["why"][0]["property"].endswith("stageOfDevelopment") for h in charts)
    exact = [h for h in charts if h["why"][0]["via"] == ICE + "new-ice"]
    narrower = [h for h in charts if h["why"][0]["via"] == ICE + "nilas"]
    assert exact and narrower
    assert min(h["score_parts"]["concept"] for h in exact) > max(
        h["score_parts"]["concept"] for h in narrower
    )
    items = [h for h in body["hits"] if h["kind"] == "item"]
    assert items and all(h["why"] for h in items)
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    # the graph side equals the same query on one store holding everything
    from eokg.api.search import SemanticQuery, expand, graph_sparql

    request = SemanticQuery(concepts=[ICE + "new-ice"])
    expansion = expand(client.app.state.concepts, request)
    expected = {dict(key)["f"] for key in reference(testbed, graph_sparql(request, expansion))}
    assert {h["id"] for h in body["hits"] if h["kind"] == "feature"} == expected


def test_semantic_search_free_text_and_bbox(testbed: Any, settings: Any) -> None:
    client = make_client(testbed, settings)
    got = client.post(
        "/search/semantic",
        json={"q": "nilas", "bbox": [11, 76, 13, 78], "limit": 50},
    )
    assert got.status_code == 200, got.text
    body = got.json()
    ids = {h["id"] for h in body["hits"]}
    assert "https://example.org/label/1" in ids
    for hit in body["hits"]:
        if hit["kind"] == "feature":
            assert hit["why"][0]["requested_as"] == "text"
    assert client.get("/search/semantic").status_code == 400
    assert client.get("/search/semantic", params={"q": "x", "bbox": "1,2"}).status_code == 400


@pytest.mark.parametrize(
    "bbox",
    ["nan,1,2,3", "1,2,inf,3", "-200,10,10,20", "10,80,20,95", "10,50,20,40"],
)
def test_semantic_search_refuses_bad_boxes(testbed: Any, settings: Any, bbox: str) -> None:
    client = make_client(testbed, settings)
    got = client.get("/search/semantic", params={"q": "nilas", "bbox": bbox})
    assert got.status_code == 400, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["instance"] == "bbox"
    values = [float(v) for v in bbox.split(",")]
    posted = client.post("/search/semantic", content=json.dumps({"q": "x", "bbox": values}))
    assert posted.status_code == 400, posted.text


def test_semantic_search_post_body_is_limited(testbed: Any, settings: Any) -> None:
    small = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_request_bytes": 1000})}, deep=True
    )
    client = make_client(testbed, small)
    got = client.post("/search/semantic", json={"q": "x" * 5000})
    assert got.status_code == 413, got.text
    assert got.json()["instance"] == "/search/semantic"
    three_d = client.post("/search/semantic", json={"q": "nilas", "bbox": [11, 76, 0, 13, 78, 9]})
    assert three_d.status_code == 200, three_d.text
