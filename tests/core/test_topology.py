"""The deployed topology of docker-compose.yml, as processes on loopback.

A real OpenSearch node (the catalogue), a Spark standalone master and worker
(``spark-class``), the one-shot ingest (``eokg demo --skip-train`` on the
cluster, writing the persistent store and indexing into OpenSearch), then
``eokg serve`` on that store: the README's first queries must answer, the
spatial one from the index.  Same environment variables as the compose file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "catalog"), str(HERE.parent / "spark")]

import opensearch_node  # noqa: E402
from standalone import StandaloneCluster, _free_port  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.spark, pytest.mark.es, pytest.mark.timeout(900)]

README_QUERY = """
PREFIX geo:  <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX eo:   <https://w3id.org/eokg/ontology#>
SELECT ?product ?start WHERE {
  ?product a eo:Sentinel1GRD ; eo:startTime ?start ; geo:hasGeometry/geo:asWKT ?footprint .
  FILTER(geof:sfIntersects(?footprint,
    "POLYGON((10 78, 20 78, 20 80, 10 80, 10 78))"^^geo:wktLiteral))
}"""


def _get(url: str, accept: str = "application/json") -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    reason = opensearch_node.missing_reason()
    if reason:
        pytest.fail(reason)
    data = tmp_path_factory.mktemp("deployed")
    node = opensearch_node.OpenSearchNode().start()
    api: subprocess.Popen[bytes] | None = None
    try:
        with StandaloneCluster(tmp_path_factory.mktemp("spark"), workers=1, cores=2) as cluster:
            env = dict(
                os.environ,
                EOKG_STORE__PATH=str(data / "store"),
                EOKG_CATALOG__BACKEND="elasticsearch",
                EOKG_CATALOG__ES_URL=node.url,
                EOKG_CATALOG__ES_FLAVOR="opensearch",
                EOKG_CATALOG__ES_INDEX_PREFIX=f"eokg-topo-{uuid.uuid4().hex[:8]}",
                EOKG_SPARK__MASTER=cluster.url,
                EOKG_SPARK__SHUFFLE_PARTITIONS="4",
                EOKG_API__API_KEY="topology-key",
                PYSPARK_PYTHON=sys.executable,
                SPARK_LOCAL_IP="127.0.0.1",
            )
            ingest = subprocess.run(
                [sys.executable, "-m", "eokg", "demo", "--data-dir", str(data), "--skip-train",
                 "--scale", "0.5"],
                env=env, capture_output=True, text=True, timeout=900,
            )
            assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-3000:]
            apps = cluster.state().get("completedapps", [])
            port = _free_port()
            api = subprocess.Popen(
                [sys.executable, "-m", "eokg", "serve", "--host", "127.0.0.1", "--port",
                 str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    _get(base + "/stac/conformance")
                    break
                except OSError:
                    if api.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            yield {"base": base, "apps": apps, "ingest": ingest.stdout}
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        node.stop()


def test_ingest_ran_on_the_cluster(deployed: dict[str, Any]) -> None:
    assert any(app["name"] == "eokg" for app in deployed["apps"]), deployed["apps"]


def test_readme_geosparql_query_uses_the_index(deployed: dict[str, Any]) -> None:
    base = deployed["base"]
    query = urllib.parse.urlencode({"query": README_QUERY})
    rows = _get(f"{base}/sparql?{query}", "text/csv").decode().strip().splitlines()
    assert rows[0].strip() == "product,start" and len(rows) > 1
    plan = json.loads(_get(f"{base}/sparql?{query}&explain=true"))
    assert any(s["kind"] == "selection" and s["used_index"] for s in plan["steps"]), plan


def test_readme_stac_and_semantic_search(deployed: dict[str, Any]) -> None:
    base = deployed["base"]
    page = json.loads(_get(f"{base}/stac/search?bbox=10,78,20,80&limit=2"))
    assert page["type"] == "FeatureCollection" and page["features"]
    concept = urllib.parse.quote("https://w3id.org/eokg/concept/seaice/old-ice", safe="")
    hits = json.loads(_get(f"{base}/search/semantic?concept={concept}"))
    assert hits["matched"] > 0, hits


def test_readme_graph_store_request(deployed: dict[str, Any]) -> None:
    base = deployed["base"]
    graph = urllib.parse.quote("https://w3id.org/eokg/data/graph/icecharts", safe="")
    turtle = _get(f"{base}/store?graph={graph}", "text/turtle").decode()
    assert "IceChartPolygon" in turtle
