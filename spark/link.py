"""Topological link discovery between two geometry datasets, JedAI-spatial style.

Candidates come from bounding boxes (an STRtree locally, a uniform grid in
Spark: each bbox is assigned to the grid cells it covers, the two sides are
joined on cell, and a pair seen in several cells is kept only in the cell that
holds the lower-left corner of the two boxes' intersection, the "reference
point" rule, so no pair is verified twice).  Each candidate pair is verified
with ONE ``shapely.relate`` call: the DE-9IM matrix answers every requested
relation at once, which is what makes verification cheap.

Every GeoSPARQL Simple Features relation except sfDisjoint implies that the
boxes intersect, so box candidates lose no link.

With ``geometry_engine="sedona"`` (the session must have Apache Sedona),
``link_spark`` runs the whole discovery in the JVM instead, as DS-JedAI does:
an ``ST_Intersects`` join predicate, which Sedona plans as a spatially
partitioned range join (``RangeJoin``/``BroadcastIndexJoin`` in the plan), then
one ``ST_Relate`` per pair whose DE-9IM matrix is matched against the same
patterns in SQL.  JTS and GEOS compute the same matrices, so both engines
write the same links.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from eokg.errors import InputError
from eokg.ontologies.namespaces import GEO
from eokg.spark.summary import spark_output, write_summary

#: DE-9IM patterns of the GeoSPARQL Simple Features relations (OGC 06-103r4).
PATTERNS: dict[str, tuple[str, ...]] = {
    "sfEquals": ("T*F**FFF*",),
    "sfIntersects": ("T********", "*T*******", "***T*****", "****T****"),
    "sfTouches": ("FT*******", "F**T*****", "F***T****"),
    "sfWithin": ("T*F**F***",),
    "sfContains": ("T*****FF*",),
    "sfCovers": ("T*****FF*", "*T****FF*", "***T**FF*", "****T*FF*"),
    "sfCoveredBy": ("T*F**F***", "*TF**F***", "**FT*F***", "**F*TF***"),
}
RELATIONS = (*PATTERNS, "sfOverlaps", "sfCrosses")


def _match(matrix: str, pattern: str) -> bool:
    for value, want in zip(matrix, pattern, strict=True):
        if want == "*":
            continue
        if want == "T":
            if value == "F":
                return False
        elif want != value:
            return False
    return True


def relations_of(matrix: str, dim_a: int, dim_b: int, wanted: Sequence[str]) -> list[str]:
    """The wanted relations that a DE-9IM ``matrix`` satisfies (dimension rules included)."""
    found = []
    for rel in wanted:
        if rel in PATTERNS:
            ok = any(_match(matrix, p) for p in PATTERNS[rel])
        elif rel == "sfOverlaps":
            if dim_a != dim_b:
                ok = False
            elif dim_a == 1:
                ok = _match(matrix, "1*T***T**")
            else:
                ok = _match(matrix, "T*T***T**")
        elif rel == "sfCrosses":
            if dim_a < dim_b:
                ok = _match(matrix, "T*T******")
            elif dim_a > dim_b:
                ok = _match(matrix, "T*****T**")
            elif dim_a == 1:
                ok = _match(matrix, "0********")
            else:
                ok = False
        else:
            raise InputError(
                f"unknown relation {rel!r}; known: {', '.join(RELATIONS)}", where="--relations"
            )
        if ok:
            found.append(rel)
    return found


def parse_relations(text: str) -> list[str]:
    names = [r.strip() for r in text.split(",") if r.strip()]
    for name in names:
        if name not in RELATIONS:
            raise InputError(
                f"unknown relation {name!r}; known: {', '.join(RELATIONS)}", where="--relations"
            )
    return names


def verify_pairs(
    a_geoms: np.ndarray, b_geoms: np.ndarray, wanted: Sequence[str]
) -> list[list[str]]:
    """Relations per candidate pair: one vectorised ``shapely.relate`` for all pairs."""
    import shapely

    if len(a_geoms) == 0:
        return []
    matrices = shapely.relate(a_geoms, b_geoms)
    dims_a = shapely.get_dimensions(a_geoms)
    dims_b = shapely.get_dimensions(b_geoms)
    return [
        relations_of(m, int(da), int(db), wanted)
        for m, da, db in zip(matrices, dims_a, dims_b, strict=True)
    ]


def link_lines(
    a_iris: Sequence[str], b_iris: Sequence[str], rels: Sequence[list[str]]
) -> Iterator[str]:
    for a, b, found in zip(a_iris, b_iris, rels, strict=True):
        for rel in found:
            yield f"<{a}> <{GEO}{rel}> <{b}> ."


# -------------------------------------------------------------------- inputs


def feature_iris(batch: pa.RecordBatch, template: str) -> list[str | None]:
    """Feature IRIs from a template such as ``https://w3id.org/eokg/data/parcel/{id}``."""
    from eokg.spark.arrow_exec import Executor
    from eokg.spark.model import MappingPlan, TermMap, parse_template
    from eokg.spark.project import project_arrow

    parts = parse_template(template)
    term = TermMap(kind="template", term_type="iri", where="template", template=parts)
    projected = project_arrow(batch, term.references())
    values = Executor(MappingPlan(())).lexical(term, projected, None, iri=True).values
    return values.to_pylist()


