"""A Spark standalone cluster on loopback: one master and N workers, separate JVMs.

Started with the ``spark-class`` launcher of the PySpark distribution (the same
command docker-compose.yml runs), so the tests exercise what a real standalone
cluster does: executors in their own JVMs and Python workers, code shipped to
them, results collected over the network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StandaloneCluster:
    """``with StandaloneCluster(folder, workers=2) as cluster: cluster.url``."""

    def __init__(self, folder: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g"):
        self.folder = folder
        self.workers = workers
        self.cores = cores
        self.memory = memory
        self.port = _free_port()
        self.ui_port = _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self._procs: list[subprocess.Popen[bytes]] = []

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOG_DIR=str(self.folder / "logs"),
            SPARK_NO_DAEMONIZE="1",
            PYSPARK_PYTHON=sys.executable,
        )
        return env

    def _start(self, name: str, *args: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [str(spark_home() / "bin" / "spark-class"), *args]
        self._procs.append(
            subprocess.Popen(command, env=self._env(), stdout=log, stderr=subprocess.STDOUT)
        )

    def __enter__(self) -> StandaloneCluster:
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        self._start(
            "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
            "--port", str(self.port), "--webui-port", str(self.ui_port),
        )
        self._wait(lambda state: True, "the master")
        for i in range(self.workers):
            work = self.folder / f"worker{i}"
            work.mkdir(exist_ok=True)
            self._start(
                f"worker{i}", "org.apache.spark.deploy.worker.Worker", self.url,
                "--host", "127.0.0.1", "--cores", str(self.cores), "--memory", self.memory,
                "--webui-port", str(_free_port()), "--work-dir", str(work),
            )
        self._wait(lambda state: state.get("aliveworkers", 0) >= self.workers, "the workers")
        return self

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return dict(json.load(r))

    def _wait(self, ready: Any, what: str, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a cluster process died starting {what}: {self._logs()}")
            try:
                if ready(self.state()):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what} did not come up in {timeout_s} s: {self._logs()}")

    def _logs(self) -> str:
        return " | ".join(
            p.read_text(errors="replace")[-800:] for p in sorted(self.folder.glob("*.log"))
        )

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
