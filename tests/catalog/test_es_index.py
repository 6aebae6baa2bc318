"""EsIndex response handling with a stand-in client (no server): pages, tokens, why."""

from __future__ import annotations

from eokg.catalog.es_index import EsIndex
from eokg.catalog.index import SearchRequest
from eokg.catalog.samples import EOC, make_items
from eokg.catalog.search_common import decode_token


class FakeIndices:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(**kwargs):
            self.calls.append((name, kwargs))
            return name == "exists"

        return record


class FakeES:
    def __init__(self, hits):
        self.indices = FakeIndices()
        self.hits = hits
        self.searches = []

    def search(self, index, body):
        self.searches.append((index, body))
        size = body.get("size", 10)
        return {
            "hits": {"total": {"value": len(self.hits)}, "hits": self.hits[:size]},
            "aggregations": {
                "collection_frequency": {"buckets": [{"key": "s1", "doc_count": 3}]},
                "datetime_frequency": {
                    "buckets": [{"key": 1, "key_as_string": "2025-01", "doc_count": 3}]
                },
                "datetime_min": {"value": 1735689600000},
            },
        }

    def close(self):
        pass


def fake_index(n=5):
    items = make_items(n)
    hits = [
        {"_source": {"item": item}, "sort": [i, item["id"], "s1"]} for i, item in enumerate(items)
    ]
    es = FakeES(hits)
    from eokg.catalog.concepts import ConceptScheme
    from eokg.catalog.samples import SKOS_TTL

    return EsIndex("http://x", client=es, concepts=ConceptScheme.from_turtle(SKOS_TTL)), es, items


def test_search_pages_with_search_after_and_explains():
    index, es, items = fake_index()
    page = index.search(SearchRequest(limit=2, concepts=[EOC + "seaice/sea-ice"]))
    assert [i["id"] for i in page.items] == [items[0]["id"], items[1]["id"]]
    assert page.matched == 5
    assert decode_token(page.next_token, 3) == [1, items[1]["id"], "s1"]
    index_name, body = es.searches[-1]
    assert index_name == "eokg-items" and body["size"] == 3
    assert EOC + "seaice/nilas" in body["query"]["bool"]["filter"][0]["terms"]["concepts"]
    assert page.items[0]["properties"]["eokg:matched"][0]["via"] == EOC + "seaice/nilas"
    index.search(SearchRequest(limit=2, token=page.next_token))
    assert es.searches[-1][1]["search_after"] == [1, items[1]["id"], "s1"]


def test_aggregate_maps_buckets():
    index, _, _ = fake_index()
    out = index.aggregate(
        SearchRequest(),
        ["total_count", "collection_frequency", "datetime_frequency", "datetime_min"],
        interval="month",
    )
    by = {a["name"]: a for a in out}
    assert by["total_count"]["value"] == 5
    assert by["collection_frequency"]["buckets"] == [
        {"key": "s1", "data_type": "string", "frequency": 3}
    ]
    assert by["datetime_frequency"]["buckets"][0]["key"] == "2025-01"
    assert by["datetime_min"]["value"] == "2025-01-01T00:00:00Z"


def test_open_index_without_url_is_config_error():
    import pytest

    from eokg.catalog.index import open_index
    from eokg.config import CatalogSettings
    from eokg.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        open_index(CatalogSettings(backend="elasticsearch"))
    assert info.value.where == "catalog.es_url"
