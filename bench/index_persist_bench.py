# ruff: noqa: E501  (SPARQL and table lines read better unbroken)
"""Persistent spatial index: what loading, reopening and small updates cost.

    python -m bench.index_persist_bench --n 200000

Seeded data around Svalbard (``spatial_bench.write_data``: two thirds small
polygons, one third points).  Prints one table:

* (a) ``GeoStore.load`` (parse check, bulk load, index build) against plain
  ``pyoxigraph.Store.bulk_load`` of the same file, in memory and on disk
  (goal: within 1.5x);
* (b) the first spatial bbox query after reopening the store in a new process
  against the second one (goal: within 2x); module imports are done before the
  clock starts, so the figure is the index's, not Python's.  Measured for a
  query shape new to the store (rdflib parses it) and for one the store has
  answered before, as after a server restart (its parsed template is read from
  the store's template file, ``kg/template_cache.py``);
* (c) 1,000 single-triple ``INSERT DATA`` updates of a geometry, each followed
  by a spatial query, against the updates alone (goal: within 2x) and against
  the sum of updates alone and queries alone.

Each figure of (a) is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.spatial_bench import write_data

GEO = "http://www.opengis.net/ont/geosparql#"
PREFIX = f"PREFIX geo: <{GEO}>\nPREFIX geof: <http://www.opengis.net/def/function/geosparql/>\n"
BBOX = "POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def bbox_query(x: float, y: float, size: float = 0.5) -> str:
    box = BBOX.format(x0=x, y0=y, x1=x + size, y1=y + size)
    return (
        PREFIX
        + f'SELECT ?w WHERE {{ ?g geo:asWKT ?w FILTER(geof:sfIntersects(?w, "{box}"^^geo:wktLiteral)) }}'
    )


def best(repeat: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_load(data: Path, tmp: Path, repeat: int) -> dict[str, float]:
    import pyoxigraph

    from eokg.kg.store import GeoStore

    runs = iter(range(10_000))

    def oxigraph(disk: bool) -> None:
        store = pyoxigraph.Store(str(tmp / f"ox{next(runs)}") if disk else None)
        store.bulk_load(path=str(data), format=pyoxigraph.RdfFormat.N_TRIPLES)
        if disk:
            store.flush()

    def geostore(disk: bool) -> None:
        store = GeoStore(tmp / f"geo{next(runs)}" if disk else None)
        store.load([data])
        store.flush()

    out = {
        "oxigraph memory": best(repeat, lambda: oxigraph(False)),
        "geostore memory": best(repeat, lambda: geostore(False)),
        "oxigraph disk": best(repeat, lambda: oxigraph(True)),
        "geostore disk": best(repeat, lambda: geostore(True)),
    }
    out["rescan"] = _main_store(data, tmp / "main")
    gc.collect()  # release the store's lock for the other processes
    return out


def _main_store(data: Path, db: Path) -> float:
    """Load the store the later measures reopen; returns what a full rescan of it costs."""
    from eokg.kg.spatial_index import SpatialIndex
    from eokg.kg.store import GeoStore

    store = GeoStore(db)
    store.load([data])
    store.flush()
    return best(1, lambda: SpatialIndex().resync(store._geometry_entries()))


REOPEN = """
import json, sys, time
from pathlib import Path
import rdflib.plugins.sparql.parser, shapely, pyoxigraph  # imports are not the index's cost
import eokg.kg.planner, eokg.kg.functions
from eokg.kg.store import GeoStore
sys.path.insert(0, sys.argv[2])
from bench.index_persist_bench import bbox_query, bbox
if sys.argv[3] == "warm":  # as `eokg serve` does at startup: the grammar's first-use cost
    import eokg.kg.sparql_syntax
    eokg.kg.sparql_syntax.warm_up()
clock = time.perf_counter
t0 = clock()
store = GeoStore(Path(sys.argv[1]))
t1 = clock()
if sys.argv[4] == "index":
    first = len(store._index.select("sfIntersects", bbox(15.0, 75.0), constant_first=False))
    t2 = clock()
    second = len(store._index.select("sfIntersects", bbox(25.0, 78.0), constant_first=False))
else:
    first = len(list(store.query(bbox_query(15.0, 75.0))))
    t2 = clock()
    second = len(list(store.query(bbox_query(25.0, 78.0))))
t3 = clock()
print(json.dumps({"open": t1 - t0, "first": t2 - t1, "second": t3 - t2,
                  "rows": [first, second], "resyncs": store._index.resyncs}))
