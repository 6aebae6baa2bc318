"""STAC request rules every backend shares (issue 12): limit clamp, bbox xor intersects,
strict RFC 3339 ``datetime``, the Fields extension's include/exclude semantics, and the
CQL2 drafts' ``between`` form.  Runs on each backend (the ``index`` fixture)."""

from __future__ import annotations

import pytest

from eokg.catalog.index import MAX_LIMIT, FieldsSpec, SearchRequest
from eokg.errors import InputError

POLYGON = {"type": "Polygon", "coordinates": [[[10, 75], [20, 75], [20, 78], [10, 78], [10, 75]]]}


def first(index, **fields):
    page = index.search(
        SearchRequest(collections=["sentinel-1-grd"], limit=1, fields=FieldsSpec(**fields))
    )
    return page.items[0]


def test_limit_above_the_maximum_is_the_maximum():
    assert SearchRequest(limit=MAX_LIMIT * 100).limit == MAX_LIMIT
    for bad in (0, -1):
        with pytest.raises(InputError) as caught:
            SearchRequest(limit=bad)
        assert caught.value.where == "limit"


def test_bbox_and_intersects_together_are_refused():
    with pytest.raises(InputError, match="not both"):
        SearchRequest(bbox=[10, 75, 20, 78], intersects=POLYGON)


@pytest.mark.parametrize(
    "value",
    [
        "1985-04-12",
        "1985-04-12T23:20:50.Z",
        "1985-04-12T23:20:50,52Z",
        "1985-12-12T23:20:50.52",
        "1937-01-01T12:00:27.87+0100",
        "1985-13-12T23:20:50.52Z",
        "/",
        "../..",
        "2025-06-01T00:00:00Z/2025-01-01T00:00:00Z",
    ],
)
def test_datetime_must_be_rfc3339(value):
    with pytest.raises(InputError) as caught:
        SearchRequest(datetime=value)
    assert caught.value.where == "datetime"


def test_rfc3339_variants_search_alike(index):
    """Lowercase t/z, offsets, nine fraction digits and open ends mean the same instants."""
    plain = index.search(
        SearchRequest(datetime="2025-03-01T00:00:00Z/2025-06-01T00:00:00Z", limit=1000)
    )
    for same in (
        "2025-03-01t01:00:00+01:00/2025-06-01t00:00:00.000000000z",
        "2025-02-28T23:00:00-01:00/2025-05-31T23:59:60Z",
    ):
        page = index.search(SearchRequest(datetime=same, limit=1000))
        assert {i["id"] for i in page.items} == {i["id"] for i in plain.items}
    assert index.search(SearchRequest(datetime="../2025-06-01T00:00:00Z")).matched
    assert index.search(SearchRequest(datetime="2025-06-01T00:00:00Z/")).matched


def test_fields_default_set_for_empty_or_null_lists(index):
    for spec in ({}, {"include": None, "exclude": None}, {"include": [], "exclude": []}):
        item = first(index, **spec)
        assert set(item) >= {"type", "stac_version", "id", "geometry", "links", "assets"}
        assert set(item["properties"]) == {"datetime"}, spec


def test_fields_include_adds_only_the_minimal_set(index):
    item = first(index, include=["geometry"])
    assert set(item) == {"type", "id", "collection", "links", "geometry"}


def test_fields_excludes_are_honoured_even_for_identifiers(index):
    item = first(index, exclude=["links", "id", "type", "collection", "stac_version"])
    assert not {"links", "id", "type", "collection", "stac_version"} & set(item)
    assert "platform" in item["properties"]  # only exclude: the whole item less those
    slim = first(index, include=["bbox"], exclude=["id"])
    assert "id" not in slim and "bbox" in slim


def test_fields_exclude_with_empty_include_subtracts_from_the_default_set(index):
    for include in ([], None):
        item = first(index, include=include, exclude=["geometry"])
        assert "geometry" not in item and "assets" in item
        assert "platform" not in item["properties"]


def test_fields_the_more_specific_path_wins(index):
    item = first(index, include=["properties.platform"], exclude=["properties"])
    assert item["properties"] == {"platform": item["properties"]["platform"]}
    other = first(index, include=["properties"], exclude=["properties.title"])
    assert "title" not in other["properties"] and "platform" in other["properties"]
    both = first(index, include=["geometry"], exclude=["geometry"])
    assert "geometry" in both


def test_between_in_the_draft_form_equals_the_standard_form(index):
    def count(args):
        spec = {"op": "between", "args": args}
        return index.search(SearchRequest(filter=spec, filter_lang="cql2-json")).matched

    standard = count([{"property": "orbit"}, 10, 40])
    assert standard and count([{"property": "orbit"}, [10, 40]]) == standard


def test_a_page_of_the_maximum_size(index, everything):
    """``limit`` above the maximum is served as the maximum: the search server's result
    window must hold it plus the one hit that tells whether a next page exists."""
    page = index.search(SearchRequest(limit=MAX_LIMIT * 10))
    assert len(page.items) == page.matched == len(everything)
    assert page.next_token is None
