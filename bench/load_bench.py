"""HTTP load: `eokg serve` under concurrent clients, on loopback (issue 13, item 8).

    python -m bench.load_bench --items 20000 --features 20000 --clients 30 --seconds 20

Builds an on-disk catalogue (``--items`` Sentinel-1-like scenes) and an on-disk
GeoSPARQL store (``--features`` geometries around Svalbard), starts ``eokg serve``
in its own process, and drives it with a bounded asyncio load generator (httpx,
``--clients`` concurrent clients, each sending its next request when the last
one answered). Two request kinds, run as separate phases: a STAC
``/stac/search`` with bbox + datetime, and a ``/sparql`` spatial selection
(``geof:sfIntersects`` with a random box). Each kind runs with one client first
(the baseline), then with ``--clients``; reported: p50/p95, requests/s, errors,
and the server's RSS before and after (server and its query workers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.catalog_bench import _bbox, _items, _month
from bench.procfs import rss_mb
from bench.spatial_bench import write_data

GEO = "http://www.opengis.net/ont/geosparql#"
SPATIAL = (
    f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
    "SELECT ?g WHERE {{ ?g geo:asWKT ?w FILTER(geof:sfIntersects(?w, "
    '"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"^^geo:wktLiteral)) }}'
)


def _stac(rng: random.Random) -> tuple[str, dict[str, Any]]:
    return "/stac/search", {
        "bbox": ",".join(f"{v:.4f}" for v in _bbox(rng)),
        "datetime": _month(rng),
    }


def _sparql(rng: random.Random) -> tuple[str, dict[str, Any]]:
    x, y = rng.uniform(0, 39), rng.uniform(70, 81)
    return "/sparql", {"query": SPATIAL.format(x0=x, y0=y, x1=x + 1, y1=y + 1)}


KINDS: dict[str, Callable[[random.Random], tuple[str, dict[str, Any]]]] = {
    "stac bbox+datetime": _stac,
    "sparql spatial selection": _sparql,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _drive(base: str, kind: str, clients: int, seconds: float) -> dict[str, Any]:
    import httpx

    make = KINDS[kind]
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + seconds

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while time.monotonic() < stop_at:
                path, params = make(rng)
                started = time.perf_counter()
                response = await http.get(path, params=params)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:120]}")

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "errors": errors,
    }


def _prepare(root: Path, items: int, features: int) -> None:
    from eokg.catalog.sqlite_index import SqliteIndex
    from eokg.kg.store import GeoStore

    index = SqliteIndex(root / "catalog.sqlite")
    index.upsert_items(_items(items, 7), batch_size=5000)
    index.analyse()
    index.close()
    data = root / "features.nt"
    write_data(data, features)
    store = GeoStore(root / "store")
    store.load([data])
    store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _prepare(root, args.items, args.features)
        port = _free_port()
        env = {
            **os.environ,
            "EOKG_DATA_DIR": str(root),
            "EOKG_STORE__PATH": str(root / "store"),
            "EOKG_CATALOG__PATH": str(root / "catalog.sqlite"),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "eokg", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base, server)
            rows = []
            rss_start = rss_mb(server.pid)
            for kind in KINDS:
                single = asyncio.run(_drive(base, kind, 1, args.seconds / 2))
                many = asyncio.run(_drive(base, kind, args.clients, args.seconds))
                rows.append((kind, single, many, rss_mb(server.pid)))
            again = asyncio.run(_drive(base, "stac bbox+datetime", args.clients, args.seconds))
            rows.append(("stac bbox+datetime, again", rows[0][1], again, rss_mb(server.pid)))
            _report(rows, args, rss_start)
        finally:
            server.terminate()
            server.wait(30)
    return 0


def _wait(base: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"eokg serve exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(base + "/stac", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("eokg serve did not come up in 120 s")


def _report(rows: list[tuple[str, Any, Any, float]], args: argparse.Namespace, rss0: float) -> None:
    print(
        f"\n{args.items:,} catalogue items, {args.features:,} geometries; "
        f"{args.clients} clients for {args.seconds:g} s (1 client for {args.seconds / 2:g} s)\n"
    )
    print("| request | clients | p50 | p95 | req/s | errors | p95 ratio to 1 client |")
    print("|---|---|---|---|---|---|---|")
    for kind, single, many, _ in rows:
        for n, r in ((1, single), (args.clients, many)):
            ratio = r["p95_ms"] / single["p95_ms"]
            print(
                f"| {kind} | {n} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {r['rps']:.1f} "
                f"| {len(r['errors'])} | {ratio:.1f}x |"
            )
    print(
        f"\nserver RSS: {rss0:.0f} MB at start, "
        + ", ".join(f"{rss:.0f} MB after {kind}" for kind, _, _, rss in rows)
    )
    for kind, single, many, _ in rows:
        for error in (single["errors"] + many["errors"])[:3]:
            print(f"error ({kind}): {error}")


if __name__ == "__main__":
    sys.exit(main())
