"""Queries with a deadline on an on-disk store run in worker processes that are killed
on timeout: the query stops using the CPU, the store keeps answering."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eokg.errors import QueryError, QueryTimeout, ResultTooLarge
from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore

GEO = "http://www.opengis.net/ont/geosparql#"
#: a cross product Oxigraph needs many seconds for (2,000^3 rows to count)
SLOW = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?a <http://x/p> ?b . ?c <http://x/p> ?d . ?e <http://x/p> ?f }"
)


def _data(n: int) -> str:
    rows = [f"<http://x/s{i}> <http://x/p> {i} ." for i in range(n)]
    rows += [
        f'<http://x/g{i}> <{GEO}asWKT> "POINT({i % 50} {i % 40})"^^<{GEO}wktLiteral> .'
        for i in range(200)
    ]
    rows.append('<http://x/s0> <http://x/label> "zero"@en .')
    return "INSERT DATA { " + "\n".join(rows) + " }"


@pytest.fixture
def disk_store(tmp_path: Path) -> Iterator[GeoStore]:
    store = GeoStore(tmp_path / "store")
    store.query_workers = 2
    store.update(_data(2000))
    yield store
    store.close()


def _rows(result: object) -> list[tuple[str, ...]]:
    out = []
    for solution in result:  # type: ignore[attr-defined]
        out.append(tuple(str(solution[v]) for v in result.variables))  # type: ignore[attr-defined]
    return sorted(out)


LIMITED = QueryOptions(timeout_s=30, max_results=100_000)


def test_a_timed_out_query_is_killed_and_the_store_still_answers(disk_store: GeoStore) -> None:
    with pytest.raises(QueryTimeout):
        disk_store.query(SLOW, QueryOptions(timeout_s=0.5))
    pool = disk_store._pool
    assert pool is not None and pool.killed == 1
    answer = disk_store.query("ASK { <http://x/s1> <http://x/p> 1 }", LIMITED)
    assert bool(answer)


def test_killed_workers_are_gone(disk_store: GeoStore) -> None:
    disk_store.query("ASK {}", LIMITED)  # starts the pool
    pool = disk_store._pool
    assert pool is not None
    before = {w.process.pid for w in pool._workers}
    for _ in range(2):
        with pytest.raises(QueryTimeout):
            disk_store.query(SLOW, QueryOptions(timeout_s=0.3))
    for pid in before:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # reaped: no runaway process left burning a core
    deadline = time.monotonic() + 60
    while len(pool) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # replacements join in the background
    assert 2 <= len(pool) <= pool.max_workers


def test_pool_results_equal_the_thread_path(disk_store: GeoStore) -> None:
    queries = [
        "SELECT ?s ?o WHERE { ?s <http://x/p> ?o FILTER(?o < 5) }",
        "SELECT ?s ?l WHERE { ?s <http://x/label> ?l }",
        "SELECT ?s ?missing WHERE { ?s <http://x/p> 3 OPTIONAL { ?s <http://x/q> ?missing } }",
        f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
        "SELECT ?g WHERE { ?g geo:asWKT ?w FILTER(geof:sfWithin(?w, "
        '"POLYGON((-0.5 -0.5, 3.5 -0.5, 3.5 3.5, -0.5 3.5, -0.5 -0.5))"^^geo:wktLiteral)) }',
        "SELECT (<http://www.opengis.net/def/function/geosparql/area>("
        f'"POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"^^<{GEO}wktLiteral>) AS ?a) WHERE {{}}',
    ]
    for text in queries:
        pooled = _rows(disk_store.query(text, LIMITED))
        plain = _rows(disk_store.query(text))
        assert pooled == plain and pooled, text
    assert bool(disk_store.query("ASK { ?s <http://x/label> 'zero'@en }", LIMITED))
    constructed = disk_store.query(
        "CONSTRUCT { ?s <http://x/copy> ?o } WHERE { ?s <http://x/p> ?o FILTER(?o < 3) }", LIMITED
    )
    assert len(list(constructed)) == 3


def test_workers_see_every_finished_write(disk_store: GeoStore) -> None:
    ask = "ASK { <http://x/new> <http://x/p> 1 }"
    assert not bool(disk_store.query(ask, LIMITED))
    disk_store.update("INSERT DATA { <http://x/new> <http://x/p> 1 }")
    assert bool(disk_store.query(ask, LIMITED))
    disk_store.update("DELETE DATA { <http://x/new> <http://x/p> 1 }")
    assert not bool(disk_store.query(ask, LIMITED))


def test_errors_and_caps_cross_the_process_boundary(disk_store: GeoStore) -> None:
    with pytest.raises(QueryError):
        disk_store.query("SELECT * WHERE { ?s ?p }", LIMITED)
    with pytest.raises(ResultTooLarge):
        disk_store.query("SELECT * WHERE { ?s <http://x/p> ?o }", QueryOptions(max_results=10))


def test_in_memory_stores_keep_the_thread_path() -> None:
    store = GeoStore()
    store.query_workers = 2
    store.update(_data(10))
    assert bool(store.query("ASK { <http://x/s1> <http://x/p> 1 }", LIMITED))
    assert store._pool is None
