"""``eokg map`` and ``eokg link`` on a Spark standalone cluster: same triples as locally.

A master and two workers run as separate JVMs on loopback (``standalone.py``).
Each job runs in its own driver process, as a user would start it: the CLI with
``--master spark://...``, and ``spark-submit`` of eokg's entry script.  The
executors import eokg from the zip the driver ships (``spark/ship.py``), which
one test checks directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from standalone import StandaloneCluster, spark_home

pytestmark = pytest.mark.spark


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1",
               EOKG_SPARK__SHUFFLE_PARTITIONS="4")
    env.update(extra)
    return env


def _run(command: list[str], **env: str) -> str:
    done = subprocess.run(command, env=_env(**env), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _lines(folder: Path) -> set[str]:
    out: set[str] = set()
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith((".", "_")) and path.suffix != ".json":
            out |= {line for line in path.read_text().splitlines() if line.strip()}
    return out


def test_executors_import_eokg_from_the_shipped_zip(cluster: StandaloneCluster) -> None:
    script = (
        "from eokg.config import SparkSettings\n"
        "from eokg.spark.session import build_session\n"
        f"spark = build_session(SparkSettings(master={cluster.url!r}, sedona='off'))\n"
        "files = spark.sparkContext.parallelize(range(4), 4)"
        ".map(lambda _: __import__('eokg').__file__).collect()\n"
        "print('\\n'.join(sorted(set(files))))\n"
        "spark.stop()\n"
    )
    files = _run([sys.executable, "-c", script]).split()
    assert files and all(".zip" in f and "eokg-" in f for f in files), files
    state = cluster.state()
    assert state["aliveworkers"] == 2
    assert any(app["name"] == "eokg" for app in state.get("completedapps", []))


@pytest.mark.parametrize("mapping", ["icechart", "sentinel1"])
def test_map_on_the_cluster_equals_local_mode(
    cluster: StandaloneCluster, sample_dir: Path, tmp_path: Path, mapping: str
) -> None:
    base = [sys.executable, "-m", "eokg", "map", mapping, "--data-dir", str(sample_dir)]
    _run([*base, "--engine", "local", "--output", str(tmp_path / "local")])
    summary = json.loads(
        _run([*base, "--master", cluster.url, "--output", str(tmp_path / "cluster")])
    )
    local, remote = _lines(tmp_path / "local"), _lines(tmp_path / "cluster")
    assert remote and remote == local
    assert summary["triples"] >= len(remote)


def test_spark_submit_of_the_job_script(
    cluster: StandaloneCluster, sample_dir: Path, tmp_path: Path
) -> None:
    """``spark-submit`` runs eokg's entry script on the cluster; the master given
    to spark-submit wins over the settings, and the session ships eokg's zip."""
    import eokg

    entry = Path(eokg.__file__).with_name("__main__.py")
    command = [
        str(spark_home() / "bin" / "spark-submit"), "--master", cluster.url, str(entry),
        "map", "icechart", "--data-dir", str(sample_dir), "--output", str(tmp_path / "submit"),
    ]
    _run(command, EOKG_SPARK__MASTER="local[1]")
    _run([sys.executable, "-m", "eokg", "map", "icechart", "--data-dir", str(sample_dir),
          "--engine", "local", "--output", str(tmp_path / "local")])
    assert _lines(tmp_path / "submit") == _lines(tmp_path / "local")


def test_link_on_the_cluster_equals_local_mode(
    cluster: StandaloneCluster, sample_dir: Path, tmp_path: Path
) -> None:
    charts = sample_dir / "icecharts"
    base = [
        sys.executable, "-m", "eokg", "link",
        "--source", str(charts / "icechart.parquet"), "--target", str(charts / "icechart.geojson"),
        "--relations", "sfIntersects,sfEquals,sfTouches",
    ]
    _run([*base, "--engine", "local", "--output", str(tmp_path / "local")])
    _run([*base, "--master", cluster.url, "--output", str(tmp_path / "cluster")])
    local = _lines(tmp_path / "local")
    assert local and _lines(tmp_path / "cluster") == local
