# ruff: noqa: E501  (N-Triples lines read better unbroken)
"""``ntriples_scan`` finds exactly the geometry literals Oxigraph's parser finds.

Every check compares the scan with ``pyoxigraph.parse`` of the same file: the
literals' N-Triples texts (the index keys), their values and datatypes, the
triple and geometry-triple counts.  Lines are generated from tricky forms (escapes,
tabs, comments, CRLF, blank nodes, datatype IRIs in odd places, GeoJSON's
escaped quotes), and chunks are made small so both the text path and Oxigraph's
path run, and lines meet chunk ends.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph
import pytest

from eokg.kg import ntriples_scan
from eokg.kg.geometry import GEOMETRY_PREDICATES
from eokg.kg.ntriples_scan import scan_ntriples
from eokg.kg.spatial_index import is_geometry_literal
from eokg.kg.store import GeoStore

GEO = "http://www.opengis.net/ont/geosparql#"
WKT = f"<{GEO}wktLiteral>"
GEOJSON = f"<{GEO}geoJSONLiteral>"
GML = f"<{GEO}gmlLiteral>"

FORMS = [
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 70)"^^{wkt} .',
    '<http://ex/g{i}> <{geo}asWKT> "POLYGON(({i} 70, {i} 71, 9 71, {i} 70))"^^{wkt} .',
    '_:b{i} <{geo}asWKT> "POINT({i} 1)"^^{wkt} .',
    '<http://ex/g{i}>\t<{geo}asWKT>\t"POINT({i} 2)"^^{wkt}\t.',
    '<http://ex/g{i}>   <{geo}asWKT>  "POINT({i} 3)"^^{wkt}.',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 4)"^^{wkt} . # a comment ^^{wkt}',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 5)"^^{wkt} .\r',
    '<http://ex/g{i}> <{geo}asWKT> "POINT(\\u0031{i} 6)"^^{wkt} .',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i}\\t7)"^^{wkt} .',
    '<http://ex/g{i}> <{geo}asWKT> "<http://www.opengis.net/def/crs/EPSG/0/3413> POINT({i} 8)"^^{wkt} .',
    '<http://ex/g{i}> <{geo}asGeoJSON> "{{\\"type\\":\\"Point\\",\\"coordinates\\":[{i},9]}}"^^{geojson} .',
    "<http://ex/g{i}> <{geo}asGML> \"<gml:Point xmlns:gml='http://www.opengis.net/gml'><gml:pos>{i} 10</gml:pos></gml:Point>\"^^{gml} .",
    '<http://ex/g{i}> <http://ex/notGeometry> "POINT({i} 11)"^^{wkt} .',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 12)" .',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 13)"@en .',
    '<{geo}wktLiteral> <{geo}asWKT> "POINT({i} 14)"^^{wkt} .',
    "<http://ex/g{i}> <http://ex/p> {wkt} .",
    '<http://ex/g{i}> <http://ex/p> "a string with ^^{wkt} in it" .',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 15) Ünïcødé"^^{wkt} .',
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 16)\ufffe"^^{wkt} .',
    '<http://ex/s{i}> <http://ex/p> "plain {i}" .',
    '<http://ex/s{i}> <http://ex/p> "{i}"^^<http://www.w3.org/2001/XMLSchema#integer> .',
    "",
    "# a comment line",
    "   ",
    "  # an indented comment",
    '<http://ex/g{i}> <{geo}asWKT> "POINT({i} 17)"^^<{geo}wktLiteral> .',
]


def reference(path: Path) -> tuple[int, int, dict[str, tuple[str, str]]]:
    """(triples, geometry triples, text -> (value, datatype)) as Oxigraph parses them."""
    predicates = {pyoxigraph.NamedNode(p) for p in GEOMETRY_PREDICATES}
    triples = geometries = 0
    literals: dict[str, tuple[str, str]] = {}
    for quad in pyoxigraph.parse(path=str(path), format=pyoxigraph.RdfFormat.N_TRIPLES):
        triples += 1
        if quad.predicate in predicates and is_geometry_literal(quad.object):
            geometries += 1
            literals[str(quad.object)] = (quad.object.value, quad.object.datatype.value)
    return triples, geometries, literals


def scanned(path: Path, graph: str = "") -> tuple[int, int, dict[str, tuple[str, str]]]:
    found = scan_ntriples(path, graph, limit=10**9)
    literals = {}
    for text, (item, graphs) in found.literals.items():
        assert graphs == {graph}
        if isinstance(item, str):  # read as text: the datatype IRI
            literals[text] = (text[1 : len(text) - len(item) - 5], item)
        else:
            literals[text] = (item.value, item.datatype.value)
    return found.triples, found.geometries, literals


def write_lines(path: Path, lines: list[str], *, final_newline: bool = True) -> Path:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    path.write_bytes(text.encode())
    return path


def render(form: str, i: int) -> str:
    return form.format(i=i, geo=GEO, wkt=WKT, geojson=GEOJSON, gml=GML)


@pytest.mark.parametrize("form", FORMS)
def test_each_form_alone(tmp_path: Path, form: str) -> None:
    path = write_lines(tmp_path / "one.nt", [render(form, i) for i in range(3)])
    assert scanned(path) == reference(path)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("chunk", [64, 333, 4096, 1 << 20])
def test_generated_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, chunk: int
) -> None:
    monkeypatch.setattr(ntriples_scan, "_CHUNK_BYTES", chunk)
    rng = random.Random(seed)
    # mostly plain geometry lines (the text path), some odd ones (Oxigraph's path)
    plain, odd = FORMS[:2], FORMS
    lines = [
        render(rng.choice(plain if rng.random() < 0.8 else odd), rng.randrange(1000))
        for _ in range(rng.randrange(1, 400))
    ]
    path = write_lines(tmp_path / "gen.nt", lines, final_newline=rng.random() < 0.7)
    assert scanned(path, "http://ex/graph") == reference(path)


def test_plain_chunks_are_read_as_text(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "plain.nt", [render(FORMS[i % 2], i) for i in range(500)])
    found = scan_ntriples(path, "", limit=10**9)
    assert found.parsed_chunks == 0 and len(found.literals) == 500
    assert all(isinstance(item, str) for item, _ in found.literals.values())


def test_more_literals_than_the_limit_overflow(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "many.nt", [render(FORMS[0], i) for i in range(50)])
    found = scan_ntriples(path, "", limit=10)
    assert found.overflow and not found.literals
    assert (found.triples, found.geometries) == (50, 50)


def test_load_with_a_syntax_error_leaves_store_and_index_clean(tmp_path: Path) -> None:
    """The bulk load refuses the file (atomically): nothing written, and the index is
    not left dirty, so the next spatial query needs no rescan of the store."""
    store = GeoStore(tmp_path / "db")
    store.load([write_lines(tmp_path / "good.nt", [render(FORMS[0], i) for i in range(20)])])
    before = len(store)
    lines = [render(FORMS[i % 2], i) for i in range(5000)]
    lines[4000] = lines[4000].replace(" .", " <broken")
    bad = write_lines(tmp_path / "bad.nt", lines)
    with pytest.raises(Exception) as info:
        store.load([bad])
    assert f"{bad}:4001" in str(info.value)
    assert len(store) == before
    assert not store._index.needs_resync
    assert len(store._index) == 20
    store.close()
    reopened = GeoStore(tmp_path / "db")
    assert not reopened._index.needs_resync and reopened._index.resyncs == 0
    assert len(reopened._index) == 20
    reopened.close()


def test_small_chunks_take_both_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ntriples_scan, "_CHUNK_BYTES", 512)
    lines = [render(FORMS[i % 2], i) for i in range(200)]
    lines[100] = render(FORMS[7], 100)  # an escape: its chunk is parsed
    path = write_lines(tmp_path / "mixed.nt", lines)
    found = scan_ntriples(path, "", limit=10**9)
    kinds = {isinstance(item, str) for item, _ in found.literals.values()}
    assert found.parsed_chunks >= 1 and kinds == {True, False}
    assert scanned(path) == reference(path)
