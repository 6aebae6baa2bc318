"""What a job did, in numbers: written next to its output as ``_summary.json``.

``_summary.json`` is the mark of a complete output: it is written last, in one
rename, and a Spark job that fails removes its output folder
(``spark_output``), so part files without a summary never outlive a failed run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def write_summary(directory: Path, data: dict[str, Any]) -> Path:
    """Write ``_summary.json`` in ``directory`` in one rename (a reader never sees half)."""
    path = Path(directory) / "_summary.json"
    partial = path.with_name("_summary.json.partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


@contextmanager
def spark_output(directory: Path) -> Iterator[None]:
    """Around a Spark job's writes into ``directory``: on any failure, remove it.

    Spark's committer never publishes a failed job's tasks, but part files moved
    or counted so far would look like a (smaller) complete output.  A failure of
    the cluster or of a task (executors lost past Spark's retries, a Python
    worker error) becomes a ``JobFailed`` carrying Spark's reason.
    """
    from eokg.errors import JobFailed

    try:
        yield
    except BaseException as exc:
        shutil.rmtree(directory, ignore_errors=True)
        if _is_spark_failure(exc):
            raise JobFailed(
                f"the Spark job failed, its output folder was removed: {_reason(exc)}",
                where=str(directory),
            ) from exc
        raise


def _is_spark_failure(exc: BaseException) -> bool:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return isinstance(exc, Py4JError | PySparkException)


def _reason(exc: BaseException) -> str:
    """The failure's reason: py4j's first line only names the Java call that failed."""
    lines = [line.strip().removeprefix(": ") for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith("An error occurred while calling")]
    return (reasons or lines or [type(exc).__name__])[0][:500]


@dataclass
class JobSummary:
    """Counts per triples map, so a reader sees at once which rule lost records."""

    engine: str
    triples: int = 0
    records: dict[str, int] = field(default_factory=dict)
    triples_per_map: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    output: str | None = None
    distinct: bool = False
    #: Spark only: whether the session had Apache Sedona's ST_ functions registered
    sedona: bool | None = None
    #: who ran the geometry functions: "sedona", "shapely", "sedona+shapely", None (none)
    geometry_engine: str | None = None
    #: sources whose geometry stayed on shapely although the session had Sedona, and why
    geometry_fallbacks: dict[str, str] = field(default_factory=dict)

    @property
    def reject_count(self) -> int:
        return sum(self.rejects.values())

    def add_counts(
        self, records: dict[str, int], triples: dict[str, int], rejects: dict[str, int]
    ) -> None:
        for key, value in records.items():
            self.records[key] = self.records.get(key, 0) + value
        for key, value in triples.items():
            self.triples_per_map[key] = self.triples_per_map.get(key, 0) + value
        for key, value in rejects.items():
            self.rejects[key] = self.rejects.get(key, 0) + value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reject_count"] = self.reject_count
        return data

    def write(self, directory: Path) -> Path:
        return write_summary(directory, self.to_dict())