"""


def bbox(x: float, y: float, size: float = 0.5) -> Any:
    import shapely

    return shapely.box(x, y, x + size, y + size)


def bench_reopen(db: Path, parser: str, level: str, *, seen: bool = False) -> dict[str, Any]:
    """First and second spatial query in a fresh process (``level``: query or index).

    ``seen``: the store answered a query of this shape before (a restarted server),
    so its template file has the parsed template; otherwise that file is removed first.
    """
    from eokg.kg.template_cache import template_path

    if not seen:
        template_path(db).unlink(missing_ok=True)
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", REOPEN, str(db), root, parser, level],
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def bench_updates(db: Path, count: int) -> dict[str, float]:
    import random

    from eokg.kg.store import GeoStore

    store = GeoStore(db)
    rnd = random.Random(1)

    def insert(tag: str, i: int) -> None:
        x, y = rnd.uniform(0, 40), rnd.uniform(70, 82)
        store.update(
            PREFIX
            + f'INSERT DATA {{ <http://ex/{tag}{i}> geo:asWKT "POINT({x:.5f} {y:.5f})"^^geo:wktLiteral }}'
        )

    def query() -> None:
        for _ in store.query(bbox_query(rnd.uniform(0, 39), rnd.uniform(70, 81))):
            pass

    def select() -> None:
        store._index.select(
            "sfIntersects", bbox(rnd.uniform(0, 39), rnd.uniform(70, 81)), constant_first=False
        )

    def run(tag: str | None, step: Callable[[], None] | None) -> float:
        """``count`` rounds of: an update (unless ``tag`` is None), then ``step``."""

        def loop() -> None:
            for i in range(count):
                if tag is not None:
                    insert(tag, i)
                if step is not None:
                    step()

        return best(1, loop)

    query()  # warm up the parser and functions
    out = {
        "updates": run("u", None),
        "queries": run(None, query),
        "selects": run(None, select),
        "interleaved": run("m", query),
        "interleaved selects": run("s", select),
        "resyncs": float(store._index.resyncs),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000, help="features (one geometry each)")
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        data = tmp / "data.nt"
        write_data(data, args.n)
        load = bench_load(data, tmp, args.repeat)
        cold = bench_reopen(tmp / "main", "cold", "query")
        warm = bench_reopen(tmp / "main", "warm", "query")
        seen = bench_reopen(tmp / "main", "cold", "query", seen=True)
        index = bench_reopen(tmp / "main", "warm", "index")
        updates = bench_updates(tmp / "main", args.updates)
    n, u = f"{args.n:,}", f"{args.updates:,}"
    rows = [
        (
            "(a) load, in memory",
            load["geostore memory"],
            load["oxigraph memory"],
            "Store().bulk_load",
        ),
        (
            "(a) load, on disk",
            load["geostore disk"],
            load["oxigraph disk"],
            "Store(path).bulk_load",
        ),
        (
            "(b) first query after reopen, new process, a shape new to the store",
            cold["first"],
            cold["second"],
            "second query",
        ),
        ("(b) same, grammar warmed up as `eokg serve` does at startup", warm["first"], warm["second"], "second query"),
        (
            "(b) first query after reopen, a shape the store answered before",
            seen["first"],
            seen["second"],
            "second query",
        ),
        ("(b) first index select after reopen", index["first"], index["second"], "second select"),
        (
            f"(c) {u} updates, each + a query",
            updates["interleaved"],
            updates["updates"],
            "updates alone",
        ),
        (
            f"(c) {u} updates, each + a query",
            updates["interleaved"],
            updates["updates"] + updates["queries"],
            "updates alone + queries alone",
        ),
        (
            f"(c) {u} updates, each + an index select",
            updates["interleaved selects"],
            updates["updates"],
            "updates alone",
        ),
    ]
    print(f"\n{n} geometries ({2 * args.n:,} triples)\n")
    print("| measure | eokg | against | ratio | against what |")
    print("|---|---|---|---|---|")
    for label, ours, theirs, what in rows:
        print(f"| {label} | {ours:.3f} s | {theirs:.3f} s | {ours / theirs:.2f}x | {what} |")
    print(
        f"\nreopen: open {cold['open'] * 1000:.1f} ms, resyncs {cold['resyncs']}, rows {cold['rows']};"
        f" a full rescan (what the first query after reopen used to cost) {load['rescan']:.2f} s;"
        f" per update {updates['updates'] / args.updates * 1000:.2f} ms,"
        f" per query {updates['queries'] / args.updates * 1000:.2f} ms,"
        f" per index select {updates['selects'] / args.updates * 1000:.2f} ms;"
        f" resyncs during updates {updates['resyncs']:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
