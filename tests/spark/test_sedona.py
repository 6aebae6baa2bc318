"""Sedona on Spark gives the same triples as the shapely engine, on the same inputs.

Both engines run in the one test session (Sedona registered); the shapely path
is forced with ``geometry_engine="shapely"``.  The jars come from
scripts/install.sh, so these tests never skip: a missing folder fails loudly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.spark.test_link import _brute, _random_geoms, _write

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def sedona(spark):
    """The shared session, which must have Sedona registered."""
    from eokg.spark.session import DEFAULT_SEDONA_JARS, has_sedona

    if not has_sedona(spark):
        pytest.fail(
            f"Apache Sedona is not registered: no jars in {DEFAULT_SEDONA_JARS} "
            "(run scripts/install.sh with the spark extra; it fetches them from Maven Central)"
        )
    return spark


def _lines(folder: Path) -> list[str]:
    return [line for f in sorted(folder.glob("part-*")) for line in f.read_text().splitlines()]


@pytest.mark.slow
def test_sedona_links_equal_grid_and_brute_force(sedona, tmp_path: Path):
    from eokg.spark.link import RELATIONS, link_spark

    rng = np.random.default_rng(4)
    a, b = _random_geoms(rng, 150), _random_geoms(rng, 110)
    src, tgt = _write(tmp_path / "a.parquet", "a", a), _write(tmp_path / "b.parquet", "b", b)
    common = dict(source_template="http://x/{id}", target_template="http://x/{id}")
    by_engine = {}
    for engine in ("sedona", "shapely"):
        summary = link_spark(
            sedona, src, tgt, RELATIONS, tmp_path / engine, geometry_engine=engine, **common
        )
        assert summary.geometry_engine == engine
        by_engine[engine] = (_lines(tmp_path / engine), summary)
    lines, summary = by_engine["sedona"]
    assert len(lines) == len(set(lines))
    assert set(lines) == set(by_engine["shapely"][0]) == _brute(a, b, RELATIONS)
    assert summary.links == by_engine["shapely"][1].links


def test_sedona_join_is_planned_as_a_spatial_join(sedona, tmp_path: Path):
    from eokg.spark.link import _frame, _sedona_lines

    rng = np.random.default_rng(5)
    path = _write(tmp_path / "a.parquet", "a", _random_geoms(rng, 20))
    df, _ = _frame(sedona, path, "http://x/{id}", "geometry")
    frame, _ = _sedona_lines(df, df, ["sfIntersects"])
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert "RangeJoin" in plan or "BroadcastIndexJoin" in plan, plan
    frame, _ = _sedona_lines(df, df, ["sfIntersects"], broadcast="b")
    assert "BroadcastIndexJoin" in frame._jdf.queryExecution().executedPlan().toString()


# ------------------------------------------------------------------ mapping

GEOMETRY_MAPPING = (
    """
<#F> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/f/{id}" ; rr:class ex:Feature ] ;
  rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ] ] .
<#G> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/f/{id}/geom" ] ;
"""
    + "".join(
        f"""  rr:predicateObjectMap [ rr:predicate ex:{name} ; rr:objectMap [ rr:datatype {dtype} ;
      fnml:functionValue [
        rr:predicateObjectMap [ rr:predicate fno:executes ; rr:object eofn:{name} ] ;
        rr:predicateObjectMap [ rr:predicate eofn:geometry ; rr:objectMap [ rml:reference "wkt" ] ]
        {extra} ] ] ] ;
