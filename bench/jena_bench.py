"""eokg beside Apache Jena Fuseki + GeoSPARQL on the same data: load, selection, typed join.

    bash scripts/vendor_jena.sh      # once: Jena 5.6.0 jars into .vendor/jena/lib
    python -m bench.jena_bench --footprints 1000 --cells 10000 --others 100000

The data and the two queries are those of ``bench/geosparql_bench.py`` (imported,
not copied): footprints, ice cells and other points, each reached with
``geo:hasGeometry/geo:asWKT``; the selection in the README's path form
(``FILTER(geof:sfIntersects(?w, "POLYGON..."^^geo:wktLiteral))``) and the typed join
(``geof:sfIntersects`` between a footprint's and a cell's geometry).

The N-Triples file is written once.  eokg loads it into an on-disk ``GeoStore`` and
answers in process (``GeoStore.query``) and over HTTP (``eokg serve`` on loopback,
its query workers included).  Jena runs as Fuseki main 5.6.0 with the GeoSPARQL
assembler (``bench/jena/config-*.ttl``) in a JVM started here on 127.0.0.1, over
TDB2 (default) or an in-memory dataset, and is asked over HTTP.  Jena's spatial
index serves its GeoSPARQL *property functions* (``?g geo:sfIntersects ...``); a
``geof:sfIntersects`` FILTER is evaluated solution by solution, so Jena is also
timed with the property-function form of each query (same answers, checked), its
best form, and ratios are given against both.

Load, exactly: eokg, ``GeoStore(path).load([file])`` in this process (parse check,
Oxigraph bulk load into RocksDB, R*Tree index build, commit); Jena/TDB2, the wall
time of ``tdb2.tdbloader`` (JVM start, parse, TDB2 indexes) plus the Fuseki start
until its first answered query (JVM start, open TDB2, build the spatial index from
the data and save it to its file, start Jetty); Jena/memory, the Fuseki start until
its first answer (parse into memory, build and save the spatial index, Jetty).

Each query is run once to warm up, then timed best of ``--repeat``; a warm-up
slower than ``--slow`` seconds is reported as that single run.  The JVM and the
eokg server are stopped at the end, on errors too (their process groups).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from string import Template
from typing import Any

from bench.geosparql_bench import JOIN, PREFIX, SELECTION, timed, write_data

ROOT = Path(__file__).resolve().parent.parent
JENA_LIB = ROOT / ".vendor" / "jena" / "lib"
JENA_CONFIG = Path(__file__).resolve().parent / "jena"
JENA_VERSION = "5.6.0"
RESULTS_JSON = "application/sparql-results+json"
# The selection box, taken from geosparql_bench's query so both forms ask the same thing.
BOX = re.search(r"'(POLYGON\(\([^']*\)\))'", SELECTION).group(1)  # type: ignore[union-attr]
# Jena's indexed forms: the property function with its unbound side searched in the
# spatial index, so the geometry pattern comes before the class pattern.
SELECTION_PF = PREFIX + (
    f"SELECT ?f WHERE {{ ?g geo:sfIntersects '{BOX}'^^geo:wktLiteral . "
    "?f a ex:Other ; geo:hasGeometry ?g . }"
)
JOIN_PF = PREFIX + (
    "SELECT ?f ?c WHERE { ?f a ex:Footprint ; geo:hasGeometry ?g1 . "
    "?g1 geo:sfIntersects ?g2 . ?c a ex:Cell ; geo:hasGeometry ?g2 . }"
)

Rows = list[tuple[str, ...]]


@dataclass
class Timing:
    """One engine's figure for one measure: seconds, or why there is none."""

    seconds: float | None
    rows: Rows | None = None
    note: str = ""


@dataclass
class Measure:
    """A table row: the measure and each engine's timing, keyed by column."""

    name: str
    cells: dict[str, Timing] = field(default_factory=dict)


def record(table: dict[str, Measure], key: str, column: str, timing: Timing) -> None:
    """Keep a figure and print it at once: a long run shows progress, and a killed one
    still leaves what it measured in its log."""
    table[key].cells[column] = timing
    rows = "" if timing.rows is None else f", {len(timing.rows):,} rows"
    print(f"  {column:<12} {key:<27} {_cell(timing)}{rows}", flush=True)


def free_port() -> int:
    """A loopback port nobody holds now, so two runs on one machine do not collide."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def best_of(run: Callable[[], Rows], repeat: int, slow: float) -> Timing:
    """Warm up once, then best of ``repeat``: a cold first run measures caches, not engines.

    A warm-up slower than ``slow`` seconds stands alone (noted), so a nested-loop
    plan costs one run, not four.  Errors (a timeout) become a note, not a crash, so
    the other figures of the run survive.
    """
    try:
        first, rows = timed(run)
        if first > slow:
            return Timing(first, rows, "1 run")
        return Timing(min(timed(run)[0] for _ in range(repeat)), rows)
    except RuntimeError as exc:
        return Timing(None, None, str(exc))


def _stop_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the whole process group, then SIGKILL: servers fork workers of their own."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)
    except ProcessLookupError:
        pass


@contextmanager
def server(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """Run ``cmd`` in its own session (one group to kill) with output to ``log``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            yield proc
        finally:
            _stop_group(proc)


