"""Security audit of the HTTP API: each test attacks the running app.

Most go through FastAPI's test client with ``raise_server_exceptions=False``, so a
bug shows as the 500 a client would get.  Requests that used to kill the server
process (a stack overflow in GEOS) go to a real uvicorn server on loopback, so the
test sees what a client sees: an answer, or a dropped connection and a dead server.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.samples import SKOS_TTL, make_items
from eokg.catalog.sqlite_index import SqliteIndex

KEY = "k3y-never-shown"
PROBLEM = "application/problem+json"
GEO = "http://www.opengis.net/ont/geosparql#"
GEOF = "http://www.opengis.net/def/function/geosparql/"
ICE = "https://w3id.org/eokg/concept/seaice/"


def _settings(tmp_path: Path, **api: Any) -> Any:
    from eokg.config import load_settings

    return load_settings(data_dir=tmp_path / "data", api={"api_key": KEY, **api})


def _client(settings: Any, **state: Any) -> TestClient:
    from eokg.api.app import create_app

    if "catalog" not in state:
        index = SqliteIndex(None, concepts=ConceptScheme.from_turtle(SKOS_TTL))
        index.upsert_items(make_items(12, seed=3))
        state["catalog"] = index
    return TestClient(create_app(settings, **state), raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return _client(_settings(tmp_path))


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


# -- 1. static files: /browser ---------------------------------------------------------
@pytest.fixture
def browser(tmp_path: Path) -> TestClient:
    build = tmp_path / "build"
    (build / "js").mkdir(parents=True)
    (build / "index.html").write_text("<html>index</html>")
    (build / "js" / "app.js").write_text("app")
    (tmp_path / "secret.txt").write_text("secret")
    (build / "escape").symlink_to(tmp_path / "secret.txt")
    (build / "escape-dir").symlink_to(tmp_path)
    return _client(_settings(tmp_path, browser_dir=build))


@pytest.mark.parametrize(
    "path",
    [
        "/browser/%00",  # was a 500: ValueError (embedded null byte) from Path.resolve
        "/browser/js/app.js%00.png",
        "/browser/" + "a" * 5000,  # was a 500: OSError ENAMETOOLONG from is_file
        "/browser/" + "/".join(["b" * 255] * 20),
    ],
)
def test_browser_nul_bytes_and_overlong_names_are_not_a_500(browser: TestClient, path: str):
    response = browser.get(path)
    assert response.status_code == 200, response.text
    assert response.text == "<html>index</html>"


@pytest.mark.parametrize(
    "path",
    [
        "/browser/..%2fsecret.txt",
        "/browser/..%2F..%2Fsecret.txt",
        "/browser/js%2f..%2f..%2fsecret.txt",
        "/browser/..%5csecret.txt",
        "/browser/..\\secret.txt",
        "/browser/%2e%2e/secret.txt",
        "/browser//etc/passwd",
        "/browser/%2fetc%2fpasswd",
        "/browser/escape",  # a symlink in the build pointing outside it
        "/browser/escape-dir/secret.txt",
    ],
)
def test_browser_never_serves_a_file_outside_its_build(browser: TestClient, path: str):
    response = browser.get(path)
    assert response.status_code in (200, 404), response.text
    assert "secret" not in response.text and "root:" not in response.text


# -- 2. CORS ------------------------------------------------------------------------------
ROUTES = [
    ("GET", "/sparql"),
    ("POST", "/sparql"),
    ("GET", "/federation/sparql"),
    ("POST", "/federation/sparql"),
    ("GET", "/stac/search"),
    ("POST", "/stac/search"),
    ("POST", "/stac/aggregate"),
    ("GET", "/stac/collections"),
    ("GET", "/search/semantic"),
    ("POST", "/search/semantic"),
    ("GET", "/browser/"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_cors_preflight_never_allows_credentials_or_the_key(
    client: TestClient, method: str, path: str
):
    origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": method}
    plain = client.options(path, headers=origin)
    assert plain.headers.get("access-control-allow-credentials") is None
    for header in ("X-API-Key", "Authorization", "content-type, authorization"):
        asked = client.options(path, headers={**origin, "Access-Control-Request-Headers": header})
        assert "access-control-allow-origin" not in asked.headers, header


def test_cross_origin_update_gets_no_cors_and_needs_the_key(client: TestClient):
    origin = {"Origin": "https://evil.example"}
    update = "INSERT DATA { <urn:a> <urn:b> <urn:c> }"
    direct = client.post(
        "/sparql", content=update, headers={**origin, "Content-Type": "application/sparql-update"}
    )
    assert direct.status_code == 401
    assert "access-control-allow-origin" not in direct.headers
    # a form is a "simple" request a page may send without a preflight: no key, no write
    form = client.post("/sparql", data={"update": update}, headers=origin)
    assert form.status_code == 401
    keyed = client.post(
        "/sparql",
        content=update,
        headers={**origin, "Content-Type": "application/sparql-update", "X-API-Key": KEY},
    )
    assert keyed.status_code == 204
    assert "access-control-allow-origin" not in keyed.headers
    read = client.get("/stac/search", headers=origin)
    assert read.headers["access-control-allow-origin"] == "*"
    assert read.headers.get("access-control-allow-credentials") is None


# -- 3. request size and shape --------------------------------------------------------------
def _asgi_post(app: Any, path: str, chunks: int, chunk: bytes) -> tuple[int, int]:
    """POST a chunked body (no Content-Length) straight to the ASGI app; returns the
    status and how many chunks the app pulled before answering."""
    import anyio

    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    return status, pulled


@pytest.mark.parametrize("path", ["/stac/search", "/stac/aggregate"])
def test_stac_chunked_body_is_cut_off_at_the_limit(tmp_path: Path, path: str):
    """Was: the whole body read into memory (``request.body()``) before its size was
    checked, so a chunked upload with no Content-Length could fill the server's memory."""
    settings = _settings(tmp_path, max_request_bytes=10_000)
    app = _client(settings).app
    status, pulled = _asgi_post(app, path, chunks=1000, chunk=b" " * 1000)
    assert status == 413
    assert pulled <= 12  # stopped just past 10 kB, not after reading all 1 MB