"""
        for name, dtype, extra in [
            (
                "asWKT",
                "geo:wktLiteral",
                "; rr:predicateObjectMap [ rr:predicate eofn:required ; rr:object true ]",
            ),
            (
                "toCRS84",
                "geo:wktLiteral",
                '; rr:predicateObjectMap [ rr:predicate eofn:crs ; rr:object "EPSG:4326" ]',
            ),
            ("centroid", "geo:wktLiteral", ""),
            ("envelope", "geo:wktLiteral", ""),
            ("isValid", "xsd:boolean", ""),
        ]
    )
    + '  rr:predicateObjectMap [ rr:predicate ex:id ; rr:objectMap [ rml:reference "id" ] ] .\n'
)


def _wkts(n: int, seed: int) -> list[str | None]:
    """Realistic footprints and points, full-precision and decimal-rounded ordinates
    (ties at the 8th decimal included), Z, empty, invalid, unparseable and missing."""
    import shapely

    rng = np.random.default_rng(seed)
    fixed = [
        "POINT Z (10.5 20.25 3)", "POINT EMPTY", "POLYGON EMPTY",
        "POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))", "MULTIPOINT ((1 2), (3 4))",
        "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
        "NOT WKT", 'POLYGON ((1 "x\\', "", "   ", None, "LINESTRING (-0.00001 0.00009999, 0 1e-5)",
        "POLYGON ((0 0, 1 0, 1 1, 0 1))", "point(70.13031695 -84.32840135)",
    ]  # fmt: skip
    out: list[str | None] = []
    for i in range(n):
        kind = i % 5
        x, y = rng.uniform(-180, 180), rng.uniform(-85, 85)
        digits = [17, 8, 6][i % 3]
        if kind == 0:
            g = shapely.box(x, y, x + rng.uniform(0.001, 2), y + rng.uniform(0.001, 2))
        elif kind == 1:
            g = shapely.Point(x, y)
        elif kind == 2:
            g = shapely.LineString(rng.uniform(-60, 60, (4, 2)))
        elif kind == 3:
            g = (
                shapely.Point(x, y)
                .buffer(rng.uniform(0.01, 1), 4)
                .difference(shapely.Point(x, y).buffer(0.005, 2))
            )
        else:
            out.append(fixed[i // 5 % len(fixed)])
            continue
        out.append(shapely.to_wkt(g, rounding_precision=digits, trim=True))
    return out


def _geometry_plan(tmp_path: Path, fmt: str, body: str = GEOMETRY_MAPPING):
    from spark_rdfcheck import PREFIXES

    from eokg.spark.rml import parse_mapping_text

    src = (
        '<#Src> rml:source "g.parquet" ; rml:referenceFormulation eoql:Parquet .\n'
        if fmt == "parquet"
        else '<#Src> rml:source "g.csv" ; rml:referenceFormulation ql:CSV .\n'
    )
    return parse_mapping_text(
        PREFIXES + src + body, name=str(tmp_path / "m.ttl"), base_dir=tmp_path
    )


def _write_source(tmp_path: Path, fmt: str, wkts: list[str | None]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [f"f{i}" for i in range(len(wkts))]
    names = [None if i % 13 == 7 else f"name {i}" for i in range(len(wkts))]
    table = pa.table({"id": ids, "name": names, "wkt": wkts})
    if fmt == "parquet":
        pq.write_table(table, tmp_path / "g.parquet", row_group_size=400)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, tmp_path / "g.csv")


def _sorted_lines(folder: Path, pattern: str) -> list[str]:
    return sorted(
        line
        for f in folder.glob(pattern)
        for line in f.read_text(encoding="utf-8").split("\n")
        if line
    )


def _run_both(spark, plan, tmp_path: Path):
    """Both engines on the same plan; lines, rejects and counts must be equal."""
    from eokg.spark.job import run_spark

    runs = {
        engine: run_spark(plan, tmp_path / engine, spark, geometry_engine=engine)
        for engine in ("sedona", "shapely")
    }
    for kind in ("part-*", "_rejects/*.jsonl"):
        sedona_lines = _sorted_lines(tmp_path / "sedona", kind)
        assert sedona_lines == _sorted_lines(tmp_path / "shapely", kind), kind
    for key in ("records", "triples_per_map", "rejects", "triples"):
        assert getattr(runs["sedona"], key) == getattr(runs["shapely"], key), key
    assert runs["shapely"].geometry_engine == "shapely"
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_geometry_functions_on_sedona_equal_shapely(sedona, tmp_path: Path, fmt: str):
    from eokg.spark.local import run_local

    _write_source(tmp_path, fmt, _wkts(1500, seed=11))
    plan = _geometry_plan(tmp_path, fmt)
    runs = _run_both(sedona, plan, tmp_path)
    summary = runs["sedona"]
    assert summary.geometry_engine == "sedona", summary.geometry_fallbacks
    assert summary.reject_count > 0 and summary.triples > 5000
    local = run_local(plan, tmp_path / "local")
    assert _sorted_lines(tmp_path / "sedona", "part-*") == _sorted_lines(
        tmp_path / "local", "part-*"
    )
    assert summary.rejects == local.rejects
    reasons = {json.loads(r)["reason"] for r in _sorted_lines(tmp_path / "sedona", "_rejects/*")}
    assert any('unparseable WKT geometry: "NOT WKT"' in r for r in reasons), reasons
    assert any("missing geometry" in r for r in reasons), reasons


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("wkt", "<http://www.opengis.net/def/crs/EPSG/0/32633> POINT (500000 6000000)"), "prefix"),
        (("wkt", '{"type": "Point", "coordinates": [1, 2]}'), "GeoJSON"),
        (("map", "eofn:area"), "Sedona does not replace"),
        (("map", "crs"), "reprojection"),
    ],
)
def test_what_sedona_cannot_match_stays_on_shapely(sedona, tmp_path: Path, change, why):
    wkts = _wkts(200, seed=12)
    body = GEOMETRY_MAPPING
    if change[0] == "wkt":
        wkts[3] = change[1]
    elif change[1] == "crs":
        body = body.replace('rr:object "EPSG:4326"', 'rr:object "EPSG:32633"')
    else:
        body = body.replace("eofn:centroid", change[1]).replace(
            "geo:wktLiteral ;\n      fnml:functionValue [\n        rr:predicateObjectMap [ "
            "rr:predicate fno:executes ; rr:object eofn:area",
            "xsd:double ;\n      fnml:functionValue [\n        rr:predicateObjectMap [ "
            "rr:predicate fno:executes ; rr:object eofn:area",
        )
    _write_source(tmp_path, "parquet", wkts)
    runs = _run_both(sedona, _geometry_plan(tmp_path, "parquet", body), tmp_path)
    assert runs["sedona"].geometry_engine == "shapely"
    assert any(why in reason for reason in runs["sedona"].geometry_fallbacks.values())


def test_summary_names_the_geometry_engine(sedona, tmp_path: Path):
    _write_source(tmp_path, "parquet", ["POINT (1 2)", "POINT (3 4)"])
    runs = _run_both(sedona, _geometry_plan(tmp_path, "parquet"), tmp_path)
    written = json.loads((tmp_path / "sedona" / "_summary.json").read_text())
    assert written["geometry_engine"] == "sedona" and written["sedona"] is True
    assert runs["shapely"].geometry_fallbacks == {}
