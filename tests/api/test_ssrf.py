"""SERVICE and LOAD reach only allowed endpoints (issue 13, item 3: SSRF).

Every target is a loopback HTTP server that records the requests it gets, so a
refusal is checked where it matters: the target saw nothing.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.server

KEY = "s3cret"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON_RESULTS = "application/sparql-results+json"
ROWS = {
    "head": {"vars": ["x"]},
    "results": {"bindings": [{"x": {"type": "literal", "value": "from-remote"}}]},
}
TURTLE = b"<https://example.org/s> <https://example.org/p> <https://example.org/o> ."


@dataclass
class Endpoint:
    """A loopback server answering any request with SPARQL JSON (or Turtle, or a redirect)."""

    server: http.server.ThreadingHTTPServer
    hits: list[str] = field(default_factory=list)
    redirect_to: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


def _start() -> Endpoint:
    endpoint: Endpoint

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(b"")

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("content-length") or 0)))

        def _answer(self, body: bytes) -> None:
            endpoint.hits.append(f"{self.command} {self.path}")
            if endpoint.redirect_to is not None:
                self.send_response(307)
                self.send_header("Location", endpoint.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.endswith(".ttl"):
                payload, media_type = TURTLE, "text/turtle"
            elif b"ASK" in body.upper():
                payload, media_type = json.dumps({"boolean": True}).encode(), JSON_RESULTS
            else:
                payload, media_type = json.dumps(ROWS).encode(), JSON_RESULTS
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint = Endpoint(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return endpoint


@pytest.fixture
def target() -> Iterator[Endpoint]:
    endpoint = _start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


@pytest.fixture
def other() -> Iterator[Endpoint]:
    endpoint = _start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


@pytest.fixture
def make_client(tmp_path: Path, settings: Any):
    def make(
        *,
        api_key: str | None = KEY,
        allowed: list[str] = (),
        anonymous: bool = False,
        sources: list[dict[str, Any]] = (),
    ) -> TestClient:
        from eokg.api.app import create_app
        from eokg.config import FederationSettings, FederationSource, OutboundSettings
        from eokg.kg.store import GeoStore

        configured = settings.model_copy(
            update={
                "api": settings.api.model_copy(update={"api_key": api_key}),
                "outbound": OutboundSettings(
                    allowed_urls=list(allowed), anonymous_service=anonymous
                ),
                "federation": FederationSettings(sources=[FederationSource(**s) for s in sources]),
            },
            deep=True,
        )
        return TestClient(create_app(configured, store=GeoStore()))

    return make


def _forbidden(response: Any, url: str) -> dict[str, Any]:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "target-forbidden"
    assert url in body["detail"]
    return body


def _service(url: str) -> str:
    return f"SELECT ?x WHERE {{ SERVICE <{url}> {{ ?x ?p ?o }} }}"


# ---------------------------------------------------------------------- /sparql SERVICE


def test_anonymous_service_to_an_unlisted_host_is_refused(make_client: Any, target: Endpoint):
    client = make_client()
    url = f"{target.url}/sparql"
    body = _forbidden(client.get("/sparql", params={"query": _service(url)}), url)
    assert body["url"] == url
    assert target.hits == []


def test_anonymous_service_is_off_even_to_allowed_hosts(make_client: Any, target: Endpoint):
    url = f"{target.url}/sparql"
    client = make_client(allowed=[url])
    body = _forbidden(client.get("/sparql", params={"query": _service(url)}), url)
    assert "API key" in body["detail"]
    wrong_key = client.get(
        "/sparql", params={"query": _service(url)}, headers={"X-API-Key": "wrong"}
    )
    _forbidden(wrong_key, url)
    assert target.hits == []


def test_anonymous_service_flag_allows_listed_hosts_only(
    make_client: Any, target: Endpoint, other: Endpoint
) -> None:
    url = f"{target.url}/sparql"
    client = make_client(allowed=[url], anonymous=True)
    response = client.get(
        "/sparql", params={"query": _service(url)}, headers={"Accept": JSON_RESULTS}
    )
    assert response.status_code == 200, response.text
    assert len(target.hits) == 1
    _forbidden(client.get("/sparql", params={"query": _service(f"{other.url}/sparql")}), other.url)
    assert other.hits == []


NESTED = {
    "optional": "SELECT * WHERE {{ ?a ?b ?c OPTIONAL {{ SERVICE <{u}> {{ ?x ?p ?o }} }} }}",
    "union": "SELECT * WHERE {{ {{ ?a ?b ?c }} UNION {{ SERVICE SILENT <{u}> {{ ?x ?p ?o }} }} }}",
    "minus": "SELECT * WHERE {{ ?a ?b ?c MINUS {{ SERVICE <{u}> {{ ?a ?p ?o }} }} }}",
    "subquery": "SELECT * WHERE {{ {{ SELECT ?x WHERE {{ SERVICE <{u}> {{ ?x ?p ?o }} }} }} }}",
    "exists": "SELECT * WHERE {{ ?a ?b ?c FILTER EXISTS {{ SERVICE <{u}> {{ ?a ?p ?o }} }} }}",
    "graph": "SELECT * WHERE {{ GRAPH ?g {{ SERVICE <{u}> {{ ?x ?p ?o }} }} }}",
    "prefixed": "PREFIX r: <{u}/> SELECT * WHERE {{ SERVICE r:sparql {{ ?x ?p ?o }} }}",
    "base": "BASE <{u}/> SELECT * WHERE {{ SERVICE <sparql> {{ ?x ?p ?o }} }}",
    "lowercase": "select * where {{ service <{u}> {{ ?x ?p ?o }} }}",
    "escaped": "SELECT * WHERE {{ \\u0053ERVICE <{u}> {{ ?x ?p ?o }} }}",
    "ask": "ASK {{ SERVICE <{u}> {{ ?x ?p ?o }} }}",
    "construct": "CONSTRUCT {{ ?x ?p ?o }} WHERE {{ SERVICE <{u}> {{ ?x ?p ?o }} }}",
}


@pytest.mark.parametrize("shape", sorted(NESTED))
def test_service_anywhere_in_the_query_is_refused(
    make_client: Any, target: Endpoint, shape: str
) -> None:
    client = make_client()
    query = NESTED[shape].format(u=target.url)
    response = client.get("/sparql", params={"query": query}, headers=AUTH)
    assert response.status_code == 403, response.text
    assert target.url in response.json()["detail"]
    assert target.hits == []


def test_every_request_form_and_explain_is_checked(make_client: Any, target: Endpoint):
    client = make_client()
    url = f"{target.url}/sparql"
    query = _service(url)
    _forbidden(client.post("/sparql", data={"query": query}), url)
    _forbidden(
        client.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query"}),
        url,
    )
    _forbidden(client.get("/sparql", params={"query": query, "explain": "true"}), url)
    _forbidden(client.post("/sparql", data={"query": query, "explain": "true"}), url)
    assert target.hits == []


def test_service_with_the_key_reaches_an_allowed_endpoint(make_client: Any, target: Endpoint):
    url = f"{target.url}/sparql"
    client = make_client(allowed=[url])
    response = client.get(
        "/sparql", params={"query": _service(url)}, headers={**AUTH, "Accept": JSON_RESULTS}
    )
    assert response.status_code == 200, response.text
    values = [b["x"]["value"] for b in response.json()["results"]["bindings"]]
    assert values == ["from-remote"]
    assert target.hits == ["POST /sparql"]


def test_allowlist_entries_are_prefixes_on_path_boundaries(make_client: Any, target: Endpoint):
    client = make_client(allowed=[f"{target.url}/sparql"])
    for url in (f"{target.url}/sparql-admin", f"{target.url}/sparql/../admin"):
        response = client.get("/sparql", params={"query": _service(url)}, headers=AUTH)
        assert response.status_code == 403, (url, response.text)
    below = client.get(
        "/sparql", params={"query": _service(f"{target.url}/sparql/ds1")}, headers=AUTH
    )
    assert below.status_code == 200, below.text
    assert target.hits == ["POST /sparql/ds1"]


def test_service_with_the_key_to_an_unlisted_host_is_refused(make_client: Any, target: Endpoint):
    client = make_client(allowed=["http://127.0.0.1:1/sparql"])
    url = f"{target.url}/sparql"
    _forbidden(client.get("/sparql", params={"query": _service(url)}, headers=AUTH), url)
    assert target.hits == []


def test_configured_federation_sources_are_allowed_with_the_key(
    make_client: Any, target: Endpoint
) -> None:
    url = f"{target.url}/sparql"
    client = make_client(sources=[{"name": "remote", "url": url}])
    _forbidden(client.get("/sparql", params={"query": _service(url)}), url)
    response = client.get("/sparql", params={"query": _service(url)}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert len(target.hits) == 1


def test_service_variable_is_refused(make_client: Any, target: Endpoint):
    url = f"{target.url}/sparql"
    client = make_client(allowed=[url])
    query = f"SELECT * WHERE {{ VALUES ?s {{ <{url}> }} SERVICE ?s {{ ?x ?p ?o }} }}"
    response = client.get("/sparql", params={"query": query}, headers=AUTH)
    assert response.status_code == 403, response.text
    assert "?s" in response.json()["detail"]
    assert target.hits == []


def test_unparsable_query_naming_service_is_a_400(make_client: Any, target: Endpoint):
    client = make_client()
    query = f"SELECT * WHERE {{ SERVICE <{target.url}/sparql> {{ ?x ?p "
    response = client.get("/sparql", params={"query": query}, headers=AUTH)
    assert response.status_code == 400
    assert target.hits == []


# ---------------------------------------------------------------------- updates


def _update(client: TestClient, text: str) -> Any:
    return client.post(
        "/sparql",
        content=text,
        headers={**AUTH, "Content-Type": "application/sparql-update"},
    )


def test_load_of_a_file_url_is_refused(make_client: Any):
    client = make_client(allowed=["http://127.0.0.1:1/"])
    body = _forbidden(_update(client, "LOAD <file:///etc/passwd>"), "file:///etc/passwd")
    assert "http(s)" in body["detail"]
    form = client.post("/sparql", data={"update": "LOAD SILENT <file:///etc/passwd>"}, headers=AUTH)
    _forbidden(form, "file:///etc/passwd")


def test_load_of_an_unlisted_url_is_refused(make_client: Any, target: Endpoint):
    client = make_client()
    url = f"{target.url}/data.ttl"
    _forbidden(_update(client, f"LOAD <{url}> INTO GRAPH <https://example.org/g>"), url)
    later = f"INSERT DATA {{ <https://e.org/a> <https://e.org/b> 1 }} ; LOAD <{url}>"
    _forbidden(_update(client, later), url)
    assert target.hits == []


def test_load_of_an_allowed_url_works(make_client: Any, target: Endpoint):
    url = f"{target.url}/data.ttl"
    client = make_client(allowed=[f"{target.url}/"])
    response = _update(client, f"LOAD <{url}>")
    assert response.status_code == 204, response.text
    assert target.hits == ["GET /data.ttl"]


def test_service_inside_an_update_is_refused(make_client: Any, target: Endpoint):
    client = make_client()
    url = f"{target.url}/sparql"
    update = (
        "INSERT { ?x <https://e.org/p> 1 } "
        f"WHERE {{ OPTIONAL {{ SERVICE <{url}> {{ ?x ?p ?o }} }} }}"
    )
    _forbidden(_update(client, update), url)
    assert target.hits == []


def test_allowlist_setting_accepts_only_http_urls() -> None:
    from eokg.config import load_settings
    from eokg.errors import ConfigError

    with pytest.raises(ConfigError, match="allowed_urls"):
        load_settings(outbound={"allowed_urls": ["file:///etc/"]})


# ---------------------------------------------------------------------- /federation/sparql


def test_federation_service_to_a_non_source_is_refused(
    make_client: Any, target: Endpoint, other: Endpoint
) -> None:
    client = make_client(sources=[{"name": "remote", "url": f"{target.url}/sparql"}])
    url = f"{other.url}/sparql"
    for headers in ({}, AUTH):
        response = client.get(
            "/federation/sparql", params={"query": _service(url)}, headers=headers
        )
        _forbidden(response, url)
        explain = client.get(
            "/federation/sparql",
            params={"query": _service(url), "explain": "true"},
            headers=headers,
        )
        _forbidden(explain, url)
    assert other.hits == []


def test_federation_service_to_a_source_is_allowed_anonymously(
    make_client: Any, target: Endpoint
) -> None:
    url = f"{target.url}/sparql"
    client = make_client(sources=[{"name": "remote", "url": url}])
    response = client.get(
        "/federation/sparql", params={"query": _service(url)}, headers={"Accept": JSON_RESULTS}
    )
    assert response.status_code == 200, response.text
    assert target.hits  # asked the configured source


def test_federation_engine_refuses_unlisted_service_itself(
    make_client: Any, target: Endpoint, other: Endpoint
) -> None:
    """Defence in depth: the engine checks too, whatever route handed it the query."""
    from eokg.errors import TargetForbidden

    client = make_client(sources=[{"name": "remote", "url": f"{target.url}/sparql"}])
    engine = client.app.state.federation
    with pytest.raises(TargetForbidden, match=other.url):
        engine.run(_service(f"{other.url}/sparql"))
    assert other.hits == []


def test_federation_does_not_follow_a_redirect_to_another_origin(
    make_client: Any, target: Endpoint, other: Endpoint
) -> None:
    target.redirect_to = f"{other.url}/sparql"
    client = make_client(sources=[{"name": "remote", "url": f"{target.url}/sparql"}])
    query = "SELECT * WHERE { ?s <https://example.org/p> ?o }"
    response = client.get("/federation/sparql", params={"query": query}, headers=AUTH)
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["code"] == "source-unavailable"
    assert "redirect" in body["detail"] and other.url in body["detail"]
    assert target.hits
    assert other.hits == []
