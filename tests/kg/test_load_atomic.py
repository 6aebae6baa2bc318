"""Multi-file loads are one commit: a parse error or a kill -9 leaves all files or none.

Each check compares the whole store (quad count and a checksum of its sorted
N-Quads) and the spatial index with the state before and the state after.
"""

from __future__ import annotations

import gzip
import hashlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest

from eokg.cli import main
from eokg.errors import InputError, RDFParseError, StoreError
from eokg.kg.source import QueryOptions
from eokg.kg.spatial_index import SpatialIndex, index_path
from eokg.kg.store import GeoStore

GEO = "http://www.opengis.net/ont/geosparql#"
WKT = GEO + "wktLiteral"
BOX = '"POLYGON((10 74, 20 74, 20 78, 10 78, 10 74))"^^geo:wktLiteral'
SPATIAL = (  # no GRAPH: the union of all graphs
    f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
    f"SELECT ?g ?w WHERE {{ ?g geo:asWKT ?w FILTER(geof:sfIntersects(?w, {BOX})) }}"
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No eokg.toml or EOKG_* variable from the caller's environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("EOKG_CONFIG", "EOKG_STORE__BACKEND", "EOKG_STORE__PATH"):
        monkeypatch.delenv(name, raising=False)


def lines(prefix: str, n: int) -> list[str]:
    """N-Triples: plain triples and, one in 25, a point geometry (no blank nodes, so the
    state after a load is known from the files' text)."""
    out = []
    for i in range(n):
        if i % 25 == 0:
            point = f"POINT({i % 40} {70 + i % 12})"
            out.append(f'<http://ex/{prefix}/g{i}> <{GEO}asWKT> "{point}"^^<{WKT}> .')
        else:
            out.append(f'<http://ex/{prefix}/s{i}> <http://ex/p{i % 5}> "{prefix} {i}" .')
    return out


def write(path: Path, rows: Iterable[str]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row + "\n")
    return path


def digest(quads: Iterable[str]) -> tuple[int, str]:
    ordered = sorted(set(quads))
    return len(ordered), hashlib.sha256("\n".join(ordered).encode()).hexdigest()


def state(db: Path) -> tuple[int, str]:
    """(quads, checksum) of a closed on-disk store, read without opening it for writing."""
    store = pyoxigraph.Store.read_only(str(db))
    return digest(str(q) for q in store)


def after_loading(before: Path, files: list[Path]) -> tuple[int, str]:
    """What the store would hold once ``files`` are loaded into the default graph."""
    quads = {str(q) for q in pyoxigraph.Store.read_only(str(before))}
    for path in files:
        quads.update(str(q) for q in pyoxigraph.parse(path=path))
    return digest(quads)


def base_store(db: Path, tmp_path: Path) -> Path:
    """A small persistent store, closed: a few triples and geometries in a named graph."""
    store = GeoStore(db)
    store.load([write(tmp_path / "base.nt", lines("base", 200))], graph="http://ex/base")
    store.close()
    return db


def assert_index_agrees(db: Path) -> GeoStore:
    """Reopen: the index holds what a rescan of the store gives, and answers a spatial
    query as a scan of the store does."""
    store = GeoStore(db)
    reference = SpatialIndex()
    reference.resync(store._geometry_entries())
    assert store._index.contents() == reference.contents()
    indexed = sorted((str(r["g"]), str(r["w"])) for r in store.query(SPATIAL))
    scanned = sorted(
        (str(r["g"]), str(r["w"])) for r in store.query(SPATIAL, QueryOptions(use_index=False))
    )
    assert indexed == scanned and indexed
    assert not store._index.needs_resync
    return store


def leftovers(db: Path) -> list[Path]:
    return sorted(db.glob("bulk-*.sst"))


def index_dirty(db: Path) -> str | None:
    """The index's dirty flag as another process sees it: "1" while a write runs."""
    try:
        with sqlite3.connect(f"file:{index_path(db)}?mode=ro", uri=True, timeout=0.05) as db_:
            return dict(db_.execute("SELECT key, value FROM meta")).get("dirty")
    except sqlite3.Error:
        return None


def wait_for(child: subprocess.Popen[bytes], ready: Any, what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not ready():
        if child.poll() is not None:
            pytest.fail(f"the child ended (rc {child.returncode}) before {what}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


# --- (a) a syntax error in the second file -------------------------------------------------


def test_cli_load_with_a_bad_second_file_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = base_store(tmp_path / "db", tmp_path)
    store = GeoStore(db)
    index_before = store._index.contents()
    store.close()
    before = state(db)
    good = write(tmp_path / "a.nt", lines("a", 500))
    bad_rows = lines("b", 500)
    bad_rows[299] = '<http://ex/b/x> <http://ex/p> "unterminated .'
    bad = write(tmp_path / "b.nt", bad_rows)
    assert main(["load", "--store", str(db), str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:300" in err
    assert state(db) == before
    store = assert_index_agrees(db)
    assert store._index.contents() == index_before
    assert leftovers(db) == []


def test_cli_load_of_two_files_is_one_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = base_store(tmp_path / "db", tmp_path)
    files = [write(tmp_path / "a.nt", lines("a", 300)), write(tmp_path / "b.nt", lines("b", 300))]
    expected = after_loading(db, files)
    assert main(["load", "--store", str(db), *map(str, files)]) == 0
    assert "loaded 600 triples from 2 file(s)" in capsys.readouterr().out
    assert state(db) == expected
    assert_index_agrees(db).close()


def test_failure_while_writing_commits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that goes bad between the passes (or a disk error) stops the one bulk call:
    nothing of any file is committed and its temporary files are gone."""
    db = base_store(tmp_path / "db", tmp_path)
    before = state(db)
    files = [write(tmp_path / f"{n}.nt", lines(n, 3000)) for n in "abc"]
    real = GeoStore._stream

    def failing(self: GeoStore, *args: Any) -> Any:
        for number, quad in enumerate(real(self, *args)):
            if number == 7000:  # in the third file
                raise OSError("disk full")
            yield quad

    monkeypatch.setattr(GeoStore, "_stream", failing)
    store = GeoStore(db)
    with pytest.raises(StoreError, match="disk full"):
        store.load(files)
    assert leftovers(db) == []
    store.close()
    assert state(db) == before
    assert_index_agrees(db)


def test_blank_nodes_stay_apart_per_file(tmp_path: Path) -> None:
    a = write(tmp_path / "a.nt", ['_:b1 <http://ex/p> "x" .'])
    b = write(tmp_path / "b.nt", ['_:b1 <http://ex/p> "x" .'])
    c = tmp_path / "c.trig"
    c.write_text('_:b1 <http://ex/p> "x" . <http://ex/q> { _:b1 <http://ex/p> "y" }\n')
    store = GeoStore()
    store.load([a, b])
    assert len(store) == 2
    store.load([c, c], graph="http://ex/g")  # graph= rewrites the default-graph part
    assert len(store) == 6


# --- (b) kill -9 while a multi-file load writes ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("ssts", "parts"), [(1, 3), (3, 3), (1, 1), (3, 1)])
def test_kill_during_multi_file_load_leaves_before_or_after(
    tmp_path: Path, ssts: int, parts: int
) -> None:
    """Three files (parsed first, then one bulk call), or one file (bulk-loaded while
    its index rows are staged beside it): killed, the store is before or after."""
    db = base_store(tmp_path / "db", tmp_path)
    files = [
        write(tmp_path / f"part{n}.nt", lines(f"part{n}", 210_000 // parts)) for n in range(parts)
    ]
    before = state(db)
    after = after_loading(db, files)
    assert after[0] == before[0] + 210_000
    child = subprocess.Popen(
        [sys.executable, "-m", "eokg", "load", "--store", str(db), *map(str, files)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # pass 2: Oxigraph writes its SST files (4 for triples: id2str, spo, pos, osp) and
    # ingests them all when the call ends
    wait_for(child, lambda: len(leftovers(db)) >= ssts, f"{ssts} SST file(s) written")
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    left = leftovers(db)
    size = sum(path.stat().st_size for path in left)
    reached = state(db)
    assert reached in (before, after), "a partial load was committed"
    store = assert_index_agrees(db)  # the dirty flag was seen, the index rebuilt
    assert store.leftovers_removed == (len(left), size)
    assert leftovers(db) == []
    store.close()


# --- (c) kill -9 during a SPARQL UPDATE ------------------------------------------------------

UPDATE_CHILD = """
import sys
from pathlib import Path
from eokg.kg.store import GeoStore
GeoStore(Path(sys.argv[1])).update(Path(sys.argv[2]).read_text())
"""


@pytest.mark.slow
def test_kill_during_update_leaves_before_or_after(tmp_path: Path) -> None:
    db = base_store(tmp_path / "db", tmp_path)
    rows = lines("upd", 100_000)
    update = tmp_path / "insert.ru"
    update.write_text("INSERT DATA { GRAPH <http://ex/u> {\n" + "\n".join(rows) + "\n} }")
    before = state(db)
    inserted = (
        str(pyoxigraph.Quad(q.subject, q.predicate, q.object, pyoxigraph.NamedNode("http://ex/u")))
        for q in pyoxigraph.parse("\n".join(rows), pyoxigraph.RdfFormat.N_TRIPLES)
    )
    after = digest({*(str(q) for q in pyoxigraph.Store.read_only(str(db))), *inserted})
    child = subprocess.Popen(
        [sys.executable, "-c", UPDATE_CHILD, str(db), str(update)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # the update analysed, the index marked dirty: Oxigraph's transaction is running
    wait_for(child, lambda: index_dirty(db) == "1", "the update started writing")
    time.sleep(0.5)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert state(db) in (before, after), "a partial update was committed"
    assert_index_agrees(db).close()


# --- (d) base IRI ------------------------------------------------------------------------

TURTLE = """@prefix ex: <http://ex/> .
ex:a ex:p "x" .
<rel> ex:link <other#frag> .
"""
RDF_XML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/">
  <rdf:Description rdf:about="http://ex/abs">
    <ex:p>ok</ex:p>
  </rdf:Description>
  <rdf:Description rdf:about="thing">
    <ex:link rdf:resource="#frag"/>
  </rdf:Description>
</rdf:RDF>
"""
BASE = "http://base.example/data/doc"


def iris(store: GeoStore) -> set[tuple[str, str]]:
    return {
        (q.subject.value, q.object.value)
        for q in store.raw
        if isinstance(q.object, pyoxigraph.NamedNode)
    }


def test_base_iri_resolves_turtle_and_rdf_xml(tmp_path: Path) -> None:
    ttl = tmp_path / "rel.ttl"
    ttl.write_text(TURTLE)
    rdf = tmp_path / "rel.rdf"
    rdf.write_text(RDF_XML)
    gz = tmp_path / "rel.ttl.gz"
    gz.write_bytes(gzip.compress(TURTLE.encode()))
    expected = {
        ("http://base.example/data/rel", "http://base.example/data/other#frag"),
        ("http://base.example/data/thing", "http://base.example/data/doc#frag"),
    }
    together = GeoStore()  # several files: one stream of quads
    together.load([ttl, rdf], base_iri=BASE, graph="http://ex/g")
    assert iris(together) == expected and len(together) == 4
    for files in ([ttl], [rdf], [gz]):  # one file: Oxigraph reads it
        alone = GeoStore()
        alone.load(files, base_iri=BASE)
        assert iris(alone) <= expected and iris(alone)


def test_relative_iri_without_base_names_file_and_line(tmp_path: Path) -> None:
    ttl = tmp_path / "rel.ttl"
    ttl.write_text(TURTLE)
    rdf = tmp_path / "rel.rdf"
    rdf.write_text(RDF_XML)
    store = GeoStore()
    for path, line in ((ttl, 3), (rdf, 6)):
        with pytest.raises(RDFParseError) as err:
            store.load([path])
        assert f"{path}:{line}" in str(err.value) and "base" in str(err.value)
        assert err.value.details["line"] == line
    assert len(store) == 0
    with pytest.raises(InputError, match="absolute IRI"):
        store.load([ttl], base_iri="not a base")


def test_cli_base_iri(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ttl = tmp_path / "rel.ttl"
    ttl.write_text(TURTLE)
    db = tmp_path / "db"
    assert main(["load", "--store", str(db), str(ttl)]) == 1
    assert f"{ttl}:3" in capsys.readouterr().err
    assert main(["load", "--store", str(db), "--base-iri", BASE, str(ttl)]) == 0
    store = GeoStore(db)
    assert iris(store) == {("http://base.example/data/rel", "http://base.example/data/other#frag")}
    store.close()


# --- (e) leftovers of a killed bulk load -------------------------------------------------


def test_leftover_sst_files_are_removed_on_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = base_store(tmp_path / "db", tmp_path)
    before = state(db)
    planted = db / "bulk-123.sst"
    planted.write_bytes(b"\0" * 4096)
    other = db / "keep-me.sst"  # not a bulk-load name: left alone
    other.write_bytes(b"x")
    # while another process holds the store open, nothing is touched
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pyoxigraph; s = pyoxigraph.Store(sys.argv[1]);"
            " print('open', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
        with pytest.raises(StoreError):
            GeoStore(db)
        assert planted.exists()
    finally:
        holder.kill()
        holder.wait()
    with caplog.at_level("WARNING", logger="eokg.kg.store"):
        store = GeoStore(db)
    assert not planted.exists() and other.exists()
    assert store.leftovers_removed == (1, 4096)
    assert "interrupted load" in caplog.text
    store.close()
    assert state(db) == before
    again = GeoStore(db)
    assert again.leftovers_removed == (0, 0)
    again.close()


def test_truncated_gz_is_a_parse_error_naming_the_file(tmp_path: Path) -> None:
    import gzip

    from eokg.errors import RDFParseError
    from eokg.kg.store import GeoStore

    whole = gzip.compress(b"<http://ex/a> <http://ex/p> <http://ex/b> .\n" * 1000)
    broken = tmp_path / "cut.nt.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    store = GeoStore()
    with pytest.raises(RDFParseError) as caught:
        store.load([broken])
    assert "truncated or corrupt" in str(caught.value) and str(broken) in str(caught.value)
    assert len(store) == 0