SEMANTIC_BAD = [
    "[" * 100_000,  # was a 500: RecursionError from json.loads
    '{"q": "ice", "limit": 1e999}',  # was a 500: OverflowError from int(inf)
    '{"q": "ice", "bbox": [NaN, 1, 2, 3]}',
    json.dumps({"q": 5}),  # was a 500: TypeError in normalise()
    json.dumps({"q": ["ice"]}),
    json.dumps({"q": "ice", "datetime": 5}),  # was a 500 in parse_interval
    json.dumps({"q": "ice", "datetime": ["2020"]}),
    json.dumps({"q": "ice", "intersects": "POINT(1 2)"}),  # was a 200 with a "note"
    json.dumps({"q": "ice", "intersects": {"type": "Point"}}),
    json.dumps({"q": "ice", "limit": "20"}),
    json.dumps({"q": "ice", "limit": True}),
    json.dumps({"concepts": 5}),
    json.dumps({"concepts": [1, 2]}),
    json.dumps({"q": "ice", "bbox": [1, 2, None, 4]}),
    json.dumps({"q": "ice " * 1000}),
    json.dumps({"concepts": [f"{ICE}c{i}" for i in range(1000)]}),
]


@pytest.mark.parametrize("body", SEMANTIC_BAD, ids=range(len(SEMANTIC_BAD)))
def test_semantic_search_post_malformed_bodies_are_400(client: TestClient, body: str):
    response = client.post(
        "/search/semantic", content=body, headers={"Content-Type": "application/json"}
    )
    _problem(response, 400)


