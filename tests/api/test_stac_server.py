"""pystac-client against the STAC API served by uvicorn on a loopback port."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from shapely.geometry import box, shape

from eokg.catalog.concepts import ConceptScheme
from eokg.catalog.samples import SKOS_TTL, extension_items, make_items
from eokg.catalog.sqlite_index import SqliteIndex

pytestmark = pytest.mark.server
ITEMS = make_items(50, seed=3)


@pytest.fixture(scope="module")
def stac_url(tmp_path_factory):
    import uvicorn

    from eokg.api.app import create_app
    from eokg.config import load_settings

    index = SqliteIndex(
        tmp_path_factory.mktemp("stac") / "cat.sqlite",
        concepts=ConceptScheme.from_turtle(SKOS_TTL),
    )
    index.upsert_items(ITEMS + extension_items())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(data_dir=tmp_path_factory.mktemp("data"))
    app = create_app(settings, catalog=index)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/stac"
    server.should_exit = True
    thread.join(timeout=10)
    index.close()


def test_pystac_client_search_with_paging(stac_url):
    from pystac_client import Client

    client = Client.open(stac_url)
    assert {c.id for c in client.get_collections()} >= {"sentinel-1-grd", "models"}
    search = client.search(
        collections=["sentinel-1-grd"],
        bbox=[10, 75, 25, 78],
        datetime="2025-02-01T00:00:00Z/2025-11-30T00:00:00Z",
        filter="platform = 'sentinel-1a'",
        filter_lang="cql2-text",
        limit=3,
    )
    got = [item.id for item in search.items()]
    expected = {
        i["id"]
        for i in ITEMS
        if shape(i["geometry"]).intersects(box(10, 75, 25, 78))
        and "2025-02-01T00:00:00Z" <= i["properties"]["datetime"] <= "2025-11-30T00:00:00Z"
        and i["properties"]["platform"] == "sentinel-1a"
    }
    assert len(expected) > 3  # several pages
    assert sorted(got) == sorted(expected)
    assert search.matched() == len(expected)


def test_pystac_client_free_text_and_get(stac_url):
    from pystac_client import Client

    client = Client.open(stac_url)
    # pystac-client 0.9 has no ``q`` argument; the free-text parameter goes in directly.
    for method in ("GET", "POST"):
        search = client.search(method=method, limit=2)
        search._parameters["q"] = "segmentation model,Meereis"
        got = [item.id for item in search.items()]
        assert "ice-unet-v1" in got and len(got) == search.matched() == 39
    search = client.search(
        filter={"op": "a_contains", "args": [{"property": "mlm:tasks"}, ["semantic-segmentation"]]},
        limit=1,
    )
    assert [item.id for item in search.items()] == ["ice-unet-v1"]
