# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""The persistent spatial index: reopen without rescan, incremental updates, crash consistency.

The reference for every check is a fresh index resynced from the store's
geometry triples: after any write the maintained index must equal it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyoxigraph
import pytest
import shapely

from eokg.kg import spatial_index as si
from eokg.kg.functions import RELATIONS, relation_holds
from eokg.kg.source import QueryOptions
from eokg.kg.spatial_index import SpatialIndex, index_path
from eokg.kg.store import GeoStore
from eokg.kg.update_effects import NONE, effects_of
from eokg.ontologies.namespaces import GEO, GEOF

WKT = GEO + "wktLiteral"
P = f"PREFIX geo: <{GEO}>\nPREFIX geof: <{GEOF}>\nPREFIX ex: <http://ex/>\n"
BOX = '"POLYGON((10 74, 20 74, 20 78, 10 78, 10 74))"^^geo:wktLiteral'
SELECT_BOX = (
    P + f"SELECT ?w WHERE {{ GRAPH ?x {{ ?g geo:asWKT ?w }} FILTER(geof:sfIntersects(?w, {BOX})) }}"
)
SHARED = "POINT(15 76)"


def features(n: int, *, seed: int, prefix: str) -> list[str]:
    """N-Triples lines: points and small boxes around Svalbard, a few literals shared."""
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        x, y = rnd.uniform(0, 40), rnd.uniform(70, 82)
        if i % 7 == 0:
            wkt = SHARED
        elif i % 3 == 0:
            wkt = f"POINT({x:.4f} {y:.4f})"
        else:
            w, h = rnd.uniform(0.2, 2.5), rnd.uniform(0.1, 1.0)
            wkt = f"POLYGON(({x:.4f} {y:.4f}, {x + w:.4f} {y:.4f}, {x + w:.4f} {y + h:.4f}, {x:.4f} {y:.4f}))"
        lines.append(f'<http://ex/{prefix}{i}> <{GEO}asWKT> "{wkt}"^^<{WKT}> .')
    return lines


