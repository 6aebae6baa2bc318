"""Stream STAC files into a metadata index: the one ingest path for the CLI and the pipeline.

Items are streamed and written in batches, so an NDJSON file of millions of
items never sits in memory.  Bad records are reported with their file, line and
item id; good ones are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eokg.catalog.index import BulkReport, ItemFailure, MetadataIndex
from eokg.catalog.readers import Record, classify, read_records


@dataclass
class IngestReport:
    """Items and collections indexed, and every failure with where it came from."""

    bulk: BulkReport = field(default_factory=BulkReport)
    collections: int = 0

    @property
    def indexed(self) -> int:
        return self.bulk.indexed

    @property
    def failed(self) -> int:
        return self.bulk.failed

    @property
    def failures(self) -> list[ItemFailure]:
        return self.bulk.failures

    def merge(self, other: IngestReport) -> None:
        self.bulk.merge(other.bulk)
        self.collections += other.collections


def index_paths(
    index: MetadataIndex, paths: Iterable[Path], *, batch_size: int = 1000
) -> IngestReport:
    """Index the items and collections found in ``paths`` (files or folders)."""
    return index_records(
        index, (record for path in paths for record in read_records(path)), batch_size=batch_size
    )


def index_documents(
    index: MetadataIndex, docs: Iterable[Any], *, where: str, batch_size: int = 1000
) -> IngestReport:
    """Index STAC documents someone else has parsed, e.g. the mapping job in its one pass."""
    return index_records(
        index, (record for doc in docs for record in classify(doc, where)), batch_size=batch_size
    )


def index_records(
    index: MetadataIndex, records: Iterable[Record], *, batch_size: int = 1000
) -> IngestReport:
    """Add collections at once, stream items in batches, and report every failure."""
    report = IngestReport()
    current = {"where": "?"}  # where the item being validated came from

    def items() -> Iterator[dict[str, Any]]:
        for record in records:
            if record.kind == "broken":
                report.bulk.failures.append(
                    ItemFailure(None, record.error or "", None, record.where)
                )
            elif record.kind == "collection":
                try:
                    index.add_collection(record.doc)
                    report.collections += 1
                except Exception as exc:  # report and continue with the rest
                    report.bulk.failures.append(ItemFailure(None, str(exc), None, record.where))
            else:
                current["where"] = record.where
                yield record.doc

    def locate(failure: ItemFailure) -> None:
        # Validation rejects an item as soon as it is read, i.e. the record just yielded.
        if failure.source and failure.source.startswith("#"):
            failure.source = current["where"]

    result = index.upsert_items(items(), batch_size=batch_size, on_failure=locate)
    report.bulk.merge(result)
    return report