class RecordingEngine:
    """A federation engine that records the graph queries it is asked."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.members: list[Any] = []

    def run(self, query: str) -> Any:
        from types import SimpleNamespace

        self.queries.append(query)
        return SimpleNamespace(rows=[], origins={}, failed={})


@pytest.mark.parametrize(
    "concept",
    [
        f"{ICE}old-ice> }} }} SERVICE <http://169.254.169.254/latest> {{ ?x ?y ?z }} {{ <urn:a",
        f"{ICE}old ice",
        f'{ICE}old"ice',
        f"{ICE}old{{ice",
        f"{ICE}old\\u003eice",
    ],
)
def test_semantic_concept_cannot_inject_sparql(tmp_path: Path, concept: str):
    """Was: concepts were pasted into ``<...>`` of the graph query after checking only
    their scheme, so ``>`` ended the IRI and the rest became SPARQL (a SERVICE here)."""
    engine = RecordingEngine()
    client = _client(_settings(tmp_path), federation=engine)
    for response in (
        client.get("/search/semantic", params={"concept": concept}),
        client.post("/search/semantic", json={"concepts": [concept]}),
    ):
        assert _problem(response, 400)["instance"] == "concept"
    assert engine.queries == []
    fine = client.get("/search/semantic", params={"concept": ICE + "old-ice"})
    assert fine.status_code == 200, fine.text
    assert engine.queries and "SERVICE" not in engine.queries[0]


@pytest.mark.parametrize(
    "body",
    [
        {"aggregations": 5},  # was a 500: TypeError iterating an int
        {"aggregations": [{"name": "total_count"}]},
        {"datetime_frequency_interval": []},  # was a 500: unhashable list
        {"datetime_frequency_interval": 5},
    ],
)
def test_stac_aggregate_post_malformed_fields_are_400(client: TestClient, body: dict[str, Any]):
    _problem(client.post("/stac/aggregate", json=body), 400)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/stac/search", "[" * 100_000),
        ("POST", "/stac/search", json.dumps({"limit": 10**30})),
        ("POST", "/stac/search", json.dumps({"bbox": [1.0] * 10_000})),
        ("POST", "/stac/search", json.dumps({"filter": {"op": "not", "args": [None]}})),
        (
            "POST",
            "/stac/search",
            json.dumps({"filter": "properties.title LIKE '" + "%_" * 5000 + "x'"}),
        ),
        (
            "POST",
            "/stac/search",
            json.dumps({"filter": "(" * 5000 + "id = 'a'" + ")" * 5000}),
        ),
        ("POST", "/stac/aggregate", "[" * 100_000),
        ("GET", "/stac/search?filter=" + "NOT " * 3000 + "id='a'", ""),
        ("GET", "/stac/collections?limit=99999999999999999999999", ""),
        ("GET", "/stac/search?q=" + "%22" * 2000, ""),
    ],
)
def test_stac_pathological_requests_stay_bounded(
    client: TestClient, method: str, path: str, body: str
):
    started = time.monotonic()
    response = client.request(
        method, path, content=body or None, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    assert time.monotonic() - started < 5


def test_federation_refuses_deep_nesting_before_parsing(client: TestClient):
    """Was: no size or nesting check on /federation/sparql, so rdflib's recursive parser
    ran to a RecursionError (seconds of CPU per request, in a worker thread)."""
    query = "SELECT * WHERE { " + "{ " * 3000 + "}" * 3000 + " }"
    for response in (
        client.post(
            "/federation/sparql",
            content=query,
            headers={"Content-Type": "application/sparql-query"},
        ),
        client.get("/federation/sparql", params={"query": query}),
    ):
        assert "nested more than" in _problem(response, 400)["detail"]


def test_federation_get_query_size_is_limited(tmp_path: Path):
    small = _client(_settings(tmp_path, max_request_bytes=1000))
    query = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 2000
    _problem(small.get("/federation/sparql", params={"query": query}), 413)


# -- 4. XML and other geometry literals --------------------------------------------------
GML = 'xmlns:gml="http://www.opengis.net/gml/3.2"'
KML = 'xmlns:kml="http://www.opengis.net/kml/2.2"'


def _deep_literals(depth: int) -> dict[str, str]:
    from eokg.kg.geometry import GEOJSON_LITERAL, GML_LITERAL, KML_LITERAL, WKT_LITERAL

    member = "<gml:geometryMember><gml:MultiGeometry>"
    return {
        WKT_LITERAL: "GEOMETRYCOLLECTION(" * depth + "POINT(1 2)" + ")" * depth,
        GEOJSON_LITERAL: '{"type":"GeometryCollection","geometries":[' * depth + "]}" * depth,
        GML_LITERAL: f"<gml:MultiGeometry {GML}>"
        + member * depth
        + "</gml:MultiGeometry></gml:geometryMember>" * depth
        + "</gml:MultiGeometry>",
        KML_LITERAL: f"<kml:MultiGeometry {KML}>"
        + "<kml:MultiGeometry>" * depth
        + "</kml:MultiGeometry>" * depth
        + "</kml:MultiGeometry>",
    }


@pytest.mark.parametrize("datatype", list(_deep_literals(1)))
def test_deeply_nested_geometry_literals_are_geometry_errors(datatype: str):
    """Was: a RecursionError (GML, KML, GeoJSON) escaping GeometryError, or for WKT a
    SIGSEGV in GEOS (see the server test below)."""
    from eokg.errors import GeometryError
    from eokg.kg.geometry import parse_literal

    with pytest.raises(GeometryError, match="nested more than"):
        parse_literal(_deep_literals(5000)[datatype], datatype)
    shallow = _deep_literals(3)[datatype]
    assert parse_literal(shallow, datatype).shape is not None


@pytest.mark.parametrize(
    "literal",
    [
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"<gml:Point {GML}><gml:pos>&b; 1</gml:pos></gml:Point>",
        '<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd">'
        f"<gml:Point {GML}><gml:pos>1 2</gml:pos></gml:Point>",
        f"<gml:Point {GML}><gml:pos>&xxe; 2</gml:pos></gml:Point>",
    ],
)
def test_gml_literal_entities_are_never_declared_or_expanded(client: TestClient, literal: str):
    query = (
        f"PREFIX geo: <{GEO}> PREFIX geof: <{GEOF}> SELECT ?w WHERE {{ "
        f"BIND({json.dumps(literal)}^^geo:gmlLiteral AS ?g) "
        'BIND(geof:sfIntersects(?g, "POINT(1 2)"^^geo:wktLiteral) AS ?w) }'
    )
    response = client.post(
        "/sparql", content=query, headers={"Content-Type": "application/sparql-query"}
    )
    assert response.status_code < 500, response.text
    assert "aaaaaaaaaa" not in response.text and "root:" not in response.text


# -- 5. secrets ---------------------------------------------------------------------------
def test_the_api_key_is_never_in_settings_repr_responses_or_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture
):
    """Was: ``repr(settings)`` (and so any log line or traceback printing them) showed
    ``api_key`` in clear."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    assert KEY not in repr(settings) and KEY not in str(settings.api)
    caplog.set_level(logging.DEBUG)
    update = "INSERT DATA { <urn:a> <urn:b> <urn:c> }"
    for key in (KEY, KEY[:-1] + "x", KEY + "x", ""):
        response = client.post(
            "/sparql",
            content=update,
            headers={"Content-Type": "application/sparql-update", "X-API-Key": key},
        )
        assert KEY not in response.text
    wrong = client.post(
        "/sparql",
        content=update,
        headers={"Content-Type": "application/sparql-update", "Authorization": "Bearer nope"},
    )
    assert _problem(wrong, 401)["detail"].count("nope") == 0
    assert KEY not in caplog.text