def write_nt(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_matches_rescan(store: GeoStore) -> None:
    reference = SpatialIndex()
    reference.resync(store._geometry_entries())
    assert store._index.contents() == reference.contents()
    assert len(store._index) == len(reference)
    assert store._index.exact == reference.exact
    assert sorted(store._index.bbox_candidates((10, 74, 20, 78))) == sorted(
        reference.bbox_candidates((10, 74, 20, 78))
    )
    assert store._index.extent() == reference.extent()


def checksum(store: GeoStore) -> tuple[int, str]:
    quads = sorted(str(q) for q in store.raw)
    return len(quads), hashlib.sha256("\n".join(quads).encode()).hexdigest()


def run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def released() -> None:
    """After ``del store``: free it now, so its RocksDB lock is released (rdflib's
    parser leaves reference cycles through the store's frames)."""
    gc.collect()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A persistent store, closed: two named graphs and the default graph, shared
    literals, one literal that does not parse, one in a projected CRS."""
    store = GeoStore(tmp_path / "db")
    store.load(
        [write_nt(tmp_path / "a.nt", features(40, seed=1, prefix="a"))], graph="http://ex/g1"
    )
    store.load(
        [write_nt(tmp_path / "b.nt", features(30, seed=2, prefix="b"))], graph="http://ex/g2"
    )
    extra = [
        *features(10, seed=3, prefix="d"),
        f'<http://ex/bad> <{GEO}asWKT> "POINT(1 2"^^<{WKT}> .',
        f'<http://ex/merc> <{GEO}asWKT> "<http://www.opengis.net/def/crs/EPSG/0/3857> POINT(1500000 12000000)"^^<{WKT}> .',
        f'<http://ex/str> <{GEO}asWKT> "POINT(1 2)" .',
    ]
    store.load([write_nt(tmp_path / "d.nt", extra)])
    store.flush()
    del store
    released()
    return tmp_path / "db"


@pytest.fixture
def mixed(db: Path) -> GeoStore:
    return GeoStore(db)


# --- reopening -----------------------------------------------------------------------------

REOPEN = """
import json, sys
from pathlib import Path
from eokg.kg.source import QueryOptions
from eokg.kg.store import GeoStore
store = GeoStore(Path(sys.argv[1]))
index = store._index
indexed = sorted(str(r["w"]) for r in store.query(sys.argv[2]))
plain = sorted(str(r["w"]) for r in store.query(sys.argv[2], QueryOptions(use_index=False)))
print(json.dumps({
    "resyncs": index.resyncs,
    "indexed": indexed,
    "plain": plain,
    "candidates": sorted(index.bbox_candidates((10, 74, 20, 78))),
    "count": store.geometry_count(),
}))
"""


def test_reopen_in_new_process_answers_without_resync(db: Path) -> None:
    store = GeoStore(db)
    assert_matches_rescan(store)
    candidates = sorted(store._index.bbox_candidates((10, 74, 20, 78)))
    count = store.geometry_count()
    del store
    released()
    assert index_path(db).exists()
    done = run_child(REOPEN, str(db), SELECT_BOX)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["resyncs"] == 0  # answered from the file, nothing rescanned
    assert out["indexed"] == out["plain"] and out["plain"]
    assert out["candidates"] == candidates and candidates
    assert out["count"] == count


def test_missing_index_is_rebuilt_and_leftover_discarded(tmp_path: Path) -> None:
    store = GeoStore(tmp_path / "db")
    store.load([write_nt(tmp_path / "a.nt", features(20, seed=5, prefix="a"))])
    count = store.geometry_count()
    del store
    released()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_path(tmp_path / 'db')}{suffix}").unlink(missing_ok=True)
    again = GeoStore(tmp_path / "db")
    assert again._index.resyncs == 1 and again.geometry_count() == count
    assert_matches_rescan(again)
    again.flush()
    del again
    released()
    # an index file whose store was deleted must not be believed by a new store
    leftover = index_path(tmp_path / "other")
    index_path(tmp_path / "db").rename(leftover)
    new = GeoStore(tmp_path / "other")
    assert new.geometry_count() == 0 and new._index.resyncs == 0


# --- updates keep the index equal to a rescan ----------------------------------------------

G1, G2 = "<http://ex/g1>", "<http://ex/g2>"
HERE = '"POINT(15 76)"^^geo:wktLiteral'
NEW = '"POLYGON((11 75, 12 75, 12 76, 11 75))"^^geo:wktLiteral'
UPDATES = {
    "insert data": f"INSERT DATA {{ GRAPH {G1} {{ ex:n1 geo:asWKT {NEW} . ex:n2 geo:asWKT {HERE} }} ex:n3 geo:asWKT {NEW} }}",
    "delete data shared": f"DELETE DATA {{ GRAPH {G1} {{ ex:a0 geo:asWKT {HERE} }} }}",
    "delete data unknown": 'DELETE DATA { ex:zz geo:asWKT "POINT(0 0)"^^geo:wktLiteral }',
    "insert data, two ops": f"INSERT DATA {{ ex:n4 geo:asWKT {NEW} }} ; DELETE DATA {{ GRAPH {G2} {{ ex:b1 geo:asWKT {NEW} }} }}",
    "modify": f"""DELETE {{ GRAPH ?x {{ ?g geo:asWKT ?w }} }} INSERT {{ GRAPH ?x {{ ?g geo:asWKT "POINT(-100 0)"^^geo:wktLiteral }} }}
        WHERE {{ GRAPH ?x {{ ?g geo:asWKT ?w }} FILTER(geof:sfIntersects(?w, {BOX})) }}""",
    "modify with": f"WITH {G2} DELETE {{ ?g geo:asWKT ?w }} INSERT {{ ?g geo:asWKT {NEW} }} WHERE {{ ?g geo:asWKT ?w FILTER(STRSTARTS(STR(?w), 'POINT')) }}",
    "modify using": f"DELETE {{ GRAPH {G1} {{ ?g geo:asWKT ?w }} }} USING {G1} WHERE {{ ?g geo:asWKT ?w FILTER(STRSTARTS(STR(?w), 'POLYGON')) }}",
    "variable predicate": f"DELETE {{ GRAPH {G2} {{ ?g ?p ?w }} }} WHERE {{ GRAPH {G2} {{ ?g ?p ?w FILTER(isLiteral(?w)) }} }}",
    "copy triples across graphs": f"INSERT {{ GRAPH {G2} {{ ?g geo:asWKT ?w }} }} WHERE {{ GRAPH {G1} {{ ?g geo:asWKT ?w }} }}",
    "delete where": f"DELETE WHERE {{ GRAPH {G1} {{ ?g geo:asWKT ?w }} }}",
    "delete where default": "DELETE WHERE { ?g geo:asWKT ?w }",
    "clear graph": f"CLEAR GRAPH {G1}",
    "drop graph": f"DROP GRAPH {G2}",
    "clear default": "CLEAR DEFAULT",
    "clear named": "CLEAR NAMED",
    "drop all": "DROP ALL",
    "move": f"MOVE {G1} TO {G2}",
    "copy default": f"COPY DEFAULT TO {G1}",
    "add": f"ADD {G2} TO DEFAULT",
    "insert after clear": f"CLEAR GRAPH {G1} ; INSERT {{ GRAPH {G1} {{ ?g geo:asWKT ?w }} }} WHERE {{ GRAPH {G2} {{ ?g geo:asWKT ?w }} }}",
}
# Updates whose effects are worked out exactly (no full rescan).
INCREMENTAL = set(UPDATES) - {"drop all", "insert after clear"}


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_update_keeps_index_equal_to_rescan(mixed: GeoStore, name: str) -> None:
    before = mixed._index.resyncs
    mixed.update(P + UPDATES[name])
    assert_matches_rescan(mixed)
    assert not mixed._index.needs_resync
    if name in INCREMENTAL:
        assert mixed._index.resyncs == before
    indexed = sorted(str(r["w"]) for r in mixed.query(SELECT_BOX))
    plain = sorted(str(r["w"]) for r in mixed.query(SELECT_BOX, QueryOptions(use_index=False)))
    assert indexed == plain


def test_update_sequence_and_reopen(db: Path) -> None:
    store = GeoStore(db)
    for name in (
        "insert data",
        "modify",
        "copy triples across graphs",
        "move",
        "delete data shared",
    ):
        store.update(P + UPDATES[name])
        assert_matches_rescan(store)
    contents = store._index.contents()
    del store
    released()
    again = GeoStore(db)
    assert again._index.resyncs == 0 and again._index.contents() == contents


def test_bulk_updates_in_one_graph(mixed: GeoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many candidates: checked one by one, or (more than the graph holds) by a graph scan."""
    mixed.extend(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode(f"http://ex/many{i}"),
            pyoxigraph.NamedNode(GEO + "asWKT"),
            pyoxigraph.Literal(f"POINT({i / 100} 71)", datatype=pyoxigraph.NamedNode(WKT)),
            pyoxigraph.NamedNode("http://ex/g3"),
        )
        for i in range(1500)
    )
    assert_matches_rescan(mixed)
    before = mixed._index.resyncs
    scans: list[object] = []
    scan = mixed._geometry_entries

    def recorded(graphs: object = None) -> object:
        scans.append(graphs)
        return scan(graphs)

    monkeypatch.setattr(mixed, "_geometry_entries", recorded)
    mixed.update(
        P
        + "INSERT { GRAPH <http://ex/g4> { ?g geo:asWKT ?w } } WHERE { GRAPH <http://ex/g3> { ?g geo:asWKT ?w } }"
    )
    assert scans == [{"http://ex/g4"}]  # 1,500 candidates, an empty graph: scanned
    assert_matches_rescan(mixed)
    scans.clear()
    mixed.update(
        P
        + "DELETE { GRAPH ?x { ?g geo:asWKT ?w } } WHERE { GRAPH ?x { ?g geo:asWKT ?w FILTER(STRSTARTS(STR(?g), 'http://ex/many')) } }"
    )
    assert scans == []  # 1,500 candidates in a graph of 1,500: checked one by one
    assert_matches_rescan(mixed)
    assert mixed._index.resyncs == before


