"""The search-server backend against faults of a real server (OpenSearch and
Elasticsearch): rejected bulk items, a node that dies mid-ingest, and an alias swap
under concurrent reads."""

from __future__ import annotations

import threading
import uuid

import opensearch_node  # tests/catalog/opensearch_node.py
import pytest

from eokg.catalog.es_index import EsIndex
from eokg.catalog.index import SearchRequest
from eokg.errors import SourceUnavailable

pytestmark = pytest.mark.es


def _index(url, scheme) -> EsIndex:
    return EsIndex(url, prefix=f"eokg-fault-{uuid.uuid4().hex[:8]}", concepts=scheme, refresh=True)


@pytest.fixture
def es_index(server_url, scheme):
    index = _index(server_url, scheme)
    yield index
    index.drop()
    index.close()


def test_one_bad_item_in_a_bulk_is_reported_the_rest_indexed(es_index, items):
    """The server rejects one item (text in a numeric field): the others of its batch stay."""
    es_index.upsert_items(items[:5])
    bad = dict(items[5], properties={**items[5]["properties"], "orbit": "not-a-number"})
    seen = []
    report = es_index.upsert_items([*items[6:20], bad, *items[20:40]], on_failure=seen.append)
    assert report.indexed == 34 and report.failed == 1
    failure = report.failures[0]
    assert failure.item_id == items[5]["id"] and seen == [failure]
    assert failure.field == "orbit" and "mapper_parsing_exception" in failure.reason
    assert es_index.search(SearchRequest(limit=100)).matched == 39
    assert es_index.get_item("sentinel-1-grd", items[39]["id"])["id"] == items[39]["id"]


def test_reindex_swaps_aliases_without_a_gap_for_readers(es_index, items):
    es_index.upsert_items(items)
    stop = threading.Event()
    answers: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                answers.append(es_index.search(SearchRequest(limit=1)).matched or 0)
                es_index.get_item("sentinel-1-grd", items[0]["id"])
            except BaseException as exc:
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        names = [es_index.reindex_collection("sentinel-1-grd") for _ in range(3)]
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=30)
    assert not errors, errors
    assert answers and set(answers) == {len(items)}
    assert names[-1].endswith("-v4")
    versions = es_index._versions(es_index._alias("sentinel-1-grd"))
    assert versions == {names[-1]: True}  # old versions removed in the swap


@pytest.mark.parametrize("flavor", opensearch_node.catalogue_flavors())
def test_node_stopped_mid_ingest(scheme, items, flavor):
    """Its own node: killed during a bulk ingest -> SourceUnavailable; restarted, the
    collection alias still serves what was indexed; a copy that died before its
    alias swap leaves the old index serving, and the next reindex cleans up."""
    reason = opensearch_node.missing_reason(flavor)
    if reason:
        pytest.skip(reason)
    node = opensearch_node.NODES[flavor]().start()
    try:
        gap = opensearch_node.catalogue_gap(node.url)
        if gap:
            pytest.skip(gap)
        index = _index(node.url, scheme)
        index.upsert_items(items[:30])
        alias = index._alias("sentinel-1-grd")

        def endless():
            yield from items[30:]
            node.kill(hard=True)
            for i in range(10_000):
                yield dict(items[i % 60], id=f"more-{i}")

        with pytest.raises(SourceUnavailable) as info:
            index.upsert_items(endless(), batch_size=10)
        assert node.url not in str(info.value)
        with pytest.raises(SourceUnavailable):
            index.search(SearchRequest())

        node.start()
        page = index.search(SearchRequest(limit=1000, collections=["sentinel-1-grd"]))
        assert {i["id"] for i in items[:30]} <= {i["id"] for i in page.items}
        assert index._versions(alias) == {f"{alias}-v1": True}

        # die between the copy and the swap: v1 keeps serving, v2 has no alias
        real_call = index.client.call

        def dying(api, /, **kwargs):
            if api == "indices.update_aliases":
                node.kill(hard=True)
            return real_call(api, **kwargs)

        index.client.call = dying  # type: ignore[method-assign]
        with pytest.raises(SourceUnavailable):
            index.reindex_collection("sentinel-1-grd")
        index.client.call = real_call  # type: ignore[method-assign]
        node.start()
        assert index._versions(alias) == {f"{alias}-v1": True, f"{alias}-v2": False}
        before = index.search(SearchRequest(limit=1)).matched
        assert before and before >= 30
        assert index.reindex_collection("sentinel-1-grd") == f"{alias}-v3"
        assert index._versions(alias) == {f"{alias}-v3": True}
        assert index.search(SearchRequest(limit=1)).matched == before
        index.close()
    finally:
        node.stop()
