"""An executor killed in the middle of ``eokg map`` on a standalone cluster.

Two workers run as separate JVMs (``standalone.py``); the job maps a CSV split
into many small tasks, and once the first task has committed its output, one
executor JVM is killed with SIGKILL, as when a node dies or the OOM killer
strikes.  With Spark's default retries the job finishes on the executor left
and the one the worker relaunches, and its output equals a local run's, line
for line (no task's output twice, none missing).  With retries off
(``spark.task.maxFailures=1``) the job fails with a clear error and leaves no
output folder: never part files that look like a complete, smaller output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standalone import StandaloneCluster

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = 100_000
MAPPING = """
@prefix rml: <http://w3id.org/rml/> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix ex: <http://example.org/> .
<#Points> a rml:TriplesMap ;
  rml:logicalSource [ rml:source [ a rml:RelativePathSource ; rml:path "points.csv" ] ;
                      rml:referenceFormulation rml:CSV ] ;
  rml:subjectMap [ rml:template "http://example.org/p/{id}" ; rml:class ex:Point ] ;
  rml:predicateObjectMap [ rml:predicate ex:name ; rml:objectMap [ rml:reference "name" ] ] ;
  rml:predicateObjectMap [ rml:predicate geo:asWKT ;
    rml:objectMap [ rml:template "POINT({x} {y})" ; rml:termType rml:Literal ;
                    rml:datatype geo:wktLiteral ] ] .
"""


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mapping over a CSV big enough for ~50 tasks."""
    folder = tmp_path_factory.mktemp("fault-job")
    with (folder / "points.csv").open("w", encoding="utf-8") as out:
        out.write("id,name,x,y\n")
        for i in range(ROWS):
            out.write(f"{i},point {i},{(i % 3600) / 10 - 180:.1f},{(i % 1700) / 10 - 85:.1f}\n")
    (folder / "points.rml.ttl").write_text(MAPPING, encoding="utf-8")
    return folder


def _env(*confs: str) -> dict[str, str]:
    submit = " ".join(f"--conf {c}" for c in confs)
    return dict(
        os.environ,
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        # many small input splits: the job is many tasks, so one can be lost mid-job
        PYSPARK_SUBMIT_ARGS=(
            f"--conf spark.sql.files.maxPartitionBytes=65536 {submit} pyspark-shell"
        ),
    )


def _command(job: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "eokg", "map", str(job / "points.rml.ttl"),
        "--data-dir", str(job), "--output", str(output), *extra,
    ]  # fmt: skip


def _executors(cluster: StandaloneCluster) -> set[int]:
    """Pids of the cluster's executor JVMs (their working folders are under the cluster's)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if b"CoarseGrainedExecutorBackend" in cmdline and cwd.startswith(str(cluster.folder)):
            pids.add(int(entry.name))
    return pids


def _committed_tasks(output: Path) -> int:
    """Tasks whose output Spark's committer has accepted so far (algorithm v1 and v2)."""
    staging = output / "_staging"
    return len(list(staging.glob("_temporary/0/task_*"))) + len(list(staging.glob("kind=*/*")))


def _run_and_kill(
    cluster: StandaloneCluster, command: list[str], output: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], int, set[int]]:
    """Run ``command``; SIGKILL one executor once a task has committed; the pid killed."""
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 300
        victim = 0
        while time.monotonic() < deadline and proc.poll() is None:
            running = _executors(cluster)
            if len(running) == 2 and _committed_tasks(output) >= 1:
                victim = min(running)
                os.kill(victim, signal.SIGKILL)
                break
            time.sleep(0.05)
        stdout, stderr = proc.communicate(timeout=600)
        done = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    assert victim, f"the job ended before an executor could be killed: {stderr[-2000:]}"
    return done, victim, _executors(cluster)


def _lines(folder: Path) -> list[str]:
    return sorted(
        line
        for path in folder.glob("part-*")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def test_a_killed_executor_is_retried_and_the_output_is_whole(
    cluster: StandaloneCluster, job: Path, tmp_path: Path
) -> None:
    output = tmp_path / "cluster"
    done, victim, after = _run_and_kill(
        cluster, _command(job, output, "--master", cluster.url), output, _env()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert victim not in after  # it really died; the worker started a new executor
    lines = _lines(output)
    assert len(lines) == len(set(lines)) == 3 * ROWS  # no task's lines twice
    subjects = {line.split(" ", 1)[0] for line in lines}
    assert subjects == {f"<http://example.org/p/{i}>" for i in range(ROWS)}  # none lost
    assert '<http://example.org/p/7> <http://example.org/name> "point 7" .' in lines
    summary = json.loads((output / "_summary.json").read_text(encoding="utf-8"))
    assert summary["triples"] == 3 * ROWS
    assert not (output / "_staging").exists()


def test_without_retries_the_job_fails_and_leaves_no_output(
    cluster: StandaloneCluster, job: Path, tmp_path: Path
) -> None:
    output = tmp_path / "cluster"
    done, _, _ = _run_and_kill(
        cluster,
        _command(job, output, "--master", cluster.url),
        output,
        _env("spark.task.maxFailures=1"),
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "the Spark job failed, its output folder was removed: " in done.stderr
    assert "Job aborted due to stage failure" in done.stderr  # Spark's reason, not py4j's
    assert "Traceback" not in done.stderr
    assert not output.exists()