def test_shared_literal_survives_deleting_one_triple() -> None:
    store = GeoStore()
    store.update(P + f"INSERT DATA {{ ex:a geo:asWKT {HERE} . ex:b geo:asWKT {HERE} }}")
    assert store.geometry_count() == 1
    store.update(P + f"DELETE DATA {{ ex:a geo:asWKT {HERE} }}")
    assert store.geometry_count() == 1
    assert store._index.bbox_candidates((15, 76, 15, 76)) == [f'"{SHARED}"^^<{WKT}>']
    store.update(P + "DELETE WHERE { ex:b geo:asWKT ?w }")
    assert store.geometry_count() == 0
    assert_matches_rescan(store)


def test_rejected_update_leaves_index_clean(mixed: GeoStore) -> None:
    contents = mixed._index.contents()
    with pytest.raises(Exception, match="update"):
        mixed.update(P + f"INSERT DATA {{ ex:n geo:asWKT {NEW} }} ; DELETE WHERE {{ ?s ")
    assert not mixed._index.needs_resync and mixed._index.contents() == contents


def test_updates_that_cannot_touch_geometry_are_not_analysed() -> None:
    def no_select(*_: object) -> list[object]:
        raise AssertionError("no SELECT expected")

    assert effects_of("INSERT DATA { <http://ex/a> <http://ex/p> 1 }", no_select) is NONE
    data = effects_of(
        P
        + f"INSERT DATA {{ ex:a geo:asWKT {HERE} . GRAPH {G1} {{ ex:b geo:asWKT {NEW} }} . ex:c ex:p 1 }}",
        no_select,
    )
    assert {(str(lit.value), graph) for lit, graph in data.pairs} == {
        (SHARED, ""),
        ("POLYGON((11 75, 12 75, 12 76, 11 75))", "http://ex/g1"),
    }


