"""The client seam (``es_client``) against a real Elasticsearch 8 server with the
9.x ``elasticsearch`` client: the server's major is read once at connect and the
client asks for it, so an 8.x cluster answers; errors leave as ``eokg.errors``."""

from __future__ import annotations

import uuid

import pytest

from eokg.catalog import es_client
from eokg.errors import InputError

pytestmark = pytest.mark.es


@pytest.fixture
def name(elasticsearch_url):
    index = f"eokg-client-{uuid.uuid4().hex[:8]}"
    yield index
    es_client.connect(elasticsearch_url).call("indices.delete", index=index, missing_ok=True)


def test_detects_the_server_and_its_major(elasticsearch_url):
    flavor, major = es_client.server_info(elasticsearch_url)
    assert flavor == "elasticsearch" and major is not None and major >= 8


def test_a_newer_client_speaks_to_an_older_server(elasticsearch_url, name):
    elasticsearch = pytest.importorskip("elasticsearch")
    client_major = int(elasticsearch.__versionstr__.partition(".")[0])
    _, server_major = es_client.server_info(elasticsearch_url)
    if server_major is None or server_major >= client_major:
        pytest.skip(f"client {client_major}.x is not newer than the server {server_major}.x")
    # what the seam works around: the bare client asks for compatible-with=<client major>
    with pytest.raises(elasticsearch.BadRequestError, match="media_type_header_exception"):
        elasticsearch.Elasticsearch(elasticsearch_url).indices.get(index=name)

    for flavor in ("auto", "elasticsearch"):
        client = es_client.connect(elasticsearch_url, flavor)  # type: ignore[arg-type]
        assert isinstance(client, es_client.ElasticsearchClient)
        assert client.exists("indices.exists", index=name) is False
        client.close()


def test_calls_bulk_aliases_and_errors_through_the_seam(elasticsearch_url, name):
    client = es_client.connect(elasticsearch_url, "elasticsearch")
    mapping = {"mappings": {"properties": {"k": {"type": "keyword"}, "n": {"type": "long"}}}}
    client.call("indices.create", index=name, body=mapping)
    actions = [{"_index": name, "_id": str(i), "k": f"v{i}", "n": i} for i in range(5)]
    actions.append({"_index": name, "_id": "bad", "n": "not-a-number"})
    results = list(client.streaming_bulk(actions, refresh="true"))
    assert [ok for ok, _ in results] == [True] * 5 + [False]
    assert results[-1][1]["index"]["error"]["type"] == "document_parsing_exception"

    found = client.call("search", index=name, body={"query": {"term": {"k": "v3"}}})
    assert [h["_id"] for h in found["hits"]["hits"]] == ["3"]
    client.call(
        "indices.update_aliases", body={"actions": [{"add": {"index": name, "alias": f"{name}-a"}}]}
    )
    assert client.exists("indices.exists_alias", name=f"{name}-a")
    assert client.call("get", index=name, id="nope", missing_ok=True) is None
    with pytest.raises(InputError) as info:
        client.call("search", index=name, body={"query": {"no_such_query": {}}})
    assert elasticsearch_url not in str(info.value) and name not in str(info.value)
    client.close()
