"""Issue 13 item 1: nothing in a search reaches the catalogue's SQL (or ES DSL) as code.

Before the fix, a CQL2 property name was pasted into ``json_extract(i.props,
'$."NAME"')``, so the payloads below matched every item, read ``sqlite_master``
bit by bit and ran ``randomblob`` for 90 s.  Now names must be queryables (an
unknown one is a 400 naming it) and every value and JSON path is a bound
parameter.  Backend tests run on every backend (``index`` fixture).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from eokg.catalog import es_query
from eokg.catalog.cql2_parse import filter_to_json
from eokg.catalog.cql2_sql import CqlToSql
from eokg.catalog.index import SearchRequest, SortField
from eokg.catalog.search_common import encode_token
from eokg.catalog.sqlite_index import SqliteIndex
from eokg.errors import InputError, QueryError, SourceUnavailable

#: the reported payload: closes the JSON path string and ORs in a tautology.
PAYLOAD = "a\"') IS NULL OR 1=1 OR ('x'='"
#: boolean-blind read of the schema: true and false variants must be indistinguishable.
BLIND_TRUE = "a\"') IS NULL OR (SELECT count(*) FROM sqlite_master) > 0 OR ('x'='"
BLIND_FALSE = "a\"') IS NULL OR (SELECT count(*) FROM sqlite_master) < 0 OR ('x'='"
#: used to block every catalogue request for 90 s.
SLOW = "a\"') IS NULL OR length(randomblob(1000000000)) > 0 OR ('x'='"
#: the same attack without a double quote (valid in a JSON path label if it were pasted).
NO_QUOTE = "a') IS NULL OR 1=1 OR ('x'='"


def as_json(name: str) -> dict:
    return {"op": "=", "args": [{"property": name}, "nomatch"]}


def as_text(name: str) -> str:
    return '"' + name.replace('"', '""') + "\" = 'nomatch'"


FORMS = [
    pytest.param(lambda n: SearchRequest(filter=as_json(n)), id="cql2-json"),
    pytest.param(lambda n: SearchRequest(filter=as_text(n), filter_lang="cql2-text"), id="text"),
    pytest.param(
        lambda n: SearchRequest(filter=json.dumps(as_json(n)), filter_lang="cql2-json"),
        id="cql2-json-string",
    ),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", [PAYLOAD, NO_QUOTE, SLOW, BLIND_TRUE])
def test_injected_property_is_unknown_not_everything(index, form, name):
    with pytest.raises(QueryError) as info:
        index.search(form(name))
    assert info.value.details["property"] == name
    assert info.value.where.startswith("filter")
    assert "unknown property" in info.value.message


@pytest.mark.parametrize("form", FORMS)
def test_sqlite_master_cannot_be_read_blind(index, form):
    outcomes = []
    for name in (BLIND_TRUE, BLIND_FALSE):
        with pytest.raises(QueryError) as info:
            index.search(form(name))
        outcomes.append((type(info.value), info.value.code, info.value.where))
    assert outcomes[0] == outcomes[1]


def test_randomblob_never_runs(index):
    started = time.monotonic()
    for form in ("json", "text"):
        request = SearchRequest(filter=as_json(SLOW) if form == "json" else as_text(SLOW))
        with pytest.raises(QueryError):
            index.search(request)
        with pytest.raises(QueryError):
            index.aggregate(request, ["total_count"])
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("request_", "where"),
    [
        (SearchRequest(filter="nope = 1"), "filter.args[0]"),
        (SearchRequest(filter="orbit < 3 AND CASEI(nope) = 'x'"), "filter.args[1]"),
        (SearchRequest(filter="A_CONTAINS(nope, ('x'))"), "filter.args[0]"),
        (SearchRequest(filter="T_AFTER(nope, TIMESTAMP('2025-01-01T00:00:00Z'))"), "filter"),
        (SearchRequest(sortby=[SortField(field="nope")]), "sortby[0]"),
        (SearchRequest(sortby=[SortField(field=PAYLOAD)]), "sortby[0]"),
    ],
)
def test_unknown_property_is_400_naming_it_everywhere(index, request_, where):
    with pytest.raises(QueryError) as info:
        index.search(request_)
    assert info.value.where.startswith(where)
    assert info.value.details["property"] in ("nope", PAYLOAD)
    with pytest.raises(QueryError):
        index.aggregate(request_, ["total_count"])


def test_sort_by_geometry_is_refused(index):
    with pytest.raises(QueryError) as info:
        index.search(SearchRequest(sortby=[SortField(field="geometry")]))
    assert info.value.where == "sortby[0]"


def test_queryables_are_exhaustive(index):
    doc = index.queryables()
    assert doc["additionalProperties"] is False
    for name in ("id", "collection", "geometry", "datetime", "start_datetime", "end_datetime"):
        assert name in doc["properties"]


def test_hostile_property_names_in_items_are_data_not_sql(make_index, items):
    """Second order: a name an item brought in is a queryable, and still only a bound path."""
    idx = make_index()
    evil = dict(items[0], id="evil", properties={**items[0]["properties"], NO_QUOTE: 5})
    report = idx.upsert_items([evil, *items[1:6]])
    assert report.failed == 0
    page = idx.search(SearchRequest(filter=as_json(NO_QUOTE), limit=100))
    assert page.matched == 0 and page.items == []
    hit = {"op": "=", "args": [{"property": NO_QUOTE}, 5]}
    assert [i["id"] for i in idx.search(SearchRequest(filter=hit)).items] == ["evil"]
    ordered = idx.search(
        SearchRequest(sortby=[SortField(field=NO_QUOTE, direction="desc")], limit=100)
    )
    assert ordered.matched == 6 and ordered.items[0]["id"] == "evil"


def test_non_ascii_property_names_are_found(make_index, items):
    idx = make_index()
    idx.upsert_items([dict(items[0], properties={**items[0]["properties"], "température": 3})])
    page = idx.search(SearchRequest(filter='"température" = 3'))
    assert [i["id"] for i in page.items] == [items[0]["id"]]


def test_quote_in_a_stored_property_name_is_a_clear_error(tmp_path, items):
    idx = SqliteIndex(tmp_path / "c.sqlite")
    idx.upsert_items([dict(items[0], properties={**items[0]["properties"], 'a"b': 1})])
    with pytest.raises(QueryError) as info:
        idx.search(SearchRequest(filter={"op": "=", "args": [{"property": 'a"b'}, 1]}))
    assert "cannot be queried" in info.value.message


@pytest.mark.parametrize(
    "field",
    [
        {"ids": ["x' OR '1'='1", 'x" OR "1"="1']},
        {"collections": ["sentinel-1-grd' OR '1'='1"]},
        {"filter": "platform = 'x'' OR ''1''=''1'"},
        {"filter": "id IN ('a'') OR 1=1 --', 'b')"},
        {"filter": "title LIKE '%'' OR 1=1 --'"},
    ],
)
def test_values_are_bound_parameters(index, field):
    assert index.search(SearchRequest(**field, limit=100)).matched == 0


def test_datetime_is_parsed_not_pasted():
    with pytest.raises(InputError, match="not an RFC 3339 timestamp"):
        SearchRequest(datetime="2025-01-01T00:00:00Z' OR 1=1 --")


@pytest.mark.parametrize(
    "q",
    ['"', 'a" OR "b', "NEAR(ice water)", "ice*", "title:ice", "^ice", ")(", "ice AND", "-"],
)
def test_free_text_syntax_never_reaches_fts(index, q):
    """FTS5 query syntax in ``q`` is a phrase to match, or a 400 when nothing is left."""
    try:
        page = index.search(SearchRequest(q=[q], limit=5))
    except InputError as exc:
        assert exc.where == "q"
    else:
        assert page.matched is not None


def test_page_token_values_must_be_scalars(index):
    token = encode_token([{"op": "x"}, "id", "collection"])
    with pytest.raises(InputError) as info:
        index.search(SearchRequest(token=token))
    assert info.value.where == "token"


def test_interval_first_temporal_ops_bind_in_text_order(index, everything):
    """Parameters follow the SQL text: an INTERVAL literal first used to be bound out of order."""
    disjoint = (
        "T_INTERSECTS(INTERVAL('2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z'), "
        "INTERVAL('2025-03-01T00:00:00Z', '2025-04-01T00:00:00Z'))"
    )
    overlapping = disjoint.replace("2025-03-01", "2025-01-15")
    assert index.search(SearchRequest(filter=disjoint)).matched == 0
    assert index.search(SearchRequest(filter=overlapping)).matched == len(everything)


# -- the translator itself: names and values only as parameters ------------------------
def test_translation_binds_every_name_and_value():
    tree = {
        "op": "and",
        "args": [
            as_json(NO_QUOTE),
            {"op": "between", "args": [{"property": NO_QUOTE}, 1, 2]},
            {"op": "a_equals", "args": [{"property": NO_QUOTE}, ["x'--", "y"]]},
            {"op": "t_during", "args": [{"property": NO_QUOTE}, {"interval": ["..", ".."]}]},
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [0, 0, 1, 1]}]},
        ],
    }
    statement = CqlToSql().translate(tree)
    assert "'" not in statement.text.replace("ESCAPE '\\'", "")
    assert "x'--" not in statement.text and "a')" not in statement.text
    assert statement.text.count("?") == len(statement.params)
    assert f"$.{json.dumps(NO_QUOTE)}" in statement.params


def test_deeply_nested_filters_are_refused_before_the_parser():
    """~2,000 nested parentheses used to overflow cql2's stack: SIGSEGV, server gone.

    Run in a child process, so a regression fails this test instead of killing pytest.
    """
    script = """