# --- the index itself ------------------------------------------------------------------------


def test_invalid_literals_are_remembered_not_reparsed(
    mixed: GeoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    contents = mixed._index.contents()
    assert f'"POINT(1 2"^^<{WKT}>' in contents  # held, without a shape
    assert '"POINT(1 2)"' not in "".join(contents)  # an xsd:string on asWKT is not a geometry
    assert not mixed._index.exact  # the EPSG:3857 literal is a reprojection
    assert mixed._index.shapes([f'"POINT(1 2"^^<{WKT}>', "nothing"]) == [None, None]
    calls = []
    original = si.parse_literals

    def counting(terms: list[object], texts: list[str] | None = None) -> object:
        calls.append(len(terms))
        return original(terms, texts)

    monkeypatch.setattr(si, "parse_literals", counting)
    mixed._index.resync(mixed._geometry_entries())
    assert calls == []  # nothing new, nothing parsed


def test_reads_equal_brute_force() -> None:
    rnd = random.Random(11)
    index = SpatialIndex()
    literals = []
    for i in range(3000):  # large enough for a three-level tree
        x, y = rnd.uniform(-20, 40), rnd.uniform(60, 85)
        wkt = (
            f"POINT({x:.5f} {y:.5f})"
            if i % 2
            else f"POLYGON(({x} {y}, {x + 1} {y}, {x + 1} {y + 0.5}, {x} {y}))"
        )
        literals.append(pyoxigraph.Literal(wkt, datatype=pyoxigraph.NamedNode(WKT)))
    index.add((lit, "g" if i % 3 else "") for i, lit in enumerate(literals))
    texts = [str(lit) for lit in literals]
    shapes = shapely.from_wkt([lit.value for lit in literals])
    assert [s.wkt for s in index.shapes(texts[:5])] == [s.wkt for s in shapes[:5]]
    constant = shapely.from_wkt("POLYGON((0 70, 10 70, 10 75, 0 75, 0 70))")
    for relation in ("sfIntersects", "sfWithin", "sfDisjoint", "ehCoveredBy", "rcc8po"):
        assert relation in RELATIONS
        want = sorted(
            t
            for t, hit in zip(texts, relation_holds(relation, shapes, constant), strict=True)
            if hit
        )
        assert sorted(index.select(relation, constant, constant_first=False)) == want
    box = (5.0, 65.0, 6.0, 80.0)
    want = sorted(
        t
        for t, s in zip(texts, shapes, strict=True)
        if shapely.intersects(shapely.box(*shapely.bounds(s)), shapely.box(*box))
    )
    assert sorted(index.bbox_candidates(box)) == want
    ext = index.extent("")
    bounds = shapely.bounds(shapes[[i % 3 == 0 for i in range(3000)]])
    assert ext == (bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())
    # row-by-row edits on the packed tree, then a repack; the tree stays valid
    index.discard((texts[i], "g" if i % 3 else "") for i in range(0, 3000, 5))
    index.add([(pyoxigraph.Literal("POINT(5.5 70)", datatype=pyoxigraph.NamedNode(WKT)), "h")])
    assert index._db.execute("SELECT rtreecheck('geom_box')").fetchone() == ("ok",)
    kept = {t for i, t in enumerate(texts) if i % 5} | {f'"POINT(5.5 70)"^^<{WKT}>'}
    everything = index.bbox_candidates((-180, -90, 180, 90))
    assert set(everything) == kept and len(everything) == len(kept)
    index.discard((texts[i], "g" if i % 3 else "") for i in range(3000) if i % 5 and i % 4)
    assert index._db.execute("SELECT rtreecheck('geom_box')").fetchone() == ("ok",)
    assert len(index.bbox_candidates((-180, -90, 180, 90))) == len(index)


def test_extend_is_indexed_and_atomic(tmp_path: Path) -> None:
    store = GeoStore(tmp_path / "db")
    quad = pyoxigraph.Quad(
        pyoxigraph.NamedNode("http://ex/x"),
        pyoxigraph.NamedNode(GEO + "asGeoJSON"),
        pyoxigraph.Literal(
            '{"type": "Point", "coordinates": [15, 76]}',
            datatype=pyoxigraph.NamedNode(GEO + "geoJSONLiteral"),
        ),
        pyoxigraph.NamedNode("http://ex/g"),
    )
    store.extend([quad])
    assert store.geometry_count() == 1 and store.spatial_extent("http://ex/g") == (15, 76, 15, 76)
    with pytest.raises(Exception, match="Quad"):
        store.extend([quad, "not a quad"])
    assert len(store) == 1 and not store._index.needs_resync


# --- kill -9 in the middle of a write ------------------------------------------------------

KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from eokg.kg import spatial_index
from eokg.kg.store import GeoStore
point, db, op, arg = sys.argv[1:5]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

store = GeoStore(Path(db))
WRITES = ("bulk_load", "bulk_extend", "update", "extend")

class Dying:  # the store, killed just before or just after it is written
    def __init__(self, inner, after):
        self._inner, self._after = inner, after
    def __getattr__(self, name):
        method = getattr(self._inner, name)
        if name not in WRITES:
            return method
        def write(*args, **kwargs):
            if self._after:
                method(*args, **kwargs)
            die()
        return write

if point in ("before_store", "after_store"):
    store._store = Dying(store._store, after=point == "after_store")
elif point == "before_commit":  # index changes staged, not committed
    spatial_index.SpatialIndex.end_write = die
if op == "load":
    store.load([Path(arg)], graph="http://ex/new")
else:
    store.update(arg)
print("not killed")
"""


@pytest.mark.parametrize("point", ["before_store", "after_store", "before_commit"])
@pytest.mark.parametrize("op", ["load", "update"])
def test_kill_during_write_leaves_store_and_index_agreeing(
    db: Path, tmp_path: Path, point: str, op: str
) -> None:
    data = write_nt(tmp_path / "new.nt", features(25, seed=9, prefix="n"))
    update = P + UPDATES["modify"]
    store = GeoStore(db)
    before = checksum(store)
    # the state the write would reach, done on a copy in memory
    target = GeoStore()
    target.extend(store.raw)
    del store
    released()
    if op == "load":
        target.load([data], graph="http://ex/new")
    else:
        target.update(update)
    after = checksum(target)
    assert after != before
    done = run_child(KILLED_WRITE, point, str(db), op, str(data) if op == "load" else update)
    assert done.returncode == -9, done.stdout + done.stderr
    reopened = GeoStore(db)
    assert reopened._index.resyncs == 1  # the dirty flag was seen, the index rebuilt
    assert checksum(reopened) == (before if point == "before_store" else after)
    assert_matches_rescan(reopened)


def test_index_file_is_plain_sqlite_with_rtree(db: Path) -> None:
    conn = sqlite3.connect(index_path(db))
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "geom", "geom_graph", "geom_box"} <= tables
    assert dict(conn.execute("SELECT key, value FROM meta"))["dirty"] == "0"
    assert conn.execute("SELECT rtreecheck('geom_box')").fetchone() == ("ok",)


def test_gml_and_kml_literals_are_indexed_when_they_parse() -> None:
    from eokg.errors import GeometryError
    from eokg.kg.geometry import parse_literal

    gml = (
        '<gml:Point xmlns:gml="http://www.opengis.net/gml/3.2"'
        ' srsName="http://www.opengis.net/def/crs/OGC/1.3/CRS84"><gml:pos>15 76</gml:pos></gml:Point>'
    )
    kml = '<Point xmlns="http://www.opengis.net/kml/2.2"><coordinates>16,77</coordinates></Point>'
    store = GeoStore()
    store.extend(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode(f"http://ex/{name}"),
            pyoxigraph.NamedNode(GEO + predicate),
            pyoxigraph.Literal(value, datatype=pyoxigraph.NamedNode(GEO + datatype)),
        )
        for name, predicate, value, datatype in (
            ("g", "asGML", gml, "gmlLiteral"),
            ("k", "asKML", kml, "kmlLiteral"),
        )
    )
    parses = 0
    for value, datatype in ((gml, "gmlLiteral"), (kml, "kmlLiteral")):
        try:
            parse_literal(value, GEO + datatype)
            parses += 1
        except GeometryError:
            pass  # not supported (yet): held as invalid, never matches
    assert len(store._index.contents()) == 2
    assert store.geometry_count() == parses
    assert_matches_rescan(store)