def test_errors_do_not_show_server_paths(tmp_path: Path):
    missing = _client(_settings(tmp_path, browser_dir=tmp_path / "no-build"))
    for path in ("/browser/", "/browser/config.js", "/browser/%00"):
        response = missing.get(path)
        assert str(tmp_path) not in response.text
        assert "Traceback" not in response.text


# -- 6. a real server: requests that crashed the process ----------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "EOKG_DATA_DIR": str(tmp_path), "EOKG_API__API_KEY": KEY}
    env.pop("EOKG_CONFIG", None)
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "uvicorn", "--factory", "eokg.api.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "debug"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/stac", timeout=2)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "server.log").read_text())
            time.sleep(0.2)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    assert KEY not in (tmp_path / "server.log").read_text()


@pytest.mark.server
def test_deeply_nested_wkt_does_not_kill_the_server(server: tuple[str, Any]):
    """Was: one 1 MB POST (50,000 nested GEOMETRYCOLLECTIONs in a FILTER literal) made
    GEOS overflow the C stack; the server died with SIGSEGV."""
    url, proc = server
    wkt = "GEOMETRYCOLLECTION(" * 50_000 + "POINT(1 2)" + ")" * 50_000
    query = (
        f"PREFIX geo: <{GEO}> PREFIX geof: <{GEOF}> ASK {{ FILTER(geof:sfIntersects("
        f'"POINT(1 2)"^^geo:wktLiteral, "{wkt}"^^geo:wktLiteral)) }}'
    )
    try:
        response = httpx.post(
            url + "/sparql",
            content=query,
            headers={"Content-Type": "application/sparql-query"},
            timeout=60,
        )
        status = response.status_code
    except httpx.TransportError:
        status = None
    time.sleep(0.5)
    assert proc.poll() is None, f"the server died (exit {proc.returncode})"
    assert status is not None and status < 500
    assert httpx.get(url + "/stac", timeout=10).status_code == 200