from eokg.catalog.cql2_parse import filter_to_json
from eokg.errors import QueryError
nested = {"op": "=", "args": [{"property": "a"}, 1]}
for _ in range(5000):
    nested = {"op": "not", "args": [nested]}
payloads = [
    "(" * 5000 + "a = 1" + ")" * 5000,
    "NOT " * 5000 + "a = 1",
    "CASEI(" * 5000 + "a" + ")" * 5000 + " = 'x'",
    "a = " + "-" * 5000 + "1",
    " AND ".join(["a = 1"] * 20000),
    nested,
    '{"op":"not","args":[' * 5000 + '{"op":"=","args":[{"property":"a"},1]}' + "]}" * 5000,
]
for payload in payloads:
    try:
        filter_to_json(payload)
    except QueryError as exc:
        print("refused:", exc.message)
    else:
        print("parsed")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"the parser crashed: {done.returncode} {done.stderr[-500:]}"
    assert done.stdout.count("refused:") == 7, done.stdout


def test_reasonable_filters_still_parse():
    assert filter_to_json("(" * 30 + "a = 1" + ")" * 30)
    assert filter_to_json(" AND ".join(["a = 1"] * 400))
    assert filter_to_json("a = -1 AND b = 1.5 AND c = '((((((((((((((((((('")


