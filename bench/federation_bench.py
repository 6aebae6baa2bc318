"""Federated queries over 3 Oxigraph servers: eokg's engine vs Comunica, side by side.

    python -m bench.federation_bench [--products 600] [--charts 300] [--repeat 3]

Three ``oxigraph serve`` processes on loopback hold products, ice-chart polygons
and admin areas (``kg.federation.testbed``); a counting proxy sits in front of
each and both engines go through the same proxies, so "requests" is what the
servers received (eokg's ASK probes included; its VoID documents are files, read
once per engine and not counted).  Each query runs with a fresh engine on both
sides (cold caches); the eokg figure is the median of ``--repeat`` runs, Comunica
runs as ``node bench/comunica/run.mjs`` and is timed inside node (process start
and engine construction excluded).  Row counts are checked equal.

Comunica needs ``cd bench/comunica && npm install`` (Node 18+).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PREFIXES = """PREFIX eo: <https://w3id.org/eokg/ontology#>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX ice: <https://w3id.org/eokg/concept/seaice/>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
QUERIES: dict[str, str] = {
    "Q1 product x admin join": """SELECT ?p ?code WHERE {
        ?p a eo:Product ; eo:acquiredOver ?a . ?a eo:code ?code }""",
    "Q2 3-source join + filter": """SELECT ?p ?name ?stage ?conc WHERE {
        ?p eo:covers ?c ; eo:acquiredOver ?a . ?a rdfs:label ?name .
        ?c eo:stageOfDevelopment ?stage ; eo:concentration ?conc FILTER(?conc >= 50) }""",
    "Q3 optional": """SELECT ?p ?l ?stage WHERE {
        ?p a eo:Product ; eo:platform "sentinel-1a" .
        OPTIONAL { ?p rdfs:label ?l }
        OPTIONAL { ?p eo:covers ?c . ?c eo:stageOfDevelopment ?stage } }""",
    "Q4 union + date filter": """SELECT ?x ?d WHERE {
        { ?x a eo:IceChartPolygon ; dct:date ?d } UNION { ?x a eo:Product ; dct:date ?d }
        FILTER(?d >= "2024-03-01"^^xsd:date) }""",
    "Q5 selective star + join": """SELECT ?c ?conc ?p ?pl WHERE {
        ?c eo:stageOfDevelopment ice:new-ice ; eo:concentration ?conc .
        ?p eo:covers ?c ; eo:platform ?pl }""",
    "Q6 GeoSPARQL filter (Baltic)": """SELECT ?p ?a WHERE {
        ?p eo:acquiredOver ?a ; geo:hasGeometry/geo:asWKT ?w .
        FILTER(geof:sfWithin(?w, "POLYGON((16 59, 27 59, 27 67, 16 67, 16 59))"^^geo:wktLiteral))
    }""",
    # Comunica writes language-tagged bindings as "..."^^undefined:undefined in its
    # bind-join VALUES, which Oxigraph rejects (HTTP 400): kept to show it.
    "Q7 join on language-tagged labels": """SELECT ?p ?label WHERE {
        ?p a eo:Product ; eo:acquiredOver ?a . ?a rdfs:label ?label }""",
}


def start(products: int, charts: int, folder: Path) -> dict[str, Any]:
    from eokg.kg.federation.testbed import OxigraphServer, Proxy, sample_partitions, void_turtle

    parts = sample_partitions(products=products, charts=charts)
    servers, proxies, voids = {}, {}, {}
    for name, turtle in parts.items():
        server = OxigraphServer(name)
        graph = f"https://example.org/graph/{name}"
        server.load(turtle, graph)
        proxy = Proxy(server.base)
        void = folder / f"{name}.void.ttl"
        void.write_text(void_turtle(turtle, proxy.url("/query"), graph), encoding="utf-8")
        servers[name], proxies[name], voids[name] = server, proxy, str(void)
    return {"servers": servers, "proxies": proxies, "voids": voids}


def requests(bed: dict[str, Any]) -> int:
    return sum(p.counters.requests for p in bed["proxies"].values())


def reset(bed: dict[str, Any]) -> None:
    for proxy in bed["proxies"].values():
        proxy.counters.reset()


def run_eokg(bed: dict[str, Any], query: str, repeat: int) -> dict[str, Any]:
    from eokg.config import FederationSettings, FederationSource
    from eokg.kg.federation.engine import FederationEngine

    sources = [
        FederationSource(name=n, url=p.url("/query"), void_url=bed["voids"][n])
        for n, p in bed["proxies"].items()
    ]
    times, counts, rows = [], [], 0
    for _ in range(repeat):
        engine = FederationEngine.from_settings(FederationSettings(sources=sources))
        reset(bed)
        started = time.perf_counter()
        result = engine.run(query)
        times.append(time.perf_counter() - started)
        counts.append(requests(bed))
        rows = len(result.rows) if result.kind == "solutions" else int(bool(result.boolean))
    return {"rows": rows, "seconds": statistics.median(times), "requests": counts[-1]}


def run_comunica(bed: dict[str, Any], query: str, folder: Path) -> dict[str, Any]:
    node = shutil.which("node")
    script = HERE / "comunica" / "run.mjs"
    if node is None:
        return {"error": "node is not installed"}
    if not (HERE / "comunica" / "node_modules" / "@comunica" / "query-sparql").is_dir():
        return {"error": "run 'npm install' in bench/comunica first"}
    qfile = folder / "query.rq"
    qfile.write_text(query, encoding="utf-8")
    urls = [p.url("/query") for p in bed["proxies"].values()]
    reset(bed)
    done = subprocess.run(
        [node, str(script), str(qfile), *urls],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=HERE / "comunica",
    )
    line = (done.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        out = json.loads(line)
    except ValueError:
        out = {"error": (done.stderr or done.stdout)[-300:]}
    out["requests"] = requests(bed)
    if "ms" in out:
        out["seconds"] = out.pop("ms") / 1000.0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=600)
    parser.add_argument("--charts", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="query name prefixes (Q1 Q3 ...)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bed = start(args.products, args.charts, folder)
        try:
            print(
                "| query | rows | eokg requests | eokg time | Comunica requests "
                "| Comunica time | requests ratio | time ratio |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for name, body in QUERIES.items():
                if args.only and not any(name.startswith(o) for o in args.only):
                    continue
                query = PREFIXES + body
                ours = run_eokg(bed, query, args.repeat)
                theirs = run_comunica(bed, query, folder)
                if "error" in theirs:
                    peer = "failed: " + " ".join(theirs["error"].split())[:120]
                    print(
                        f"| {name} | {ours['rows']} | {ours['requests']} | "
                        f"{ours['seconds']:.3f} s | {theirs['requests']} | {peer} | | |"
                    )
                    continue
                same = "" if theirs["rows"] == ours["rows"] else f" (Comunica: {theirs['rows']})"
                print(
                    f"| {name} | {ours['rows']}{same} | {ours['requests']} | "
                    f"{ours['seconds']:.3f} s | {theirs['requests']} | {theirs['seconds']:.3f} s | "
                    f"{theirs['requests'] / max(ours['requests'], 1):.1f}x fewer | "
                    f"{theirs['seconds'] / max(ours['seconds'], 1e-9):.1f}x faster |"
                )
        finally:
            for proxy in bed["proxies"].values():
                proxy.stop()
            for server in bed["servers"].values():
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
