"""A timed-out query over HTTP stops consuming CPU (issue 13, item 4).

The endpoint serves an on-disk store; its timed-out queries run in worker
processes that are killed, so no thread or process keeps evaluating them.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

SLOW = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?a <http://x/p> ?b . ?c <http://x/p> ?d . ?e <http://x/p> ?f }"
)


def test_timed_out_queries_leave_nothing_running(tmp_path: Path, settings: Any) -> None:
    from eokg.api.app import create_app
    from eokg.kg.store import GeoStore

    store = GeoStore(tmp_path / "store")
    store.query_workers = 2
    rows = " ".join(f"<http://x/s{i}> <http://x/p> {i} ." for i in range(2000))
    store.update(f"INSERT DATA {{ {rows} }}")
    configured = settings.model_copy(
        update={"api": settings.api.model_copy(update={"query_timeout_s": 0.5})}, deep=True
    )
    client = TestClient(create_app(configured, store=store))
    earlier = set(threading.enumerate())  # other tests' in-memory stores use threads
    try:
        pids = set()
        for _ in range(3):
            assert store._pool is None or len(store._pool) > 0
            if store._pool is not None:
                pids |= {w.process.pid for w in store._pool._workers}
            response = client.get("/sparql", params={"query": SLOW})
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
        pool = store._pool
        assert pool is not None
        settle = time.monotonic() + 10
        while pool.killed < 3 and time.monotonic() < settle:
            time.sleep(0.05)  # the HTTP 503 and the kill race by a few milliseconds
        assert pool.killed == 3
        for pid in pids:  # every worker that held a slow query is gone
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            alive = [w.process.pid for w in pool._workers]
            assert pid in alive, f"worker {pid} survived its timeout"
        busy = [t.name for t in set(threading.enumerate()) - earlier if t.name == "eokg-query"]
        assert busy == []  # no thread left inside Oxigraph either
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = client.get("/sparql", params={"query": "ASK { <http://x/s1> ?p ?o }"})
            if answer.status_code == 200:
                break
            time.sleep(0.2)  # replacements are still starting
        assert answer.status_code == 200 and answer.json()["boolean"] is True
    finally:
        client.close()
        store.close()