def _survives(url: str, proc: Any, request: Callable[[], httpx.Response]) -> int:
    """Send ``request``; the server must answer below 500 and still be alive after."""
    try:
        status: int | None = request().status_code
    except httpx.TransportError:
        status = None
    time.sleep(0.5)
    assert proc.poll() is None, f"the server died (exit {proc.returncode})"
    assert httpx.get(url + "/stac", timeout=10).status_code == 200
    assert status is not None and status < 500
    return status


@pytest.mark.server
@pytest.mark.parametrize("chain", ["1+" * 8000 + "1", "!" * 20_000 + "true", "1||" * 8000 + "1"])
def test_a_long_operator_chain_does_not_kill_the_server(server: tuple[str, Any], chain: str):
    """Was: an anonymous 16 kB query, ``FILTER(1+1+...)``, overflowed the stack of
    Oxigraph's parser (it recurses once per operator): SIGSEGV.  Now a 400 before
    any parser sees it; federation checks the same."""
    url, proc = server
    query = f"SELECT * WHERE {{ FILTER({chain}) }}"
    for path in ("/sparql", "/federation/sparql"):
        status = _survives(
            url,
            proc,
            lambda path=path: httpx.post(  # type: ignore[misc]
                url + path,
                content=query,
                headers={"Content-Type": "application/sparql-query"},
                timeout=60,
            ),
        )
        assert status == 400


@pytest.mark.server
def test_a_deeply_nested_wkt_in_an_update_does_not_kill_the_server(server: tuple[str, Any]):
    """Was: the index's bulk WKT reader skipped the nesting check, so a keyed INSERT
    DATA of a 50,000-deep literal crashed GEOS.  Now the triple is stored and the
    literal is indexed as one that does not parse."""
    url, proc = server
    wkt = "GEOMETRYCOLLECTION(" * 50_000 + "POINT(1 2)" + ")" * 50_000
    update = f'INSERT DATA {{ <urn:x> <{GEO}asWKT> "{wkt}"^^<{GEO}wktLiteral> }}'
    status = _survives(
        url,
        proc,
        lambda: httpx.post(
            url + "/sparql",
            content=update,
            headers={"Content-Type": "application/sparql-update", "X-API-Key": KEY},
            timeout=60,
        ),
    )
    assert status == 204
    ask = f"ASK {{ <urn:x> <{GEO}asWKT> ?w }}"
    assert httpx.get(url + "/sparql", params={"query": ask}, timeout=30).json()["boolean"]
