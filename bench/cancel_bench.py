"""Timed-out queries: do they stop, and does the store stay responsive meanwhile?

    python -m bench.cancel_bench --slow 4 --seconds 8

An on-disk store; ``--slow`` client threads send a query that cannot finish
(a three-way cross product COUNT) with a 1 s timeout, again and again, for
``--seconds``; one client sends a quick ASK with a 5 s timeout every 20 ms.
Run twice in one process, side by side: evaluation in worker processes that are
killed on timeout (``query_workers = 2``, the default of ``eokg serve``) against
a thread per query (``query_workers = 0``, the old path, where Oxigraph cannot
be interrupted). Reported: the quick query's p50/p95, timeouts seen, and the
CPU seconds this process and its children still burn in the 3 s after the
slow clients stopped (runaway queries).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.procfs import cpu_seconds, descendants
from eokg.errors import QueryTimeout
from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore

SLOW = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?a <http://x/p> ?b . ?c <http://x/p> ?d . ?e <http://x/p> ?f }"
)
QUICK = "ASK { <http://x/s7> <http://x/p> 7 }"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    # reaped children count in RUSAGE_CHILDREN; live workers (grandchildren) via /proc
    live = sum(cpu_seconds(pid) for pid in descendants(os.getpid()))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + live


def run(store: GeoStore, slow: int, seconds: float) -> dict[str, Any]:
    stop = threading.Event()
    timeouts = [0]
    latencies: list[float] = []

    def slow_client() -> None:
        while not stop.is_set():
            try:
                list(store.query(SLOW, QueryOptions(timeout_s=1.0)))
            except QueryTimeout:
                timeouts[0] += 1

    def quick_client() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            assert bool(store.query(QUICK, QueryOptions(timeout_s=5.0)))
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)

    store.query(QUICK, QueryOptions(timeout_s=30.0))  # workers up before the clock
    threads = [threading.Thread(target=slow_client, daemon=True) for _ in range(slow)]
    threads.append(threading.Thread(target=quick_client, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(5)
    before = _cpu()
    time.sleep(3)
    after = _cpu()
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "quick": len(latencies),
        "timeouts": timeouts[0],
        "cpu_after_s": after - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    results = {}
    for label, workers in (("worker processes", 2), ("threads", 0)):
        with tempfile.TemporaryDirectory() as tmp:
            store = GeoStore(Path(tmp) / "store")
            store.query_workers = workers
            rows = " ".join(f"<http://x/s{i}> <http://x/p> {i} ." for i in range(3000))
            store.update(f"INSERT DATA {{ {rows} }}")
            results[label] = run(store, args.slow, args.seconds)
            if workers == 0:
                # runaway threads hold pyoxigraph results: the process must end, not close
                os._exit(_report(results, args))
            store.close()


def _report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> int:
    print(f"\n{args.slow} slow clients (1 s timeout) + 1 quick client, {args.seconds:g} s\n")
    print(
        "| evaluation | quick p50 | quick p95 | quick queries | timeouts "
        "| CPU s burnt in the 3 s after |"
    )
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {r['quick']} "
            f"| {r['timeouts']} | {r['cpu_after_s']:.2f} |"
        )
    pool, threads = results["worker processes"], results["threads"]
    print(
        f"\np95 ratio processes/threads: {pool['p95_ms'] / max(threads['p95_ms'], 1e-9):.2f}x; "
        f"CPU after: {pool['cpu_after_s']:.2f} s vs {threads['cpu_after_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    main()
