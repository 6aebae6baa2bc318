"""``eokg map``: run RML mappings locally or on Spark.

    eokg map ontologies/mappings/icechart.rml.ttl --data-dir eokg-data/sample \\
        --input icechart.parquet=/data/icechart.parquet --output out/ --engine spark
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eokg.errors import InputError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "mapping",
        nargs="+",
        type=Path,
        help="RML mapping file(s) (Turtle); a bare name picks a shipped mapping",
    )
    parser.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="override a logical source (by rml:source, file name or stem)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder that relative rml:source paths are resolved against "
        "(default: the mapping file's folder)",
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    add_engine_arguments(
        parser,
        "Spark only: sedona compiles geometry functions to Apache Sedona SQL (same "
        "output; needs its jars); auto uses shapely, measured faster for mapping",
    )
    parser.add_argument("--distinct", action="store_true", help="drop duplicate triples")
    parser.add_argument(
        "--compile-sql",
        action="store_true",
        help="Spark only: map sources that need no Python with Spark SQL expressions "
        "(same output; slower than the Arrow executor on a 2-core machine)",
    )


def add_engine_arguments(parser: argparse.ArgumentParser, geometry_help: str) -> None:
    """``--engine``, ``--master`` and ``--geometry-engine``, shared by map and link."""
    parser.add_argument("--engine", choices=("spark", "local"), default="spark")
    parser.add_argument(
        "--master",
        help="Spark master URL (local[*], spark://host:7077, yarn, k8s://...); overrides "
        "EOKG_SPARK__MASTER; eokg's code is shipped to a cluster's executors",
    )
    parser.add_argument(
        "--geometry-engine", choices=("auto", "sedona", "shapely"), default="auto",
        help=geometry_help,
    )


def parse_inputs(items: list[str]) -> dict[str, Path]:
    inputs: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"expected NAME=PATH, got {item!r}", where="--input")
        inputs[name] = Path(path)
    return inputs


def resolve_mapping(path: Path) -> Path:
    """A path, or the name of a shipped mapping (``icechart`` -> icechart.rml.ttl)."""
    if path.exists():
        return path
    from eokg.ontologies.paths import MAPPINGS_DIR

    for candidate in (MAPPINGS_DIR / path.name, MAPPINGS_DIR / f"{path.name}.rml.ttl"):
        if candidate.exists():
            return candidate
    raise InputError("mapping file not found", where=str(path))


def run(args: argparse.Namespace, settings: object) -> int:
    from eokg.spark.rml import load_mapping

    mappings = [resolve_mapping(p) for p in args.mapping]
    plan = load_mapping(mappings, inputs=parse_inputs(args.input), base_dir=args.data_dir)
    spark_settings = settings.spark  # type: ignore[attr-defined]
    if args.engine == "local":
        from eokg.spark.local import run_local

        summary = run_local(
            plan, args.output, distinct=args.distinct, batch_rows=spark_settings.arrow_batch_rows
        )
    else:
        from eokg.spark.job import run_spark
        from eokg.spark.session import build_session, with_master

        spark = build_session(with_master(spark_settings, args.master))
        summary = run_spark(
            plan,
            args.output,
            spark,
            distinct=args.distinct,
            batch_rows=spark_settings.arrow_batch_rows,
            compile_sql=args.compile_sql,
            geometry_engine=args.geometry_engine,
        )
    print(
        json.dumps(
            {
                "triples": summary.triples,
                "rejects": summary.reject_count,
                "seconds": summary.seconds,
                "output": summary.output,
            }
        )
    )
    return 0
