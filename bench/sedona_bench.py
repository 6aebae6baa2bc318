"""Apache Sedona on Spark against the shapely engine: link discovery and mapping.

    python -m bench.sedona_bench link --points 1000000 --polygons 100000
    python -m bench.sedona_bench map --records 1000000 [--precision 6|17]

One warm SparkSession (local[2], Sedona's jars from .vendor/sedona) runs both
engines on the same inputs, each timed end to end inside the session (reading
the inputs included, Spark start-up not), alternating engines ``--repeat``
times; the best run counts.  Outputs are compared as multisets of N-Triples
lines (count plus an order-independent checksum), so a figure only counts
with "the same triples".  Results go to bench/results/sedona-<what>-<n>.json.

* link: random points and small quadrilaterals over a 30 x 17 degree box
  (GeoParquet-like WKB), relations sfIntersects and sfWithin: Sedona's
  ``ST_Intersects`` range join plus ``ST_Relate`` against the grid join plus
  one ``shapely.relate`` per candidate in ``mapInArrow``.
* map: bench/morph/parcels.rml.ttl with its WKT written by ``eofn:asWKT``
  (``eofn:required true``), as the shipped mappings do, 1M CSV records;
  ``--precision`` rounds the input ordinates (6: as the mapping benchmark;
  17: full doubles, where every ordinate takes the decimal rounding).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"


def _session(master: str) -> Any:
    from eokg.config import SparkSettings
    from eokg.spark.session import build_session, has_sedona

    spark = build_session(SparkSettings(master=master, driver_memory="6g", shuffle_partitions=8))
    if not has_sedona(spark):
        raise SystemExit("no Apache Sedona in the session: run scripts/install.sh (spark extra)")
    return spark


def _best(runs: dict[str, Callable[[], dict[str, Any]]], repeat: int) -> dict[str, Any]:
    """Alternate the engines ``repeat`` times; every time and the outputs' checksums."""
    out: dict[str, Any] = {name: {"seconds": []} for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            extra = run()
            out[name]["seconds"].append(round(time.perf_counter() - start, 2))
            out[name].update(extra)
    for entry in out.values():
        entry["best"] = min(entry["seconds"])
    return out


def _checksum(folder: Path) -> tuple[int, str]:
    from bench.mapping_bench import checksum

    return checksum(folder)


# ---------------------------------------------------------------------- link


def write_link_inputs(work: Path, points: int, polygons: int, seed: int = 7) -> tuple[Path, Path]:
    """Points and small quadrilaterals (up to ~0.05 degrees) as Parquet (id, WKB)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(-5, 25, points), rng.uniform(43, 60, points)])
    pts = shapely.points(xy)
    x0, y0 = rng.uniform(-5, 25, polygons), rng.uniform(43, 60, polygons)
    w, h, skew = (rng.uniform(0.005, 0.05, polygons) for _ in range(3))
    rings = np.stack(
        [
            np.column_stack([x0, y0]),
            np.column_stack([x0 + w, y0 + skew * 0.2]),
            np.column_stack([x0 + w, y0 + h]),
            np.column_stack([x0 - skew * 0.2, y0 + h]),
            np.column_stack([x0, y0]),
        ],
        axis=1,
    )
    polys = shapely.polygons(rings)
    paths = []
    for name, geoms in (("points", pts), ("polygons", polys)):
        path = work / f"{name}.parquet"
        ids = [f"{name[0]}{i}" for i in range(len(geoms))]
        pq.write_table(pa.table({"id": ids, "geometry": shapely.to_wkb(geoms)}), path)
        paths.append(path)
    return paths[0], paths[1]


def bench_link(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from eokg.spark.link import link_spark

    spark = _session(args.master)
    points, polygons = write_link_inputs(work, args.points, args.polygons)
    wanted = ["sfIntersects", "sfWithin"]

    def run(engine: str) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            out = work / f"out-{engine}"
            summary = link_spark(
                spark, points, polygons, wanted, out, geometry_engine=engine,
                source_template="https://w3id.org/eokg/data/p/{id}",
                target_template="https://w3id.org/eokg/data/q/{id}",
            )  # fmt: skip
            lines, digest = _checksum(out)
            return {"links": summary.links, "candidates": summary.candidates,
                    "lines": lines, "checksum": digest}  # fmt: skip

        return go

    result = _best({"sedona": run("sedona"), "grid+shapely": run("shapely")}, args.repeat)
    return {"what": "link", "points": args.points, "polygons": args.polygons,
            "master": args.master, **result}  # fmt: skip


# ---------------------------------------------------------------------- map


_AS_WKT = """rr:objectMap [ rr:datatype geo:wktLiteral ; fnml:functionValue [
        rr:predicateObjectMap [ rr:predicate fno:executes ; rr:object eofn:asWKT ] ;
        rr:predicateObjectMap [ rr:predicate eofn:geometry ;
            rr:objectMap [ rml:reference "wkt" ] ] ;
        rr:predicateObjectMap [ rr:predicate eofn:required ; rr:object true ] ] ] ] ."""
_PREFIXES = """@prefix fnml: <http://semweb.mmlab.be/ns/fnml#> .
@prefix fno:  <https://w3id.org/function/ontology#> .
@prefix eofn: <https://w3id.org/eokg/function#> .
"""


def write_map_inputs(work: Path, records: int, precision: int) -> Path:
    """The mapping benchmark's parcels CSV (ordinates re-rounded) and the mapping."""
    from bench.mapping_bench import MAPPING, make_csv

    make_csv(work / "parcels.csv", records)
    if precision != 6:  # re-draw the quadrilaterals with full doubles
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import shapely

        table = pacsv.read_csv(work / "parcels.csv")
        geoms = shapely.from_wkt(table.column("wkt").to_numpy(zero_copy_only=False))
        geoms = shapely.transform(geoms, lambda xy: xy + np.pi * 1e-7)  # rings stay closed
        wkt = shapely.to_wkt(geoms, rounding_precision=precision, trim=True)
        table = table.set_column(table.schema.get_field_index("wkt"), "wkt", pa.array(wkt))
        pacsv.write_csv(table, work / "parcels.csv")
    text = MAPPING.read_text()
    plain = 'rr:objectMap [ rml:reference "wkt" ; rr:datatype geo:wktLiteral ] ] .'
    head, _, tail = text.rpartition(plain)
    mapping = work / "parcels.rml.ttl"
    mapping.write_text(_PREFIXES + head + _AS_WKT + tail)
    return mapping


