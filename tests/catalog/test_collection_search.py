"""Collection Search (``MetadataIndex.search_collections``) on every backend, then the
backends against each other on the same requests, page by page."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from eokg.catalog.index import MAX_LIMIT, CollectionSearch
from eokg.errors import InputError


def collection(cid: str, boxes: Any, intervals: Any, title: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": cid,
        "title": title or cid,
        "description": f"The {cid} test collection",
        "license": "other",
        "links": [],
    }
    if boxes is not None:
        doc["extent"] = {"spatial": {"bbox": boxes}, "temporal": {"interval": intervals}}
    return doc


#: extents chosen for their edge cases: antimeridian, heights, several boxes and
#: intervals, open ends, a flat (unnested) extent, unreadable values, none at all.
COLLECTIONS = [
    collection("arctic", [[5, 74, 35, 81]], [["2025-01-01T00:00:00Z", None]], "Svalbard sea ice"),
    collection(
        "pacific", [[170, -20, -170, 10]], [["2020-01-01T00:00:00Z", "2020-12-31T23:59:59Z"]]
    ),
    collection(
        "brittany-multi",
        [[-5, 47, 3, 49], [-5, 47, -4, 48], [2, 48, 3, 49]],
        [
            ["2019-01-01T00:00:00Z", "2019-06-30T00:00:00Z"],
            ["2021-01-01T00:00:00Z", "2021-12-31T00:00:00Z"],
        ],
        "Brittany field parcels",
    ),
    collection("heights", [[10, 40, -100, 12, 42, 100]], [[None, "2018-01-01T00:00:00Z"]]),
    collection("global", [[-180, -90, 180, 90]], [[None, None]]),
    collection("broken", [["a", "b", "c", "d"]], [["not a time", None]]),
    collection("flat", [20, 10, 30, 20], ["2022-01-01T00:00:00Z", "2022-02-01T00:00:00Z"]),
    collection("no-extent", None, None),
]
ALL = sorted(c["id"] for c in COLLECTIONS)

#: (request, the ids it must find, in order)
CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ALL),
    ({"bbox": [0, 47.5, 1, 48.5]}, ["brittany-multi", "global"]),
    ({"bbox": [175, 0, 180, 5]}, ["global", "pacific"]),
    ({"bbox": [-180, -5, -175, 5]}, ["global", "pacific"]),
    ({"bbox": [179, -5, -179, 5]}, ["global", "pacific"]),  # the query crosses too
    ({"bbox": [-179, 50, 179, 60]}, ["global"]),
    ({"bbox": [35, 81, 40, 85]}, ["arctic", "global"]),  # touching edges intersect
    ({"bbox": [11, 41, -5, 11.5, 41.5, 5]}, ["global", "heights"]),
    ({"bbox": [25, 15, 26, 16]}, ["flat", "global"]),
    ({"datetime": "2025-06-01T00:00:00Z"}, ["arctic", "global"]),
    ({"datetime": "2019-07-01T00:00:00Z/2020-06-01T00:00:00Z"}, ["global", "pacific"]),
    ({"datetime": "../2017-01-01T00:00:00Z"}, ["global", "heights"]),
    (
        {"datetime": "2019-06-30T00:00:00Z/.."},
        ["arctic", "brittany-multi", "flat", "global", "pacific"],
    ),
    ({"datetime": "2022-01-15T00:00:00+01:00/2022-01-16T00:00:00Z"}, ["flat", "global"]),
    ({"q": ["sea ice"]}, ["arctic"]),
    ({"q": ["parcels", "pacific"]}, ["brittany-multi", "pacific"]),
    ({"q": ["parcels"], "datetime": "2020-01-01T00:00:00Z/2020-02-01T00:00:00Z"}, []),
    (
        {"bbox": [0, 47.5, 1, 48.5], "datetime": "2021-05-01T00:00:00Z"},
        ["brittany-multi", "global"],
    ),
]


def filled(index: Any) -> Any:
    for doc in COLLECTIONS:
        index.add_collection(doc)
    return index


def walk(index: Any, request: CollectionSearch) -> list[list[str]]:
    """Every page by ``next`` tokens, then back again by ``prev`` tokens."""
    forward, tokens = [], []
    page = index.search_collections(request)
    while True:
        forward.append([c["id"] for c in page.collections])
        tokens.append(page.prev_token)
        if not page.next_token:
            break
        page = index.search_collections(request.model_copy(update={"token": page.next_token}))
    backward = []
    while page.prev_token:
        page = index.search_collections(request.model_copy(update={"token": page.prev_token}))
        backward.append([c["id"] for c in page.collections])
    assert tokens[0] is None and all(tokens[1:])
    return [*forward, *reversed(backward)]


@pytest.fixture
def collections_index(make_index):
    return filled(make_index())


@pytest.mark.parametrize(("params", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_collection_search(collections_index, params, expected):
    page = collections_index.search_collections(CollectionSearch(limit=100, **params))
    assert [c["id"] for c in page.collections] == expected
    assert page.matched == len(expected)
    assert page.next_token is None and page.prev_token is None


def test_collection_pages_forward_and_back(collections_index):
    pages = walk(collections_index, CollectionSearch(limit=3))
    forward = [ALL[0:3], ALL[3:6], ALL[6:8]]
    assert pages == forward + forward[:-1]
    first = collections_index.search_collections(CollectionSearch(limit=3))
    assert first.matched == len(ALL) and first.prev_token is None


def test_collection_default_and_maximum_limits(collections_index):
    assert CollectionSearch().limit == 10
    assert CollectionSearch(limit=MAX_LIMIT + 5).limit == MAX_LIMIT
    page = collections_index.search_collections(CollectionSearch(limit=MAX_LIMIT + 5))
    assert len(page.collections) == len(ALL)


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"bbox": [0, 0, 1]}, "bbox"),
        ({"bbox": [0, 10, 1, 5]}, "bbox"),
        ({"bbox": [0, 0, 200, 1]}, "bbox"),
        ({"datetime": "2020-01-01"}, "datetime"),
        ({"datetime": "2021-01-01T00:00:00Z/2020-01-01T00:00:00Z"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"limit": 0}, "limit"),
        ({"sortby": "id"}, "sortby"),
    ],
)
def test_collection_search_refuses_bad_values(params, where):
    with pytest.raises(InputError) as caught:
        CollectionSearch(**params)
    assert caught.value.where == where


@pytest.mark.parametrize("token", ["garbage", "WyJhIiwiYiIsImMiXQ", "WyJ1cCIsImEiXQ"])
def test_collection_search_refuses_foreign_tokens(collections_index, token):
    with pytest.raises(InputError) as caught:
        collections_index.search_collections(CollectionSearch(token=token))
    assert caught.value.where == "token"


def test_backends_agree_on_collection_search(tmp_path, scheme, server_url):
    """Differential: the same requests, every page, on SQLite and on the search server."""
    from eokg.catalog.es_index import EsIndex
    from eokg.catalog.sqlite_index import SqliteIndex

    embedded = filled(SqliteIndex(tmp_path / "cat.sqlite", concepts=scheme))
    prefix = f"eokg-test-{uuid.uuid4().hex[:8]}"
    server = filled(EsIndex(server_url, prefix=prefix, concepts=scheme, refresh=True))
    try:
        for params, _ in CASES:
            for limit in (1, 2, 100):
                request = CollectionSearch(limit=limit, **params)
                assert walk(server, request) == walk(embedded, request), (params, limit)
                one, two = embedded.search_collections(request), server.search_collections(request)
                assert (one.matched, one.collections) == (two.matched, two.collections)
    finally:
        server.drop()
        server.close()
        embedded.close()
