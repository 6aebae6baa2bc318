"""The embedded catalogue under faults: a full disk, and ``eokg index`` killed mid-run.

A full disk is SQLite's own SQLITE_FULL, reached through ``PRAGMA
max_page_count`` on the index's connection: the same error path a full file
system takes (SQLite reports both as "database or disk is full"), without
needing a tiny mount, which the test machine cannot make.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eokg.catalog.index import SearchRequest
from eokg.catalog.samples import make_items
from eokg.catalog.sqlite_index import SqliteIndex
from eokg.errors import StoreError


def _fill_up(index: SqliteIndex, spare_pages: int) -> None:
    conn = index._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


def test_disk_full_reports_the_real_error_and_keeps_earlier_batches(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    index = SqliteIndex(db)
    first = make_items(50, seed=1)
    index.upsert_items(first, batch_size=25)
    _fill_up(index, spare_pages=3)
    more = make_items(2000, seed=2)
    with pytest.raises(StoreError) as caught:
        index.upsert_items(more, batch_size=500)
    message = str(caught.value)
    assert "database or disk is full" in message, message
    assert "cannot rollback" not in message
    assert str(db) in message  # names the place
    index.close()
    reopened = SqliteIndex(db)
    matched = reopened.search(SearchRequest(limit=1)).matched
    assert matched is not None and matched >= 50 and (matched - 50) % 500 == 0
    assert {i["id"] for i in first} <= {
        i["id"] for i in reopened.search(SearchRequest(limit=10_000)).items
    }
    ok = sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok"


def test_index_command_reports_disk_full_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from eokg.catalog import sqlite_index
    from eokg.cli import main

    items = tmp_path / "items.ndjson"
    items.write_text("\n".join(json.dumps(i) for i in make_items(3000, seed=3)) + "\n")
    db = tmp_path / "cat.sqlite"
    opened = sqlite_index.SqliteIndex.__init__

    def small_disk(self: SqliteIndex, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)  # type: ignore[arg-type]
        _fill_up(self, spare_pages=40)

    monkeypatch.setattr(sqlite_index.SqliteIndex, "__init__", small_disk)
    code = main(["index", str(items), "--catalog", str(db), "--batch-size", "200"])
    captured = capsys.readouterr()
    assert code != 0
    text = captured.out + captured.err
    assert "database or disk is full" in text
    assert "Traceback" not in text and "cannot rollback" not in text


def test_index_killed_midway_leaves_whole_batches_and_a_rerun_completes(tmp_path: Path) -> None:
    items = tmp_path / "items.ndjson"
    n = 40_000
    items.write_text("\n".join(json.dumps(i) for i in make_items(n, seed=4)) + "\n")
    db = tmp_path / "cat.sqlite"
    command = [
        sys.executable,
        "-m",
        "eokg",
        "index",
        str(items),
        "--catalog",
        str(db),
        "--batch-size",
        "1000",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once a few batches are in
        if db.exists() and _count(db) >= 3000:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = _count(db)
    assert 3000 <= partial < n and partial % 1000 == 0, partial
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    index = SqliteIndex(db)
    assert index.search(SearchRequest(limit=1)).matched == partial
    index.close()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert SqliteIndex(db).search(SearchRequest(limit=1)).matched == n


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.Error:
        return 0
