"""The persistent tier of the parse cache: a reopened store skips rdflib's parser."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from eokg.kg import sparql_syntax as syntax
from eokg.kg.sparql_syntax import Writer
from eokg.kg.store import GeoStore
from eokg.kg.template_cache import (
    TemplateFile,
    decode_tree,
    encode_tree,
    template_path,
)
from tests.kg.w3c_suite import SUITES

GEO = "http://www.opengis.net/ont/geosparql#"
PREFIXES = f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
DATA = "\n".join(
    f'<http://ex/g{i}> <{GEO}asWKT> "POINT({i} {i})"^^<{GEO}wktLiteral> .' for i in range(10)
)


def box_query(x0: float, x1: float) -> str:
    box = f"POLYGON(({x0} {x0}, {x1} {x0}, {x1} {x1}, {x0} {x1}, {x0} {x0}))"
    return (
        PREFIXES + "SELECT ?g WHERE { ?g geo:asWKT ?w "
        f'FILTER(geof:sfIntersects(?w, "{box}"^^geo:wktLiteral)) }} ORDER BY ?g'
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    (tmp_path / "data.nt").write_text(DATA + "\n", encoding="utf-8")
    store = GeoStore(tmp_path / "db")
    store.load([tmp_path / "data.nt"])
    store.close()
    return tmp_path / "db"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text rdflib's parser is asked to parse, in-memory cache emptied first."""
    syntax.clear_parse_cache()
    calls: list[str] = []
    original = syntax._parse

    def counting(text: str) -> syntax.SyntaxTree:
        calls.append(text)
        return original(text)

    monkeypatch.setattr(syntax, "_parse", counting)
    return calls


def rows(store: GeoStore, text: str) -> list[str]:
    return [solution["g"].value for solution in store.query(text)]


def test_a_reopened_store_answers_a_known_shape_without_parsing(
    store_path: Path, parses: list[str]
) -> None:
    store = GeoStore(store_path)
    assert rows(store, box_query(0.5, 3.5)) == ["http://ex/g1", "http://ex/g2", "http://ex/g3"]
    assert len(parses) == 1
    store.close()
    syntax.clear_parse_cache()  # as in a new process

    store = GeoStore(store_path)
    assert rows(store, box_query(4.5, 6.5)) == ["http://ex/g5", "http://ex/g6"]
    assert len(parses) == 1  # the template came from the file, with the new polygon in it
    assert store.last_plan is not None and store.last_plan.rewritten
    store.close()


def test_a_new_process_reads_the_templates_the_last_one_wrote(store_path: Path) -> None:
    store = GeoStore(store_path)
    expected = rows(store, box_query(0.5, 3.5))
    store.close()
    script = (
        "import sys, rdflib.plugins.sparql.parser as p\n"
        "def refuse(*a, **k): raise AssertionError('parsed again')\n"
        "p.parseQuery = refuse\n"
        "from eokg.kg.store import GeoStore\n"
        "store = GeoStore(__import__('pathlib').Path(sys.argv[1]))\n"
        "print([s['g'].value for s in store.query(sys.argv[2])])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(store_path), box_query(0.5, 3.5)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(expected)


def test_a_damaged_file_is_skipped_and_queries_still_answer(
    store_path: Path, parses: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    template_path(store_path).write_bytes(b"this is not a SQLite database" * 100)
    store = GeoStore(store_path)
    assert rows(store, box_query(0.5, 2.5)) == ["http://ex/g1", "http://ex/g2"]
    assert "query template cache" in caplog.text
    store.close()


def test_a_damaged_row_is_ignored_and_parsed_again(store_path: Path, parses: list[str]) -> None:
    store = GeoStore(store_path)
    rows(store, box_query(0.5, 2.5))
    store.close()
    with sqlite3.connect(template_path(store_path)) as db:
        db.execute("UPDATE template SET tree = ?", ('{"base": null}',))
    syntax.clear_parse_cache()
    store = GeoStore(store_path)
    assert rows(store, box_query(0.5, 2.5)) == ["http://ex/g1", "http://ex/g2"]
    assert len(parses) == 2
    store.close()


def test_templates_of_other_versions_are_dropped(store_path: Path, parses: list[str]) -> None:
    store = GeoStore(store_path)
    rows(store, box_query(0.5, 2.5))
    store.close()
    with sqlite3.connect(template_path(store_path)) as db:
        db.execute("UPDATE meta SET value = 'codec 0' WHERE key = 'version'")
    syntax.clear_parse_cache()
    store = GeoStore(store_path)
    rows(store, box_query(0.5, 2.5))
    assert len(parses) == 2
    store.close()
    with sqlite3.connect(template_path(store_path)) as db:
        assert db.execute("SELECT count(*) FROM template").fetchone() == (1,)


def test_the_file_holds_json_only(store_path: Path) -> None:
    store = GeoStore(store_path)
    rows(store, box_query(0.5, 2.5))
    store.close()
    with sqlite3.connect(template_path(store_path)) as db:
        (tree,) = db.execute("SELECT tree FROM template").fetchone()
    assert json.loads(tree)["query"]["c"] == "SelectQuery"


def test_the_oldest_templates_go_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eokg.kg import template_cache

    monkeypatch.setattr(template_cache, "MAX_TEMPLATES", 3)
    cache = TemplateFile(tmp_path / "t.sqlite")
    tree = syntax._parse("SELECT * WHERE { ?s ?p ?o }")
    for i in range(5):
        cache.put(f"q{i}", tree)
    assert [cache.get(f"q{i}") is not None for i in range(5)] == [False, False, True, True, True]
    cache.close()


def _suite_queries() -> list[Path]:
    return sorted(SUITES.rglob("*.rq")) if SUITES.is_dir() else []


def test_every_w3c_query_round_trips_through_the_codec() -> None:
    """Decoded trees write back exactly as the parsed ones (722 of the suites' queries)."""
    queries = _suite_queries()
    assert queries, f"the W3C suites are not vendored under {SUITES} (scripts/vendor_testsuites.sh)"
    checked = 0
    for path in queries:
        try:
            tree = syntax._parse(path.read_text(encoding="utf-8"))
            written = Writer(tree.prologue).query(tree)
        except Exception:  # negative syntax tests and forms the writer leaves alone
            continue
        again = decode_tree(encode_tree(tree))
        assert Writer(again.prologue).query(again) == written, path
        assert encode_tree(again) == encode_tree(tree), path
        checked += 1
    assert checked > 700