def bench_map(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from eokg.spark.job import run_spark
    from eokg.spark.rml import load_mapping

    spark = _session(args.master)
    plan = load_mapping([write_map_inputs(work, args.records, args.precision)], base_dir=work)

    def run(engine: str) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            out = work / f"out-{engine}"
            summary = run_spark(plan, out, spark, geometry_engine=engine)
            lines, digest = _checksum(out)
            return {"triples": summary.triples, "rejects": summary.reject_count,
                    "geometry_engine": summary.geometry_engine, "lines": lines,
                    "checksum": digest}  # fmt: skip

        return go

    result = _best({"sedona": run("sedona"), "shapely": run("shapely")}, args.repeat)
    return {"what": "map", "records": args.records, "precision": args.precision,
            "master": args.master, **result}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("what", choices=("link", "map"))
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--polygons", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--precision", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="sedona-bench-"))
    try:
        result = bench_link(args, scratch) if args.what == "link" else bench_map(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    engines = [k for k in result if isinstance(result[k], dict)]
    sums = {(result[k]["lines"], result[k]["checksum"]) for k in engines}
    result["same_output"] = len(sums) == 1
    RESULTS.mkdir(exist_ok=True)
    size = args.points if args.what == "link" else args.records
    name = f"sedona-{args.what}-{size}" + (f"-p{args.precision}" if args.what == "map" else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["same_output"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