# -- Elasticsearch: field names are plain names, and unknown ones never leave the host --
@pytest.mark.parametrize("name", ["*", "properties.*", "_id", "a..b", "a.", "x?y", "a\\b", ""])
def test_es_field_names_cannot_be_patterns(name):
    with pytest.raises(QueryError):
        es_query.field_name(name, "filter")


def test_es_translation_has_no_scripts():
    body = es_query.search_body(
        SearchRequest(filter=as_json(NO_QUOTE), sortby=[SortField(field=NO_QUOTE)])
    )
    assert "script" not in json.dumps(body)


class _StubIndices:
    def __getattr__(self, name):
        return lambda **kwargs: name == "exists"


class _StubES:
    """Answers the queryables lookup; any other search fails like a down cluster."""

    def __init__(self, names):
        self.indices = _StubIndices()
        self.names = names
        self.searches = []

    def search(self, index, body):
        self.searches.append(index)
        if index.endswith("-queryables"):
            name = body["query"]["term"]["name.keyword"]
            hits = [{"_source": {"name": name}}] if name in self.names else []
            return {"hits": {"hits": hits}}
        raise ConnectionError("http://es-internal.example:9200/eokg-items/_search refused")


def test_es_backend_refuses_unknown_properties_and_hides_internals():
    from eokg.catalog.es_index import EsIndex

    stub = _StubES({"platform"})
    index = EsIndex("http://es-internal.example:9200", client=stub)
    with pytest.raises(QueryError) as info:
        index.search(SearchRequest(filter=as_json(PAYLOAD)))
    assert info.value.details["property"] == PAYLOAD
    assert stub.searches == ["eokg-queryables"]  # the item indices were never queried
    with pytest.raises(SourceUnavailable) as failed:
        index.search(SearchRequest(filter="platform = 'x'"))
    assert "es-internal" not in str(failed.value) and "_search" not in str(failed.value)
