"""A failed Spark job leaves no output folder; ``_summary.json`` is written whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eokg.errors import JobFailed
from eokg.spark.summary import JobSummary, spark_output


def _half_written(folder: Path) -> None:
    folder.mkdir()
    (folder / "part-00000.nt").write_text("<a> <b> <c> .\n", encoding="utf-8")
    (folder / "_staging").mkdir()


def test_a_spark_failure_is_a_job_failed_with_sparks_reason(tmp_path: Path) -> None:
    from py4j.protocol import Py4JError

    out = tmp_path / "out"
    with pytest.raises(JobFailed) as caught, spark_output(out):
        _half_written(out)
        raise Py4JError(
            "An error occurred while calling o84.text.\n"
            ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 lost\n"
            "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages"
        )
    assert not out.exists()
    assert "Job aborted due to stage failure: Task 3 lost" in caught.value.message
    assert "o84" not in caught.value.message
    assert caught.value.where == str(out)


def test_any_other_failure_propagates_and_removes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="catalogue down"), spark_output(out):
        _half_written(out)
        raise RuntimeError("catalogue down")
    assert not out.exists()


def test_a_summary_is_written_in_one_rename(tmp_path: Path) -> None:
    path = JobSummary(engine="spark", triples=3).write(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8"))["triples"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["_summary.json"]