def read_features(
    path: Path, template: str, geometry: str = "geometry", batch_rows: int = 50_000
) -> Iterator[pa.RecordBatch]:
    """Batches of (iri string, wkb binary) from GeoParquet/Parquet/GeoJSON/Shapefile."""
    import shapely

    from eokg.spark.functions import parse_geometries

    if not path.exists():
        raise InputError("file not found", where=str(path))
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        batches: Iterable[pa.RecordBatch] = pq.ParquetFile(path).iter_batches(batch_rows)
    else:
        from eokg.spark.sources import _ogr_batches

        batches = _ogr_batches(path, batch_rows)
    for batch in batches:
        if geometry not in batch.schema.names:
            raise InputError(f"no geometry column {geometry!r}", where=str(path))
        geoms, _, _ = parse_geometries(batch.column(geometry))
        iris = feature_iris(batch, template)
        wkb = shapely.to_wkb(geoms)
        yield pa.RecordBatch.from_arrays(
            [pa.array(iris, pa.string()), pa.array(wkb, pa.binary())], names=["iri", "wkb"]
        )


@dataclass
class LinkSummary:
    engine: str
    source_features: int = 0
    target_features: int = 0
    candidates: int = 0
    links: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cell_size: float | None = None
    #: who computed the relations: "sedona" (JTS, in the JVM) or "shapely" (GEOS)
    geometry_engine: str = "shapely"

    def write(self, directory: Path) -> None:
        write_summary(directory, asdict(self))


def _load(path: Path, template: str, geometry: str) -> tuple[list[str], np.ndarray]:
    import shapely

    iris: list[str] = []
    geoms: list[Any] = []
    for batch in read_features(path, template, geometry):
        iris.extend(batch.column(0).to_pylist())
        geoms.extend(shapely.from_wkb(batch.column(1).to_numpy(zero_copy_only=False)))
    keep = [i for i, g in enumerate(geoms) if g is not None and iris[i] is not None]
    return [iris[i] for i in keep], np.array([geoms[i] for i in keep], dtype=object)


def link_geometries(
    a_iris: Sequence[str],
    a_geoms: np.ndarray,
    b_iris: Sequence[str],
    b_geoms: np.ndarray,
    wanted: Sequence[str],
) -> tuple[list[str], int]:
    """Local link discovery: STRtree box candidates, one relate per candidate."""
    import shapely

    tree = shapely.STRtree(b_geoms)
    a_idx, b_idx = tree.query(a_geoms)
    rels = verify_pairs(a_geoms[a_idx], b_geoms[b_idx], wanted)
    lines = list(link_lines([a_iris[i] for i in a_idx], [b_iris[j] for j in b_idx], rels))
    return lines, len(a_idx)


