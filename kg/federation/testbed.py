"""A federation on loopback: Oxigraph servers, counting/delaying proxies, sample data.

Used by the federation tests and ``bench.federation_bench``, so both exercise
real SPARQL 1.1 servers over HTTP rather than mocks.  Everything binds to
127.0.0.1 on free ports and is stopped by the caller (context managers).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eokg.errors import ConfigError, SourceUnavailable
from eokg.ontologies.namespaces import DCTERMS, EO, EOD, GEO, RDFS

ICE = "https://w3id.org/eokg/concept/seaice/"
PRODUCT_TYPES = "https://w3id.org/eokg/concept/product/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def oxigraph_binary() -> str | None:
    return shutil.which("oxigraph")


class OxigraphServer:
    """``oxigraph serve`` in memory on a free port; data in one named graph, union default."""

    def __init__(self, name: str) -> None:
        binary = oxigraph_binary()
        if binary is None:
            raise ConfigError("the 'oxigraph' server binary is not on PATH", where="oxigraph")
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.query_url = f"{self.base}/query"
        self._process = subprocess.Popen(
            [binary, "serve", "--bind", f"127.0.0.1:{self.port}", "--union-default-graph"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait()

    def _wait(self, timeout_s: float = 15.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SourceUnavailable("oxigraph exited at start", where=self.base)
            try:
                httpx.get(self.query_url, params={"query": "ASK {}"}, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SourceUnavailable("oxigraph did not start", where=self.base)

    def load(self, turtle: str, graph: str) -> None:
        import httpx

        response = httpx.post(
            f"{self.base}/store",
            params={"graph": graph},
            content=turtle.encode("utf-8"),
            headers={"Content-Type": "text/turtle"},
            timeout=60.0,
        )
        if response.status_code >= 300:
            raise SourceUnavailable(f"load failed: {response.text[:200]}", where=self.base)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def __enter__(self) -> OxigraphServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ProxyCounters:
    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    #: (request body or query string, response text) of the last failed request
    last_error: tuple[str, str] | None = None

    def reset(self) -> None:
        self.requests = 0
        self.by_method.clear()
        self.last_error = None


class Proxy:
    """An HTTP forwarder that counts requests and can delay or fail them.

    ``delay_s`` makes a slow source; ``fail_status`` answers every request with
    that status (a broken source).  It runs uvicorn on its own thread.
    """

    def __init__(self, target: str, *, delay_s: float = 0.0, fail_status: int | None = None):
        self.target = target.rstrip("/")
        self.delay_s = delay_s
        self.fail_status = fail_status
        self.counters = ProxyCounters()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._start()

    def url(self, path: str = "/query") -> str:
        return f"{self.base}{path}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import httpx

        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            self.counters.requests += 1
            method = scope["method"]
            self.counters.by_method[method] = self.counters.by_method.get(method, 0) + 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_status is not None:
            await send({"type": "http.response.start", "status": self.fail_status, "headers": []})
            await send({"type": "http.response.body", "body": b"proxy: simulated failure"})
            return
        headers = [
            (k.decode(), v.decode())
            for k, v in scope["headers"]
            if k.decode().lower() not in ("host", "content-length", "accept-encoding")
        ]
        url = self.target + scope["path"]
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode()
        async with httpx.AsyncClient(timeout=120.0) as client:
            response = await client.request(scope["method"], url, content=body, headers=headers)
        if response.status_code >= 400:
            sent = body.decode("utf-8", "replace") or scope.get("query_string", b"").decode()
            self.counters.last_error = (sent, response.text[:500])
        out_headers = [
            (k.encode(), v.encode())
            for k, v in response.headers.items()
            if k.lower()
            not in ("content-length", "transfer-encoding", "connection", "content-encoding")
        ]
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": out_headers}
        )
        await send({"type": "http.response.body", "body": response.content})

    def _start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            lifespan="on",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="eokg-proxy")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------- sample data

PREFIXES = (
    f"@prefix eo: <{EO}> .\n@prefix geo: <{GEO}> .\n@prefix dct: <{DCTERMS}> .\n"
    f"@prefix rdfs: <{RDFS}> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
    f"@prefix ice: <{ICE}> .\n@prefix pt: <{PRODUCT_TYPES}> .\n"
)
STAGES = ("new-ice", "nilas", "grey-ice", "first-year-ice", "frazil-ice", "dark-nilas")


def _box(x: float, y: float, w: float, h: float) -> str:
    return f"POLYGON(({x} {y}, {x + w} {y}, {x + w} {y + h}, {x} {y + h}, {x} {y}))"


def sample_partitions(products: int = 60, charts: int = 40, seed: int = 7) -> dict[str, str]:
    """Three datasets that join on IRIs: products, ice-chart polygons and admin areas.

    Products (Svalbard and the Baltic) name the admin area they were acquired
    over and the ice-chart polygon they cover; admin areas sit far apart so a
    spatial filter on one region leaves only one admin server relevant.
    """
    rng = random.Random(seed)
    areas = [
        ("svalbard", "Svalbard", 5.0, 74.0, 30.0, 8.0),
        ("baltic", "Gulf of Bothnia", 17.0, 60.0, 9.0, 6.0),
        ("greenland", "East Greenland", -40.0, 60.0, 20.0, 20.0),
    ]
    admin = [PREFIXES]
    for key, label, x, y, w, h in areas:
        admin.append(
            f'<{EOD}admin/{key}> a eo:AdminArea ; rdfs:label "{label}"@en ; '
            f'eo:code "{key.upper()}" ; geo:hasGeometry <{EOD}admin/{key}/geom> .\n'
            f'<{EOD}admin/{key}/geom> geo:asWKT "{_box(x, y, w, h)}"^^geo:wktLiteral .\n'
        )
    ice = [PREFIXES]
    for i in range(charts):
        _, _, x, y, w, h = areas[0]  # Svalbard only: a Baltic filter prunes this source
        px = round(x + rng.uniform(0, w - 2), 3)
        py = round(y + rng.uniform(0, h - 1), 3)
        stage = STAGES[i % len(STAGES)]
        ice.append(
            f"<{EOD}icechart/p{i}> a eo:IceChartPolygon ; eo:stageOfDevelopment ice:{stage} ; "
            f"eo:concentration {rng.randint(1, 10) * 10} ; "
            f'dct:date "2024-0{1 + i % 3}-1{i % 9}"^^xsd:date ; '
            f"geo:hasGeometry <{EOD}icechart/p{i}/geom> .\n"
            f'<{EOD}icechart/p{i}/geom> geo:asWKT "{_box(px, py, 2.0, 1.0)}"^^geo:wktLiteral .\n'
        )
    prod = [PREFIXES]
    for i in range(products):
        key, _, x, y, w, h = areas[i % 2]
        px = round(x + rng.uniform(0, w - 1), 3)
        py = round(y + rng.uniform(0, h - 1), 3)
        kind = "GRD" if i % 3 else "SLC"
        lines = [
            f"<{EOD}product/s1-{i}> a eo:Product ; eo:productType pt:{kind} ; "
            f'eo:platform "sentinel-1{"ab"[i % 2]}" ; eo:acquiredOver <{EOD}admin/{key}> ; '
            f'dct:date "2024-0{1 + i % 3}-2{i % 9}"^^xsd:date ; '
            f"geo:hasGeometry <{EOD}product/s1-{i}/geom>"
        ]
        if i % 4 == 0:
            lines.append(f" ; eo:covers <{EOD}icechart/p{i % charts}>")
        if i % 5 == 0:
            lines.append(f' ; rdfs:label "Sentinel-1 scene {i}"@en')
        prod.append("".join(lines) + " .\n")
        prod.append(
            f'<{EOD}product/s1-{i}/geom> geo:asWKT "{_box(px, py, 1.0, 0.5)}"^^geo:wktLiteral .\n'
        )
    return {"products": "".join(prod), "icecharts": "".join(ice), "admin": "".join(admin)}


def void_turtle(turtle: str, endpoint_url: str, graph: str) -> str:
    """VoID for a dataset as a plain endpoint would publish it: no GeoSPARQL claims."""
    import tempfile
    from pathlib import Path

    import pyoxigraph

    from eokg.kg.service import SERVICE_PREFIXES, service_triples
    from eokg.kg.store import GeoStore

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.ttl"
        path.write_text(turtle, encoding="utf-8")
        store = GeoStore()
        store.load([path], graph=graph)
        triples = service_triples(store, endpoint_url=endpoint_url)
    skip = {
        DCTERMS + "conformsTo",
        "http://www.w3.org/ns/sparql-service-description#extensionFunction",
        "http://www.w3.org/ns/sparql-service-description#extensionAggregate",
    }
    kept = [t for t in triples if t.predicate.value not in skip]
    out = pyoxigraph.serialize(kept, None, pyoxigraph.RdfFormat.TURTLE, prefixes=SERVICE_PREFIXES)
    return bytes(out or b"").decode("utf-8")