def wait_ready(client: Any, url: str, proc: Any, log: Path, limit: float) -> None:
    """Poll with an ASK until answered: Fuseki listens only once its dataset is assembled."""
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited early:\n{log.read_text()[-3000:]}")
        try:
            if client.post(url, data={"query": "ASK {}"}).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"no answer from {url} in {limit:.0f} s:\n{log.read_text()[-3000:]}")


def http_rows(client: Any, url: str, query: str, names: tuple[str, ...]) -> Rows:
    """One SPARQL protocol POST, rows parsed: both servers are timed including the wire."""
    import httpx

    try:
        response = client.post(url, data={"query": query}, headers={"Accept": RESULTS_JSON})
    except httpx.HTTPError as exc:  # a read timeout: noted in the table, the run goes on
        raise RuntimeError(f"{type(exc).__name__} after {client.timeout.read:.0f} s") from exc
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        bindings = response.json()["results"]["bindings"]
    except ValueError:  # Fuseki ends a streamed answer mid-way when its query timeout hits
        raise RuntimeError("answer cut off (the server's query timeout)") from None
    return sorted(tuple(b[n]["value"] for n in names) for b in bindings)


def store_rows(geo: Any, query: str, names: tuple[str, ...]) -> Rows:
    """Rows from ``GeoStore.query``, materialised like the HTTP ones so the work matches."""
    return sorted(tuple(r[n].value for n in names) for r in geo.query(query))


def java(heap: str, *args: str) -> list[str]:
    """A JVM on the vendored jars: nothing is fetched at run time."""
    if not JENA_LIB.is_dir():
        raise SystemExit(f"no {JENA_LIB}: run `bash scripts/vendor_jena.sh` first")
    return ["java", f"-Xmx{heap}", "-cp", f"{JENA_LIB}/*", *args]