def link_local(
    source: Path,
    target: Path,
    wanted: Sequence[str],
    output: Path,
    *,
    source_template: str,
    target_template: str,
    geometry: str = "geometry",
) -> LinkSummary:
    from eokg.spark.local import prepare_output

    start = time.perf_counter()
    a_iris, a_geoms = _load(source, source_template, geometry)
    b_iris, b_geoms = _load(target, target_template, geometry)
    lines, candidates = link_geometries(a_iris, a_geoms, b_iris, b_geoms, wanted)
    prepare_output(output)
    (output / "part-00000.nt").write_text("".join(line + "\n" for line in lines))
    summary = LinkSummary("local", len(a_iris), len(b_iris), candidates, _count(lines, wanted))
    summary.seconds = round(time.perf_counter() - start, 3)
    summary.write(output)
    return summary


def _count(lines: Iterable[str], wanted: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(wanted, 0)
    for line in lines:
        rel = line.split(" ", 2)[1][len(GEO) + 1 : -1]
        counts[rel] += 1
    return counts


# --------------------------------------------------------------------- Spark


_CELL_SCHEMA = (
    "cell long, iri string, wkb binary, minx double, miny double, maxx double, maxy double"
)

#: A ``mapInArrow`` function: Arrow batches in, Arrow batches out (runs on executors).
_ArrowMapper = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def _cells_mapper(cell: float) -> _ArrowMapper:
    """Assign each geometry's bbox to the grid cells it covers (runs on executors)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import shapely

        for batch in batches:
            wkb = batch.column("wkb").to_numpy(zero_copy_only=False)
            geoms = shapely.from_wkb(wkb)
            bounds = shapely.bounds(geoms)
            ok = ~np.isnan(bounds).any(axis=1)
            ix0 = np.floor(bounds[:, 0] / cell)
            iy0 = np.floor(bounds[:, 1] / cell)
            ix1 = np.floor(bounds[:, 2] / cell)
            iy1 = np.floor(bounds[:, 3] / cell)
            rows: list[int] = []
            cells: list[int] = []
            for i in np.flatnonzero(ok).tolist():
                for x in range(int(ix0[i]), int(ix1[i]) + 1):
                    for y in range(int(iy0[i]), int(iy1[i]) + 1):
                        rows.append(i)
                        cells.append(_cell_id(x, y))
            idx = pa.array(rows, pa.int64())
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(cells, pa.int64()),
                    batch.column("iri").take(idx),
                    batch.column("wkb").take(idx),
                    *[pa.array(bounds[rows, k], pa.float64()) for k in range(4)],
                ],
                names=["cell", "iri", "wkb", "minx", "miny", "maxx", "maxy"],
            )

    return run


def _cell_id(x: int, y: int) -> int:
    return (x + (1 << 30)) * (1 << 31) + (y + (1 << 30))


def _verify_mapper(wanted: Sequence[str]) -> _ArrowMapper:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import shapely

        for batch in batches:
            a = shapely.from_wkb(batch.column("a_wkb").to_numpy(zero_copy_only=False))
            b = shapely.from_wkb(batch.column("b_wkb").to_numpy(zero_copy_only=False))
            rels = verify_pairs(a, b, wanted)
            lines = list(
                link_lines(
                    batch.column("a_iri").to_pylist(), batch.column("b_iri").to_pylist(), rels
                )
            )
            yield pa.RecordBatch.from_arrays([pa.array(lines, pa.string())], names=["line"])

    return run


def _frame(spark: Any, path: Path, template: str, geometry: str) -> Any:
    batches = list(read_features(path, template, geometry))
    table = (
        pa.Table.from_batches(batches)
        if batches
        else pa.table({"iri": pa.array([], pa.string()), "wkb": pa.array([], pa.binary())})
    )
    return spark.createDataFrame(table), table


def auto_cell_size(tables: Sequence[pa.Table]) -> float:
    """Grid cell about twice the median bbox extent of the geometries that have one:
    few cells per geometry, small cells."""
    import shapely

    extents = []
    for table in tables:
        if table.num_rows:
            sample = table.column("wkb").to_numpy()[:10_000]
            b = shapely.bounds(shapely.from_wkb(sample))
            extents.append(np.nanmax(np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]]), axis=0))
    # Points have no extent: a median over them would make cells of 1e-6 and
    # every polygon would cover millions of them.
    sized = np.concatenate(extents) if extents else np.empty(0)
    sized = sized[sized > 0]
    if not len(sized):
        return 1.0
    median = float(np.nanmedian(sized))
    return max(2 * median, 1e-6) if math.isfinite(median) else 1.0


def link_spark(
    spark: Any,
    source: Path,
    target: Path,
    wanted: Sequence[str],
    output: Path,
    *,
    source_template: str,
    target_template: str,
    geometry: str = "geometry",
    cell_size: float | None = None,
    geometry_engine: str = "auto",
) -> LinkSummary:
    """Link discovery with Spark; output part files of N-Triples.

    ``geometry_engine`` "sedona" runs Sedona's spatial join (the session must
    have Sedona); "shapely" and "auto" the grid with shapely verification,
    which measured faster (1M points x 100k polygons, local[2]: 19 s against
    51 s; bench/README.md, "Sedona on Spark").
    """
    from eokg.spark.local import prepare_output
    from eokg.spark.session import has_sedona

    start = time.perf_counter()
    use_sedona = geometry_engine == "sedona"  # "auto": the grid measured faster
    if use_sedona and not has_sedona(spark):
        raise InputError("the Spark session has no Apache Sedona", where="geometry_engine")
    a_df, a_table = _frame(spark, source, source_template, geometry)
    b_df, b_table = _frame(spark, target, target_template, geometry)
    prepare_output(output)
    staging = output / "_staging"
    with spark_output(output):
        if use_sedona:
            smaller = "a" if a_table.num_rows < b_table.num_rows else "b"
            small = min(a_table.num_rows, b_table.num_rows) <= BROADCAST_ROWS
            lines, observation = _sedona_lines(a_df, b_df, wanted, smaller if small else None)
            lines.write.mode("overwrite").text(str(staging))
            candidates, cell = int(observation.get["n"]), None
        else:
            cell = cell_size or auto_cell_size([a_table, b_table])
            candidates = _grid_links(a_df, b_df, wanted, cell, staging)
        summary = LinkSummary(
            "spark",
            a_table.num_rows,
            b_table.num_rows,
            candidates,
            _move_parts(staging, output, wanted),
            cell_size=cell,
            geometry_engine="sedona" if use_sedona else "shapely",
        )
        summary.seconds = round(time.perf_counter() - start, 3)
        summary.write(output)
    return summary


def _sedona_pattern(pattern: str) -> str:
    """A DE-9IM pattern as a Java regex over ``ST_Relate``'s matrix."""
    return "^" + "".join({"T": "[012]", "*": "."}.get(c, c) for c in pattern) + "$"


