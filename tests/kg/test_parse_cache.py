"""The parse cache: one rdflib parse per query *shape*, trees never shared."""

from __future__ import annotations

import pytest

from eokg.errors import QueryError
from eokg.kg import sparql_syntax as syntax
from eokg.kg.sparql_syntax import parse_query, walk_groups, write
from eokg.kg.store import GeoStore

GEO = "http://www.opengis.net/ont/geosparql#"
PREFIXES = f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "


def box_query(x: float) -> str:
    return (
        PREFIXES + "SELECT ?g WHERE { ?g geo:asWKT ?w "
        f'FILTER(geof:sfIntersects(?w, "POLYGON(({x} 0, {x + 1} 0, {x + 1} 1, {x} 1, {x} 0))"'
        "^^geo:wktLiteral)) }"
    )


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    syntax.clear_parse_cache()
    calls: list[str] = []
    original = syntax._parse

    def counting(text: str) -> syntax.SyntaxTree:
        calls.append(text)
        return original(text)

    monkeypatch.setattr(syntax, "_parse", counting)
    return calls


def test_same_shape_other_polygon_is_parsed_once(parses: list[str]) -> None:
    first, second = parse_query(box_query(1)), parse_query(box_query(5))
    assert len(parses) == 1
    assert "POLYGON((1 0" in write(first) and "POLYGON((5 0" in write(second)
    assert "POLYGON((5 0" not in write(first)


def test_each_call_gets_its_own_tree(parses: list[str]) -> None:
    tree = parse_query(box_query(1))
    for group in walk_groups(tree.query):
        dict.__setitem__(group, "part", [])  # what the planner does when it rewrites
    again = parse_query(box_query(1))
    assert "sfIntersects" in write(again) and "sfIntersects" not in write(tree)


def test_strings_with_escapes_and_quote_forms_keep_their_values(parses: list[str]) -> None:
    text = (
        'SELECT * WHERE { ?s ?p \'single "quoted"\', """long\nstring""", '
        '"tab\\tescaped", "plain"@en }'
    )
    out = write(parse_query(text))
    assert 'single \\"quoted\\"' in out or 'single "quoted"' in out
    assert "long" in out and "tab" in out and '"plain"@en' in out
    assert write(parse_query(text)) == out


def test_syntax_error_positions_are_those_of_the_text(parses: list[str]) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query('SELECT * WHERE { ?s ?p "a long string literal" . ?s ?p }')
    details = caught.value.details
    assert details["line"] == 1
    assert details["column"] > len('SELECT * WHERE { ?s ?p "a long string literal" . ')


def test_store_answers_differ_with_the_constant() -> None:
    """A cached template must never answer with another query's polygon."""
    store = GeoStore()
    store.update(
        f'INSERT DATA {{ <http://x/a> <{GEO}asWKT> "POINT(1.5 0.5)"^^<{GEO}wktLiteral> . '
        f'<http://x/b> <{GEO}asWKT> "POINT(5.5 0.5)"^^<{GEO}wktLiteral> }}'
    )
    hits = [sorted(str(row["g"]) for row in store.query(box_query(x))) for x in (1, 5, 9)]
    assert hits == [["<http://x/a>"], ["<http://x/b>"], []]
