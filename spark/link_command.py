"""``eokg link``: discover GeoSPARQL topological relations between two datasets.

    eokg link --source icechart.parquet --target parcels.parquet \\
        --relations sfIntersects,sfContains --output links/ [--engine spark|local]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eokg.spark.commands import add_engine_arguments

DEFAULT_TEMPLATE = "https://w3id.org/eokg/data/feature/{id}"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=Path, required=True, help="GeoParquet/GeoJSON/Shapefile A")
    parser.add_argument("--target", type=Path, required=True, help="GeoParquet/GeoJSON/Shapefile B")
    parser.add_argument(
        "--relations",
        default="sfIntersects",
        help="comma-separated: sfIntersects,sfContains,sfWithin,sfTouches,"
        "sfOverlaps,sfEquals,sfCovers,sfCoveredBy,sfCrosses",
    )
    parser.add_argument("--output", "-o", type=Path, required=True)
    parser.add_argument(
        "--source-template",
        default=DEFAULT_TEMPLATE,
        help="IRI template of A's features, e.g. "
        "https://w3id.org/eokg/data/icechart/{chart_date}/{id}",
    )
    parser.add_argument("--target-template", default=DEFAULT_TEMPLATE)
    parser.add_argument("--geometry", default="geometry", help="geometry column (WKB or WKT)")
    add_engine_arguments(
        parser,
        "spark engine: sedona (Sedona's spatial join; needs its jars) or the grid with "
        "shapely (shapely, and auto: measured faster on 2 cores)",
    )
    parser.add_argument(
        "--cell-size",
        type=float,
        default=None,
        help="grid cell size in CRS units (default: from the data)",
    )


def run(args: argparse.Namespace, settings: object) -> int:
    from eokg.spark.link import link_local, link_spark, parse_relations

    wanted = parse_relations(args.relations)
    common = dict(
        source_template=args.source_template,
        target_template=args.target_template,
        geometry=args.geometry,
    )
    if args.engine == "local":
        summary = link_local(args.source, args.target, wanted, args.output, **common)
    else:
        from eokg.spark.session import build_session, with_master

        spark = build_session(with_master(settings.spark, args.master))  # type: ignore[attr-defined]
        summary = link_spark(
            spark,
            args.source,
            args.target,
            wanted,
            args.output,
            cell_size=args.cell_size,
            geometry_engine=args.geometry_engine,
            **common,
        )
    print(
        json.dumps(
            {
                "links": summary.links,
                "candidates": summary.candidates,
                "seconds": summary.seconds,
                "geometry_engine": summary.geometry_engine,
            }
        )
    )
    return 0