def _sedona_relation(rel: str) -> Any:
    """SQL condition of one relation over columns m (matrix), da, db (dimensions):
    the same rules as :func:`relations_of`."""
    from pyspark.sql import functions as F

    m, da, db = F.col("m"), F.col("da"), F.col("db")

    def match(*patterns: str) -> Any:
        cond = F.lit(False)
        for p in patterns:
            cond = cond | m.rlike(_sedona_pattern(p))
        return cond

    if rel in PATTERNS:
        return match(*PATTERNS[rel])
    if rel == "sfOverlaps":
        return (da == db) & F.when(da == 1, match("1*T***T**")).otherwise(match("T*T***T**"))
    if rel == "sfCrosses":
        return (
            F.when(da < db, match("T*T******"))
            .when(da > db, match("T*****T**"))
            .when(da == 1, match("0********"))
            .otherwise(F.lit(False))
        )
    raise InputError(
        f"unknown relation {rel!r}; known: {', '.join(RELATIONS)}", where="--relations"
    )


#: Up to this many features, the smaller side is broadcast: Sedona then builds one
#: STRtree of it per executor (BroadcastIndexJoin) instead of partitioning both sides.
BROADCAST_ROWS = 500_000


def _sedona_lines(
    a_df: Any, b_df: Any, wanted: Sequence[str], broadcast: str | None = None
) -> tuple[Any, Any]:
    """(line frame, observation of the candidate count n): a Sedona spatial join.

    The join predicate is ``ST_Intersects``, which every wanted relation
    implies; Sedona plans it as a range join (or, with ``broadcast`` "a" or
    "b", an index join against that side), so no pair of far-apart features is ever
    formed.  The matrix is computed once per pair.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    a = a_df.where("iri IS NOT NULL AND wkb IS NOT NULL").selectExpr(
        "iri AS a_iri", "ST_GeomFromWKB(wkb) AS a_geom"
    )
    b = b_df.where("iri IS NOT NULL AND wkb IS NOT NULL").selectExpr(
        "iri AS b_iri", "ST_GeomFromWKB(wkb) AS b_geom"
    )
    if broadcast == "a":
        a = F.broadcast(a)
    elif broadcast == "b":
        b = F.broadcast(b)
    pairs = a.join(b, F.expr("ST_Intersects(a_geom, b_geom)")).selectExpr(
        "a_iri",
        "b_iri",
        "ST_Relate(a_geom, b_geom) AS m",
        "ST_Dimension(a_geom) AS da",
        "ST_Dimension(b_geom) AS db",
    )
    observation = Observation()
    pairs = pairs.observe(observation, F.count(F.lit(1)).alias("n"))
    lines = [
        F.when(
            _sedona_relation(rel),
            F.concat(
                F.lit("<"), F.col("a_iri"), F.lit(f"> <{GEO}{rel}> <"), F.col("b_iri"), F.lit("> .")
            ),
        )
        for rel in wanted
    ]
    frame = pairs.select(F.explode(F.array(*lines)).alias("line")).where("line IS NOT NULL")
    return frame, observation


def _grid_links(a_df: Any, b_df: Any, wanted: Sequence[str], cell: float, staging: Path) -> int:
    """Grid candidates, shapely verification; writes lines to ``staging``, returns candidates."""
    from pyspark.sql import functions as F

    a = a_df.mapInArrow(_cells_mapper(cell), _CELL_SCHEMA).alias("a")
    b = b_df.mapInArrow(_cells_mapper(cell), _CELL_SCHEMA).alias("b")
    joined = a.join(b, on="cell").where(
        (F.col("a.minx") <= F.col("b.maxx"))
        & (F.col("b.minx") <= F.col("a.maxx"))
        & (F.col("a.miny") <= F.col("b.maxy"))
        & (F.col("b.miny") <= F.col("a.maxy"))
    )
    # Reference point: the lower-left corner of the boxes' intersection decides the cell.
    ref_x = F.floor(F.greatest(F.col("a.minx"), F.col("b.minx")) / F.lit(cell))
    ref_y = F.floor(F.greatest(F.col("a.miny"), F.col("b.miny")) / F.lit(cell))
    ref_cell = (ref_x + F.lit(1 << 30)) * F.lit(1 << 31) + (ref_y + F.lit(1 << 30))
    pairs = joined.where(F.col("cell") == ref_cell.cast("long")).select(
        F.col("a.iri").alias("a_iri"),
        F.col("a.wkb").alias("a_wkb"),
        F.col("b.iri").alias("b_iri"),
        F.col("b.wkb").alias("b_wkb"),
    )
    pairs = pairs.cache()
    candidates = int(pairs.count())
    lines = pairs.mapInArrow(_verify_mapper(wanted), "line string")
    lines.write.mode("overwrite").text(str(staging))
    pairs.unpersist()
    return candidates


def _move_parts(staging: Path, output: Path, wanted: Sequence[str]) -> dict[str, int]:
    """Move the non-empty part files into ``output``; the links per relation."""
    import shutil

    n = 0
    all_counts = dict.fromkeys(wanted, 0)
    for path in sorted(staging.glob("part-*")):
        if path.stat().st_size:
            text = path.read_text().splitlines()
            for rel, count in _count(text, wanted).items():
                all_counts[rel] += count
            path.rename(output / f"part-{n:05d}.nt")
            n += 1
    shutil.rmtree(staging)
    return all_counts