def run_eokg(data: Path, root: Path, args: argparse.Namespace, table: dict[str, Measure]) -> None:
    """Load into an on-disk GeoStore, query in process, then over ``eokg serve``."""
    from eokg.kg.store import GeoStore

    geo = GeoStore(root / "eokg")
    t_load, _ = timed(lambda: geo.load([data], graph="http://ex/g"))
    record(table, "load", "eokg", Timing(t_load, note="in process"))
    for key, query, names in QUERIES:
        record(
            table,
            key,
            "eokg",
            best_of(partial(store_rows, geo, query, names), args.repeat, args.slow),
        )
    geo.close()
    if args.no_http:
        return
    port = free_port()
    env = {
        **os.environ,
        "EOKG_DATA_DIR": str(root),
        "EOKG_STORE__PATH": str(root / "eokg"),
        "EOKG_CATALOG__PATH": str(root / "catalog.sqlite"),
        "EOKG_API__QUERY_TIMEOUT_S": str(args.timeout),
    }
    cmd = [sys.executable, "-m", "eokg", "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/sparql"
    with server(cmd, root / "eokg-serve.log", env) as proc, _client(args.timeout) as client:
        wait_ready(client, url, proc, root / "eokg-serve.log", 120)
        for key, query, names in QUERIES:
            record(
                table,
                key,
                "eokg HTTP",
                best_of(partial(http_rows, client, url, query, names), args.repeat, args.slow),
            )


@contextmanager
def _client(timeout: float) -> Iterator[Any]:
    """One keep-alive client, its read timeout past the servers' own query timeouts."""
    import httpx

    with httpx.Client(timeout=httpx.Timeout(timeout + 30, connect=5)) as client:
        yield client


def run_jena(
    data: Path, root: Path, store: str, args: argparse.Namespace, table: dict[str, Measure]
) -> None:
    """Load into Jena (TDB2 or memory), start Fuseki with its spatial index, query it."""
    column = f"Jena {store}"
    work = root / f"jena-{store}"
    work.mkdir()
    t_bulk = 0.0
    if store == "tdb2":
        loader = java(args.heap, "tdb2.tdbloader", "--loc", str(work / "tdb"), str(data))
        with (work / "tdbloader.log").open("wb") as out:
            t_bulk, _ = timed(lambda: subprocess.run(loader, stdout=out, stderr=out, check=True))
    config = Template((JENA_CONFIG / f"config-{store}.ttl").read_text()).substitute(
        tdb=work / "tdb",
        index=work / "spatial.index",
        data=data.as_uri(),
        timeout_ms=int(args.timeout * 1000),
    )
    (work / "config.ttl").write_text(config)
    port = free_port()
    cmd = java(
        args.heap,
        "org.apache.jena.fuseki.main.cmds.FusekiMainCmd",
        "--localhost",
        f"--port={port}",
        f"--config={work / 'config.ttl'}",
    )
    url = f"http://127.0.0.1:{port}/geo/query"
    started = time.perf_counter()
    with server(cmd, work / "fuseki.log") as proc, _client(args.timeout) as client:
        wait_ready(client, url, proc, work / "fuseki.log", args.start_limit)
        t_start = time.perf_counter() - started
        note = f"tdbloader {t_bulk:.1f} s + start {t_start:.1f} s" if t_bulk else "start"
        record(table, "load", column, Timing(t_bulk + t_start, note=note))
        for key, query, names in QUERIES + JENA_FORMS:
            record(
                table,
                key,
                column,
                best_of(partial(http_rows, client, url, query, names), args.repeat, args.slow),
            )


# (table key, query text, result variables); the second list is Jena's indexed forms.
QUERIES = [("selection", SELECTION, ("f",)), ("typed join", JOIN, ("f", "c"))]
JENA_FORMS = [
    ("selection, property form", SELECTION_PF, ("f",)),
    ("typed join, property form", JOIN_PF, ("f", "c")),
]


def report(table: dict[str, Measure], columns: list[str], n: int) -> bool:
    """Print the table (Markdown) with Jena/eokg ratios; False when any rows differ."""
    reference = {"selection": "selection", "typed join": "typed join"}
    reference |= {k: k.split(",")[0] for k, _, _ in JENA_FORMS}
    same = True
    bases = [c for c in columns if c.startswith("eokg")]
    jenas = [c for c in columns if c.startswith("Jena")]
    head = ["measure", *columns, *(f"{j} / {b}" for j in jenas for b in bases)]
    print(f"\n{n:,} geometries, load average {os.getloadavg()[0]:.2f}\n")
    print("| " + " | ".join([*head, "same rows"]) + " |")
    print("|" + "---|" * (len(head) + 1))
    for key, measure in table.items():
        own = table[reference.get(key, key)].cells
        base = own.get("eokg")
        cells, ratios, checks = [], [], []
        for column in columns:
            timing = measure.cells.get(column)
            if column.startswith("eokg") and key != reference.get(key, key):
                timing = None  # eokg has one form; its figure is on the base row
            cells.append(_cell(timing))
            if column.startswith("Jena"):
                ratios += [_ratio(timing, own.get(b)) for b in bases]
            if timing and timing.rows is not None and base and base.rows is not None:
                ok = timing.rows == base.rows
                same &= ok
                checks.append("yes" if ok else f"NO ({column}: {len(timing.rows)})")
        rows = base.rows if base and base.rows is not None else None
        label = f"{key} ({len(rows):,} rows)" if rows is not None and key != "load" else key
        check = ", ".join(sorted(set(checks))) if checks else ""
        print("| " + " | ".join([label, *cells, *ratios, check]) + " |")
    return same


def _cell(timing: Timing | None) -> str:
    """Seconds (3 significant places), with the timing's note; blank when not run."""
    if timing is None:
        return ""
    if timing.seconds is None:
        return f"failed: {timing.note}"
    text = f"{timing.seconds:.3f} s" if timing.seconds < 10 else f"{timing.seconds:.1f} s"
    return f"{text} ({timing.note})" if timing.note else text


def _ratio(timing: Timing | None, base: Timing | None) -> str:
    """Jena's time over eokg's: above 1 means Jena is slower."""
    if not timing or not base or timing.seconds is None or not base.seconds:
        return ""
    return f"{timing.seconds / base.seconds:.2f}x"


def main(argv: list[str] | None = None) -> int:
    """Write the data once, run eokg then each Jena store, one heavy job at a time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footprints", type=int, default=1000)
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jena-store", nargs="+", choices=["tdb2", "memory"], default=["tdb2"])
    parser.add_argument("--heap", default="6g", help="JVM -Xmx (keep <= 6g on shared machines)")
    parser.add_argument("--timeout", type=float, default=600, help="per query, both servers (s)")
    parser.add_argument("--start-limit", type=float, default=1800, help="Fuseki start-up (s)")
    parser.add_argument("--slow", type=float, default=60, help="a slower warm-up runs once")
    parser.add_argument("--no-http", action="store_true", help="skip the `eokg serve` column")
    args = parser.parse_args(argv)
    order = ["load", "selection", "selection, property form", "typed join"]
    table = {k: Measure(k) for k in [*order, "typed join, property form"]}
    print(f"Jena {JENA_VERSION} ({JENA_LIB}); load average at start {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="jena-bench-") as tmp:
        root = Path(tmp)
        data = root / "data.nt"
        write_data(data, args.footprints, args.cells, args.others)
        run_eokg(data, root, args, table)
        for store in args.jena_store:
            run_jena(data, root, store, args, table)
    columns = ["eokg", *([] if args.no_http else ["eokg HTTP"])]
    columns += [f"Jena {s}" for s in args.jena_store]
    same = report(table, columns, args.footprints + args.cells + args.others)
    print(f"\nload average at end {os.getloadavg()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
