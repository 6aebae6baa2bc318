"""``eokg index PATH...``: load STAC items and collections into the catalogue.

Items are streamed and written in batches, so an NDJSON file of millions of
items never sits in memory.  Bad records are reported with their file, line and
item id; good ones are kept.  Exit code 0 if everything was indexed, 1 if any
record failed (so scripts notice), 2 if nothing could be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from eokg.config import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="STAC item/collection JSON, ItemCollection, NDJSON, or a folder",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="items per transaction")
    parser.add_argument(
        "--catalog", type=Path, help="SQLite file of the embedded catalogue (overrides settings)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--max-failures",
        type=int,
        default=50,
        help="failures listed in the text report (all are in --json)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from eokg.catalog.index import open_index
    from eokg.catalog.ingest import index_paths

    catalog = settings.catalog
    if args.catalog is not None:
        catalog = catalog.model_copy(update={"path": args.catalog})
    index = open_index(catalog)
    started = time.perf_counter()
    try:
        report = index_paths(index, args.paths, batch_size=args.batch_size)
    finally:
        index.close()
    elapsed = time.perf_counter() - started
    _print(report.bulk, report.collections, elapsed, args)
    if report.indexed == 0 and report.failed and not report.collections:
        return 2
    return 1 if report.failed else 0


def _print(report: Any, collections: int, elapsed: float, args: argparse.Namespace) -> None:
    if args.json:
        json.dump(
            {
                "indexed": report.indexed,
                "collections": collections,
                "failed": report.failed,
                "seconds": round(elapsed, 3),
                "failures": [f.to_json() for f in report.failures],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return
    rate = report.indexed / elapsed if elapsed > 0 else 0.0
    print(
        f"indexed {report.indexed} item(s) and {collections} collection(s) "
        f"in {elapsed:.2f}s ({rate:.0f} items/s); {report.failed} failure(s)"
    )
    for failure in report.failures[: args.max_failures]:
        item = f"item {failure.item_id!r}" if failure.item_id else "record"
        field = f" [{failure.field}]" if failure.field else ""
        print(f"  {failure.source or '?'}: {item}{field}: {failure.reason}")
    if report.failed > args.max_failures:
        print(f"  ... {report.failed - args.max_failures} more (use --json for all)")
