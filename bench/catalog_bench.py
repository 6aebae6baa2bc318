"""Catalogue benchmark: ingest rate and search latency of the embedded backend.

    python -m bench.catalog_bench --items 100000 [--queries 50] [--path cat.sqlite [--reuse]]

Items are the seeded Sentinel-1-like scenes of ``eokg.catalog.samples``
(Svalbard, 2025).  Each query kind runs ``--queries`` times with random windows;
latency includes counting ``numberMatched`` and building the page (limit 10),
i.e. what one STAC /search call costs minus HTTP.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.index import SearchRequest
from eokg.catalog.samples import SKOS_TTL, s1_item
from eokg.catalog.sqlite_index import SqliteIndex


def _items(n: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield s1_item(i, rng)


def _month(rng: random.Random) -> str:
    month = rng.randint(1, 11)
    return f"2025-{month:02d}-01T00:00:00Z/2025-{month + 1:02d}-01T00:00:00Z"


def _bbox(rng: random.Random) -> list[float]:
    lon, lat = rng.uniform(5, 30), rng.uniform(74, 79)
    return [lon, lat, lon + 3, lat + 1.5]


QUERIES: dict[str, Callable[[random.Random], SearchRequest]] = {
    "bbox+datetime": lambda r: SearchRequest(bbox=_bbox(r), datetime=_month(r)),
    "cql2": lambda r: SearchRequest(
        filter=(
            f"platform = 'sentinel-1{r.choice('ac')}' AND orbit < {r.randint(10, 170)} "
            f"AND S_INTERSECTS(geometry, BBOX({', '.join(map(str, _bbox(r)))}))"
        )
    ),
    "free-text": lambda r: SearchRequest(q=[r.choice(["nilas", "ice chart", "open water", "FYI"])]),
    "concept": lambda r: SearchRequest(
        concepts=["https://w3id.org/eokg/concept/seaice/sea-ice"], datetime=_month(r)
    ),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    items: int, queries: int, path: Path, batch: int, seed: int, reuse: bool = False
) -> dict[str, Any]:
    index = SqliteIndex(path, concepts=ConceptScheme.from_turtle(SKOS_TTL))
    results: dict[str, Any] = {}
    if not reuse:
        started = time.perf_counter()
        report = index.upsert_items(_items(items, seed), batch_size=batch)
        ingest_s = time.perf_counter() - started
        index.analyse()
        results["ingest_seconds"] = round(ingest_s, 1)
        results["ingest_items_per_s"] = round(report.indexed / ingest_s)
    results["items"] = index.search(SearchRequest(limit=1)).matched
    results["db_mb"] = round(path.stat().st_size / 1e6, 1)
    rng = random.Random(seed + 1)
    for name, make in QUERIES.items():
        timings, matched = [], []
        index.search(make(rng))  # warm up
        for _ in range(queries):
            request = make(rng)
            t0 = time.perf_counter()
            page = index.search(request)
            if page.next_token:  # second page too: keyset paging must stay cheap
                index.search(request.model_copy(update={"token": page.next_token}))
            timings.append((time.perf_counter() - t0) * 1000 / (2 if page.next_token else 1))
            matched.append(page.matched or 0)
        results[name] = {
            "median_ms": round(statistics.median(timings), 2),
            "p95_ms": round(_percentile(timings, 0.95), 2),
            "median_matched": statistics.median(matched),
        }
    index.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--path", type=Path, help="SQLite file (default: a temporary one)")
    parser.add_argument(
        "--reuse", action="store_true", help="query an existing --path without ingesting"
    )
    args = parser.parse_args(argv)
    if args.reuse and not (args.path and args.path.is_file()):
        parser.error("--reuse needs an existing --path")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or Path(tmp) / "catalog.sqlite"
        results = run(args.items, args.queries, path, args.batch_size, args.seed, args.reuse)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
