"""A throwaway OpenSearch node on loopback for the catalogue tests.

``scripts/install.sh`` (with the ``es`` or ``all`` extra) unpacks the
integ-test distribution (``org.opensearch.distribution.integ-test-zip:opensearch``
from Maven Central, no plugins, no security, no bundled JDK) into
``.vendor/opensearch-<version>/``.  Nothing is downloaded here: a missing
distribution is a skip with the reason.  Each node gets its own config copy,
data and logs under a temporary folder, free loopback ports, a 512 MB heap and
``discovery.type=single-node``; ``stop`` kills only the process group it started.
OpenSearch refuses to run as root, so under root (CI containers) the node runs
as ``nobody`` and its temporary folder is handed to that user.
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

import httpx

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / ".vendor"
START_TIMEOUT_S = 90.0
#: uid/gid the node runs as when the tests run as root (OpenSearch refuses root).
UNPRIVILEGED = 65534


def distribution() -> Path | None:
    """The newest unpacked distribution under ``.vendor/``, or None."""
    found = [p.parent.parent for p in VENDOR.glob("opensearch-*/bin/opensearch")]

    def version(path: Path) -> tuple[int, ...]:
        tail = path.name.removeprefix("opensearch-")
        return tuple(int(x) if x.isdigit() else 0 for x in tail.split("."))

    return max(found, key=version) if found else None


def java_home() -> str | None:
    """OPENSEARCH_JAVA_HOME, JAVA_HOME, or the JDK of the ``java`` on PATH."""
    for name in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(name):
            return os.environ[name]
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def missing_reason() -> str | None:
    """Why no node can be started here (None: it can)."""
    if distribution() is None:
        return (
            f"no OpenSearch distribution in {VENDOR} (run scripts/install.sh with the "
            "es or all extra) and EOKG_ES_URL is not set"
        )
    if java_home() is None:
        return "no Java for OpenSearch (set OPENSEARCH_JAVA_HOME or put java on PATH)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OpenSearchNode:
    """One single-node cluster; ``start`` blocks until its health is yellow or green."""

    def __init__(
        self, workdir: Path | None = None, *, heap: str = "512m", port: int | None = None
    ) -> None:
        # pytest's temporary folders are private to their user (0700), which the
        # unprivileged node could not enter: by default the node makes its own
        # under the system temp dir and removes it in stop().
        self.owned = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="eokg-opensearch-")) if workdir is None else workdir
        )
        self.heap = heap
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "stdout.log"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> OpenSearchNode:
        dist = distribution()
        home = java_home()
        if dist is None or home is None:
            raise RuntimeError(missing_reason())
        config = self.workdir / "config"
        shutil.copytree(dist / "config", config, dirs_exist_ok=True)
        # jvm.options names GC log, heap dump and error file relative to the
        # distribution: keep them in the node's folder instead
        jvm = config / "jvm.options"
        logs, data = self.workdir / "logs", self.workdir / "data"
        logs.mkdir(exist_ok=True)
        data.mkdir(exist_ok=True)
        jvm.write_text(
            jvm.read_text()
            .replace("file=logs/", f"file={logs}/")
            .replace("ErrorFile=logs/", f"ErrorFile={logs}/")
            .replace("HeapDumpPath=data", f"HeapDumpPath={data}")
        )
        env = dict(
            os.environ,
            OPENSEARCH_JAVA_HOME=home,
            OPENSEARCH_PATH_CONF=str(config),
            OPENSEARCH_JAVA_OPTS=f"-Xms{self.heap} -Xmx{self.heap}",
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
        }
        args = [str(dist / "bin" / "opensearch")]
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
                    f"OpenSearch exited with {self.process.returncode}:\n{self.log_tail()}"
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
        raise RuntimeError(f"OpenSearch not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

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
