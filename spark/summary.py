"""What a mapping job did, in numbers: written next to its output as ``_summary.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
        path = Path(directory) / "_summary.json"
        path.write_text(
            json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return path
