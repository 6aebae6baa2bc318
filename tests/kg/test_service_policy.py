"""``kg/service_policy.py``: finding SERVICE/LOAD targets, matching the allowlist, redirects."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from eokg.errors import QueryError, SourceUnavailable, TargetForbidden
from eokg.kg.service_policy import (
    OutboundPolicy,
    parse_url,
    query_targets,
    update_targets,
    url_matches,
)

ROWS = {
    "head": {"vars": ["x"]},
    "results": {"bindings": [{"x": {"type": "literal", "value": "r"}}]},
}


@pytest.mark.parametrize(
    ("entry", "url", "allowed"),
    [
        ("http://h.org/sparql", "http://h.org/sparql", True),
        ("http://h.org/sparql", "HTTP://H.ORG:80/sparql", True),
        ("http://h.org/sparql", "http://h.org/sparql/ds", True),
        ("http://h.org/sparql", "http://h.org/sparql-admin", False),
        ("http://h.org/", "http://h.org/anything?q=1", True),
        ("http://h.org", "http://h.org.evil.com/", False),
        ("http://h.org/", "https://h.org/", False),
        ("http://h.org/", "http://h.org:8080/", False),
        ("http://h.org/", "http://evil.com\\@h.org/", False),
        ("http://h.org/", "http://user@h.org/", False),
        ("http://h.org/a/", "http://h.org/a/../b", False),
        ("http://h.org/a/", "http://h.org/a/%2E%2E/b", False),
        ("http://h.org/s?x=1", "http://h.org/s?x=1", True),
        ("http://h.org/s?x=1", "http://h.org/s?x=2", False),
        ("http://h.org/", "file:///etc/passwd", False),
        ("http://h.org/", "gopher://h.org/", False),
        ("http://h.org/", "http://h.org/#frag", False),
    ],
)
def test_allowlist_matching(entry: str, url: str, allowed: bool) -> None:
    assert url_matches(entry, url) is allowed


def test_parse_url_is_strict() -> None:
    assert parse_url("https://[::1]:8443/x") is not None
    assert parse_url("http://h.org/\u00e9") is None
    assert parse_url("http://h.org:99999/") is None
    assert parse_url("local:local") is None


def test_query_targets_are_found_everywhere() -> None:
    query = """PREFIX s: <http://svc.org/>
    SELECT * WHERE {
      { SELECT * WHERE { OPTIONAL { SERVICE s:a { ?x ?y ?z } } } }
      UNION { GRAPH ?g { SERVICE SILENT <http://b.org/> { ?a ?b ?c } } }
      MINUS { SERVICE ?v { ?a ?b ?c } }
      FILTER NOT EXISTS { SERVICE <http://c.org/> { ?x ?y ?z } }
    }"""
    targets = query_targets(query)
    assert targets.services == ("http://svc.org/a", "http://b.org/", "http://c.org/")
    assert targets.service_variables == ("?v",)
    assert query_targets("SELECT * WHERE { ?s ?p 'no remote' }").services == ()


def test_update_targets_cover_every_operation() -> None:
    update = """PREFIX ex: <http://ex.org/>
    LOAD SILENT ex:data INTO GRAPH ex:g ;
    INSERT { ?a ?b ?c } WHERE { OPTIONAL { SERVICE ex:q { ?a ?b ?c } } } ;
    BASE <http://base.org/dir/> LOAD <file>"""
    targets = update_targets(update)
    assert targets.loads == ("http://ex.org/data", "http://base.org/dir/file")
    assert targets.services == ("http://ex.org/q",)
    assert update_targets('INSERT DATA { <http://a> <http://b> "download" }').loads == ()


def test_an_update_whose_targets_cannot_be_read_is_refused() -> None:
    with pytest.raises(QueryError, match="SERVICE/LOAD"):
        update_targets("LOAD <http://x.org/> ; NOT SPARQL")


def test_policy_rules() -> None:
    policy = OutboundPolicy(
        allowed_urls=("http://ok.org/",), source_urls=("http://src.org/sparql",)
    )
    policy.check_query(
        "SELECT * WHERE { SERVICE <http://src.org/sparql> { ?s ?p ?o } }", authenticated=True
    )
    policy.check_query(
        "SELECT * WHERE { SERVICE <http://ok.org/x> { ?s ?p ?o } }", authenticated=True
    )
    with pytest.raises(TargetForbidden, match="API key"):
        policy.check_query(
            "SELECT * WHERE { SERVICE <http://ok.org/x> { ?s ?p ?o } }", authenticated=False
        )
    with pytest.raises(TargetForbidden, match=r"http://no\.org/"):
        policy.check_query(
            "SELECT * WHERE { SERVICE <http://no.org/> { ?s ?p ?o } }", authenticated=True
        )
    with pytest.raises(TargetForbidden, match="LOAD"):
        policy.check_update("LOAD <http://src.org/sparql>", authenticated=True)  # not allowlisted
    policy.check_update("LOAD <http://ok.org/data.ttl>", authenticated=True)


# ---------------------------------------------------------------------- over HTTP


class _Server:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.redirect_to: str | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.hits.append(self.path)
                if owner.redirect_to is not None and self.path == "/sparql":
                    self.send_response(307)
                    self.send_header("Location", owner.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = {"boolean": True} if b"ASK" in body.upper() else ROWS
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    first, second = _Server(), _Server()
    yield first, second
    first.stop()
    second.stop()


@pytest.mark.server
def test_remote_store_follows_only_same_origin_redirects(servers: Any) -> None:
    from eokg.kg.remote import RemoteSparqlSource

    first, second = servers
    first.redirect_to = f"{second.url}/sparql"
    with (
        RemoteSparqlSource(f"{first.url}/sparql", timeout_s=5) as source,
        pytest.raises(SourceUnavailable, match="another origin"),
    ):
        source.query("SELECT ?x WHERE { ?x ?p ?o }")
    assert second.hits == []
    first.redirect_to = f"{first.url}/moved"
    with RemoteSparqlSource(f"{first.url}/sparql", timeout_s=5) as source:
        rows = list(source.query("SELECT ?x WHERE { ?x ?p ?o }"))
    assert [r["x"].value for r in rows] == ["r"]
    assert first.hits[-2:] == ["/sparql", "/moved"]


@pytest.mark.server
def test_engine_service_needs_a_member_or_the_allowlist(servers: Any) -> None:
    from eokg.kg.federation.engine import FederationEngine
    from eokg.kg.federation.sources import HttpMember
    from eokg.kg.service_policy import UNRESTRICTED

    first, second = servers
    query = f"SELECT ?x WHERE {{ SERVICE <{second.url}/sparql> {{ ?x ?p ?o }} }}"
    members = [HttpMember("first", f"{first.url}/sparql", timeout_s=5)]
    with pytest.raises(TargetForbidden, match=second.url):
        FederationEngine(members).run(query)
    with pytest.raises(TargetForbidden, match=r"\?s"):
        FederationEngine(members).run("SELECT * WHERE { SERVICE ?s { ?x ?p ?o } }")
    assert second.hits == []
    allowed = OutboundPolicy(allowed_urls=(f"{second.url}/",))
    FederationEngine(members, outbound=allowed).run(query)
    assert second.hits
    hits = len(second.hits)
    FederationEngine(members, outbound=UNRESTRICTED).run(query)  # the CLI's policy
    assert len(second.hits) > hits
