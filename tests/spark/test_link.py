"""Link discovery equals a brute-force check of every pair, locally and on Spark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from eokg.spark.link import RELATIONS, link_geometries, link_local, relations_of

GEO = "http://www.opengis.net/ont/geosparql#"


def _random_geoms(rng: np.random.Generator, n: int) -> list:
    out = []
    for i in range(n):
        x, y = rng.uniform(0, 10, 2)
        kind = i % 4
        if kind == 0:
            out.append(shapely.box(x, y, x + rng.uniform(0.2, 2), y + rng.uniform(0.2, 2)))
        elif kind == 1:
            out.append(shapely.Point(round(x), round(y)))
        elif kind == 2:
            out.append(shapely.LineString([(x, y), (x + rng.uniform(-2, 2), y + 1)]))
        else:  # snapped boxes: touches, equals and covers happen often
            out.append(shapely.box(round(x), round(y), round(x) + 1, round(y) + 1))
    return out


def _write(path: Path, prefix: str, geoms: list) -> Path:
    pq.write_table(
        pa.table(
            {
                "id": [f"{prefix}{i}" for i in range(len(geoms))],
                "geometry": shapely.to_wkb(np.array(geoms, dtype=object)),
            }
        ),
        path,
    )
    return path


def _brute(a: list, b: list, wanted) -> set[str]:
    out = set()
    for i, ga in enumerate(a):
        for j, gb in enumerate(b):
            m = shapely.relate(ga, gb)
            for rel in relations_of(
                m, shapely.get_dimensions(ga), shapely.get_dimensions(gb), wanted
            ):
                out.add(f"<http://x/a{i}> <{GEO}{rel}> <http://x/b{j}> .")
    return out


def test_relations_agree_with_shapely_predicates():
    rng = np.random.default_rng(1)
    geoms = _random_geoms(rng, 60)
    check = {
        "sfIntersects": shapely.intersects,
        "sfContains": shapely.contains,
        "sfWithin": shapely.within,
        "sfTouches": shapely.touches,
        "sfOverlaps": shapely.overlaps,
        "sfEquals": shapely.equals,
        "sfCovers": shapely.covers,
        "sfCoveredBy": shapely.covered_by,
        "sfCrosses": shapely.crosses,
    }
    for ga in geoms:
        for gb in geoms:
            found = set(
                relations_of(
                    shapely.relate(ga, gb),
                    shapely.get_dimensions(ga),
                    shapely.get_dimensions(gb),
                    RELATIONS,
                )
            )
            expected = {rel for rel, fn in check.items() if fn(ga, gb)}
            assert found == expected, (ga.wkt, gb.wkt)


def test_local_links_equal_brute_force(tmp_path: Path):
    rng = np.random.default_rng(2)
    a, b = _random_geoms(rng, 80), _random_geoms(rng, 70)
    lines, _ = link_geometries(
        [f"http://x/a{i}" for i in range(len(a))],
        np.array(a, dtype=object),
        [f"http://x/b{j}" for j in range(len(b))],
        np.array(b, dtype=object),
        RELATIONS,
    )
    assert set(lines) == _brute(a, b, RELATIONS)
    assert len(lines) == len(set(lines))


@pytest.mark.spark
@pytest.mark.slow
def test_spark_links_equal_brute_force(spark, tmp_path: Path):
    from eokg.spark.link import link_spark

    rng = np.random.default_rng(3)
    a, b = _random_geoms(rng, 120), _random_geoms(rng, 90)
    src, tgt = _write(tmp_path / "a.parquet", "a", a), _write(tmp_path / "b.parquet", "b", b)
    wanted = ["sfIntersects", "sfContains", "sfTouches", "sfEquals", "sfCrosses", "sfOverlaps"]
    summary = link_spark(
        spark,
        src,
        tgt,
        wanted,
        tmp_path / "out",
        cell_size=1.5,
        source_template="http://x/{id}",
        target_template="http://x/{id}",
    )
    lines = [line for f in (tmp_path / "out").glob("part-*") for line in f.read_text().splitlines()]
    assert len(lines) == len(set(lines))  # the reference-point rule verifies each pair once
    assert set(lines) == _brute(a, b, wanted)
    local = link_local(
        src,
        tgt,
        wanted,
        tmp_path / "local",
        source_template="http://x/{id}",
        target_template="http://x/{id}",
    )
    assert summary.links == local.links
