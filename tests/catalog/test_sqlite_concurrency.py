"""Embedded catalogue under concurrency (issue 13, item 8): readers of a file run side
by side on connections of their own, and a runaway statement is interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from eokg.catalog.index import SearchRequest
from eokg.catalog.samples import make_items
from eokg.catalog.sqlite_index import SqliteIndex
from eokg.errors import QueryTimeout


@pytest.fixture
def on_file(tmp_path: Path) -> SqliteIndex:
    index = SqliteIndex(tmp_path / "cat.sqlite")
    report = index.upsert_items(make_items(300), batch_size=100)
    assert report.failed == 0
    yield index
    index.close()


def test_readers_do_not_wait_for_a_writer_holding_the_lock(on_file: SqliteIndex) -> None:
    found: list[int] = []
    with on_file._lock:  # what a long ingest batch holds
        reader = threading.Thread(
            target=lambda: found.append(len(on_file.search(SearchRequest(limit=50)).items))
        )
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "a search waited for the writer's lock"
    assert found == [50]


def test_a_search_runs_while_another_read_is_open(on_file: SqliteIndex) -> None:
    holding, release = threading.Event(), threading.Event()

    def long_read() -> None:
        with on_file._reading():
            holding.set()
            release.wait(30)

    other = threading.Thread(target=long_read)
    other.start()
    assert holding.wait(10)
    try:
        assert on_file.search(SearchRequest(limit=300)).matched == 300
    finally:
        release.set()
        other.join(10)


def test_reader_connections_are_bounded_and_reused(on_file: SqliteIndex) -> None:
    """Request threads come and go (anyio retires idle ones): connections must not."""
    from eokg.catalog.sqlite_index import MAX_READERS

    pages: list[int] = []
    for _ in range(5):
        threads = [
            threading.Thread(target=lambda: pages.append(on_file.search(SearchRequest()).matched))
            for _ in range(12)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert pages == [300] * 60
    assert 1 <= len(on_file._readers) <= MAX_READERS


def test_reader_connections_keep_per_connection_settings(on_file: SqliteIndex) -> None:
    """CQL2 LIKE is case-sensitive: a PRAGMA that every new connection must set again."""
    out: list[tuple[int, int]] = []

    def read() -> None:
        lower = on_file.search(SearchRequest(filter="id LIKE 's1%'", limit=300)).matched
        upper = on_file.search(SearchRequest(filter="id LIKE 'S1%'", limit=300)).matched
        out.append((lower, upper))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(30)
    ((lower, upper),) = out
    assert upper == 0 or lower == 0  # the ids are in one case only


def test_a_runaway_search_is_interrupted(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "slow.sqlite", statement_timeout_s=1e-6)
    index.upsert_items(make_items(2000), batch_size=500)
    with pytest.raises(QueryTimeout) as caught:
        index.search(SearchRequest(filter="id LIKE '%x%' OR title LIKE '%y%'", limit=300))
    assert caught.value.where == "catalogue"
    index.statement_timeout_s = 10.0
    assert index.search(SearchRequest(limit=5)).items  # the catalogue still answers
    index.close()
