"""Launch N training worker processes on loopback and wait for all of them.

Each worker is ``python -m eokg.ml.worker`` with its own ``TF_CONFIG`` (the same
cluster of ``127.0.0.1`` ports, its own task index), ``TF_USE_LEGACY_KERAS=1``
set before TensorFlow loads (Keras 3 cannot fit under
``MultiWorkerMirroredStrategy``), no GPU, and TensorFlow thread pools capped so
N workers share the machine instead of fighting over it.  If one worker fails,
the others would wait forever in a collective: they are stopped and the error
names the failed worker and quotes the end of its log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from eokg.errors import EokgError, LimitExceeded


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on loopback (bound together, then released)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_env(cluster: list[str], index: int, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
            ),
            "TF_USE_LEGACY_KERAS": "1",
            "CUDA_VISIBLE_DEVICES": "",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "EOKG_ML_THREADS": str(threads),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def launch_workers(
    dataset_dir: Path,
    out_dir: Path,
    *,
    workers: int,
    epochs: int,
    batch_size: int,
    seed: int,
    model: str,
    verbose: bool = False,
    timeout_s: float | None = None,
    threads: int | None = None,
) -> None:
    """Run ``workers`` processes to completion; raise naming the first that failed."""
    out_dir = Path(out_dir)
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    cluster = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    procs: list[subprocess.Popen[bytes]] = []
    handles = []
    deadline = time.monotonic() + timeout_s if timeout_s else None
    try:
        for index in range(workers):
            command = [
                sys.executable,
                "-m",
                "eokg.ml.worker",
                "--dataset",
                str(dataset_dir),
                "--out",
                str(out_dir),
                "--index",
                str(index),
                "--workers",
                str(workers),
                "--epochs",
                str(epochs),
                "--batch-size",
                str(batch_size),
                "--seed",
                str(seed),
                "--model",
                model,
            ]
            if verbose:
                command.append("--verbose")
            handle = (logs / f"worker-{index}.log").open("wb")
            handles.append(handle)
            # The chief's progress goes to the terminal when verbose; everything to its log.
            stdout = None if (verbose and index == 0) else handle
            procs.append(
                subprocess.Popen(
                    command, env=worker_env(cluster, index, threads), stdout=stdout, stderr=handle
                )
            )
        while True:
            codes = [p.poll() for p in procs]
            failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                i = failed[0]
                raise EokgError(
                    f"training worker exited with code {codes[i]}: {_tail(logs, i)}",
                    where=f"worker {i} ({logs / f'worker-{i}.log'})",
                )
            if all(c == 0 for c in codes):
                return
            if deadline is not None and time.monotonic() > deadline:
                raise LimitExceeded(
                    f"training took longer than {timeout_s} s", where=f"workers ({logs})"
                )
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for handle in handles:
            handle.close()


def _tail(logs: Path, index: int, lines: int = 8) -> str:
    path = logs / f"worker-{index}.log"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:])
