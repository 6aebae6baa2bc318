"""Throwaway OpenSearch and Elasticsearch nodes on loopback for the catalogue tests.

``scripts/install.sh`` (with the ``es`` or ``all`` extra) unpacks the
integ-test distributions (``org.opensearch.distribution.integ-test-zip:opensearch``
and ``org.elasticsearch.distribution.integ-test-zip:elasticsearch`` from Maven
Central, no plugins, no bundled JDK) into ``.vendor/opensearch-<version>/`` and
``.vendor/elasticsearch-<version>/``; ``OpenSearchNode`` and
``ElasticsearchNode`` differ only in those names and their settings.  Nothing is
downloaded here: a missing distribution is a skip with the reason.  Each node
gets its own config copy, data, logs and JVM temp dir under a temporary folder,
free loopback ports, a 512 MB heap and ``discovery.type=single-node``; ``stop``
kills only the process group it started.  Both refuse to run as root, so under
root (CI containers) the node runs as ``nobody`` and its temporary folder is
handed to that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import httpx

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / ".vendor"
START_TIMEOUT_S = 90.0
#: uid/gid the node runs as when the tests run as root (OpenSearch refuses root).
UNPRIVILEGED = 65534


def distribution(product: str = "opensearch") -> Path | None:
    """The newest unpacked distribution of ``product`` under ``.vendor/``, or None."""
    found = [p.parent.parent for p in VENDOR.glob(f"{product}-*/bin/{product}")]

    def version(path: Path) -> tuple[int, ...]:
        tail = path.name.removeprefix(f"{product}-")
        return tuple(int(x) if x.isdigit() else 0 for x in tail.split("."))

    return max(found, key=version) if found else None


def java_home(env_prefix: str = "OPENSEARCH") -> str | None:
    """<PREFIX>_JAVA_HOME, JAVA_HOME, or the JDK of the ``java`` on PATH."""
    for name in (f"{env_prefix}_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(name):
            return os.environ[name]
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def missing_reason(product: str = "opensearch") -> str | None:
    """Why no ``product`` node can be started here (None: it can)."""
    node = NODES[product]
    if distribution(product) is None:
        return (
            f"no {node.title} distribution in {VENDOR} (run scripts/install.sh with the "
            "es or all extra)"
        )
    if java_home(node.env_prefix) is None:
        return f"no Java for {node.title} (set {node.env_prefix}_JAVA_HOME or put java on PATH)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OpenSearchNode:
    """One single-node cluster; ``start`` blocks until its health is yellow or green."""

    product = "opensearch"
    title = "OpenSearch"
    #: the launcher's env vars: <PREFIX>_JAVA_HOME, <PREFIX>_PATH_CONF, <PREFIX>_JAVA_OPTS
    env_prefix = "OPENSEARCH"
    #: settings beyond the common ones (ports, paths, single-node discovery)
    extra_settings: ClassVar[dict[str, str]] = {}

    def __init__(
        self, workdir: Path | None = None, *, heap: str = "512m", port: int | None = None
    ) -> None:
        # pytest's temporary folders are private to their user (0700), which the
        # unprivileged node could not enter: by default the node makes its own
        # under the system temp dir and removes it in stop().
        self.owned = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix=f"eokg-{self.product}-")) if workdir is None else workdir
        )
        self.heap = heap
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "stdout.log"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> OpenSearchNode:
        dist = distribution(self.product)
        home = java_home(self.env_prefix)
        if dist is None or home is None:
            raise RuntimeError(missing_reason(self.product))
        config = self.workdir / "config"
        shutil.copytree(dist / "config", config, dirs_exist_ok=True)
        # jvm.options names GC log, heap dump and error file relative to the
        # distribution: keep them in the node's folder instead
        jvm = config / "jvm.options"
        logs, data = self.workdir / "logs", self.workdir / "data"
        tmpdir = self.workdir / "tmp"
        for folder in (logs, data, tmpdir):
            folder.mkdir(exist_ok=True)
        jvm.write_text(
            jvm.read_text()
            .replace("file=logs/", f"file={logs}/")
            .replace("ErrorFile=logs/", f"ErrorFile={logs}/")
            .replace("HeapDumpPath=data", f"HeapDumpPath={data}")
        )
        env = dict(
            os.environ,
            **{
                f"{self.env_prefix}_JAVA_HOME": home,
                f"{self.env_prefix}_PATH_CONF": str(config),
                f"{self.env_prefix}_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
            },
            # Elasticsearch's launcher would make its JVM temp dir under /tmp
            ES_TMPDIR=str(tmpdir),
        )
        env.pop("JAVA_TOOL_OPTIONS", None)
        settings = {
            "cluster.name": f"eokg-test-{self.port}",
            "node.name": f"eokg-test-{self.port}",
            "network.host": "127.0.0.1",
            "http.port": str(self.port),
            "transport.port": str(free_port()),
            "discovery.type": "single-node",
            "path.data": str(data),
            "path.logs": str(logs),
            # a nearly full CI disk must not flip the test indices to read-only
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            **self.extra_settings,
        }
        args = [str(dist / "bin" / self.product)]
        for key, value in settings.items():
            args += ["-E", f"{key}={value}"]
        drop: dict[str, object] = {}
        if os.geteuid() == 0:
            env["HOME"] = str(self.workdir)
            drop = {"user": UNPRIVILEGED, "group": UNPRIVILEGED, "extra_groups": []}
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one by stop()
                **drop,  # type: ignore[arg-type]
            )
        self._wait_healthy(timeout_s)
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.title} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                answer = httpx.get(
                    f"{self.url}/_cluster/health",
                    params={"wait_for_status": "yellow", "timeout": "1s"},
                    timeout=5,
                )
                if answer.status_code == 200 and answer.json()["status"] in ("yellow", "green"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.kill()
        raise RuntimeError(f"{self.title} not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self, *, hard: bool = False) -> None:
        """SIGTERM (or SIGKILL with ``hard``) to the node's own process group, then wait.
        The data folder stays: ``start`` again brings the same cluster back."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """Kill the node and remove the folder it made."""
        self.kill()
        if self.owned:
            shutil.rmtree(self.workdir, ignore_errors=True)


class ElasticsearchNode(OpenSearchNode):
    """The same on Elasticsearch 8's integ-test zip (plain HTTP on loopback).

    That zip carries x-pack core and security (no other x-pack): security is
    switched off, as the OpenSearch zip has none.  Its launcher reads ES_*.
    """

    product = "elasticsearch"
    title = "Elasticsearch"
    env_prefix = "ES"
    extra_settings: ClassVar[dict[str, str]] = {"xpack.security.enabled": "false"}


NODES: dict[str, type[OpenSearchNode]] = {
    "opensearch": OpenSearchNode,
    "elasticsearch": ElasticsearchNode,
}


#: the env var naming your own server of each flavour
SERVER_ENV = {"opensearch": "EOKG_ES_URL", "elasticsearch": "EOKG_ELASTICSEARCH_URL"}


def catalogue_flavors() -> list[str]:
    """The search servers the whole catalogue suite runs on.

    OpenSearch always (its integ-test node, assembled with the geo and reindex
    modules, hosts the catalogue); Elasticsearch only when ``EOKG_ELASTICSEARCH_URL``
    names a full server, because its integ-test node cannot (``catalogue_gap``) and
    a suite of skips proves nothing.  That node still runs the client seam's tests
    (tests/catalog/test_es_client.py) with the official ``elasticsearch`` client.
    """
    return [f for f in NODES if f == "opensearch" or os.environ.get(SERVER_ENV[f])]


def catalogue_gap(url: str) -> str | None:
    """What the catalogue needs that the server at ``url`` lacks (None: nothing).

    Elasticsearch's integ-test zip has only its transport, x-pack core and
    security modules: no ``geo_shape`` mapper (x-pack spatial) and no
    ``_reindex`` / ``_delete_by_query`` (the reindex module), and Maven Central
    publishes neither module for 8.x.  The catalogue cannot run there; the
    client seam still can (tests/catalog/test_es_client.py).
    """
    probe = f"eokg-probe-{free_port()}"
    missing = []
    with httpx.Client(base_url=url, timeout=30) as http:
        made = http.put(
            f"/{probe}", json={"mappings": {"properties": {"g": {"type": "geo_shape"}}}}
        )
        if made.status_code == 200:
            http.delete(f"/{probe}")
        else:
            missing.append("the geo_shape field type (x-pack spatial)")
        # an empty body is a 400 where the route exists, a 405 where it does not
        if http.post("/_reindex", json={}).status_code == 405:
            missing.append("_reindex (the reindex module)")
    if not missing:
        return None
    return (
        f"the search server at {url} lacks {' and '.join(missing)}, which the catalogue "
        "needs; set EOKG_ELASTICSEARCH_URL to a full Elasticsearch (e.g. the "
        "docker.elastic.co image) to run the catalogue suite on it"
    )
