"""The Spark job gives the same triples as the local executor (one shared session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write
from spark_rdfcheck import PREFIXES

from eokg.ontologies.paths import MAPPINGS_DIR
from eokg.spark.local import run_local
from eokg.spark.rml import load_mapping, parse_mapping_text

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _lines(directory: Path) -> list[str]:
    return sorted(line for f in directory.glob("part-*") for line in f.read_text().splitlines())


def _rejects(directory: Path) -> list[dict]:
    return [
        json.loads(line)
        for f in (directory / "_rejects").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]


def test_spark_equals_local_on_every_shipped_mapping(spark, sample_dir: Path, tmp_path: Path):
    from eokg.spark.job import run_spark

    names = ["sentinel1", "sentinel2", "patches", "icechart", "parcels", "predictions"]
    plan = load_mapping([MAPPINGS_DIR / f"{n}.rml.ttl" for n in names], base_dir=sample_dir)
    local = run_local(plan, tmp_path / "local")
    remote = run_spark(plan, tmp_path / "spark", spark)
    assert _lines(tmp_path / "spark") == _lines(tmp_path / "local")
    assert remote.triples == local.triples > 0
    assert remote.triples_per_map == local.triples_per_map
    assert remote.records == local.records
    saved = json.loads((tmp_path / "spark" / "_summary.json").read_text())
    assert saved["triples"] == local.triples and saved["engine"] == "spark"


def test_spark_rejects_bad_records_and_keeps_good_ones(spark, sample_dir: Path, tmp_path: Path):
    from eokg.spark.job import run_spark

    mixed = tmp_path / "mixed.ndjson"
    good = (sample_dir / "stac" / "sentinel-1-grd.ndjson").read_text().splitlines()
    bad = (sample_dir / "bad" / "stac.ndjson").read_text().splitlines()
    mixed.write_text("\n".join([*good[:2], *bad, *good[2:]]) + "\n")
    plan = load_mapping(
        MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir, inputs={"sentinel-1-grd": mixed}
    )
    summary = run_spark(plan, tmp_path / "out", spark)
    local = run_local(plan, tmp_path / "local")
    assert _lines(tmp_path / "out") == _lines(tmp_path / "local")
    rejects = _rejects(tmp_path / "out")
    assert summary.reject_count == len(rejects) == 4 == local.reject_count
    assert {r["reason"] is not None for r in rejects} == {True}
    assert any("unparseable JSON" in r["reason"] for r in rejects)


def test_spark_joins_and_distinct(spark, tmp_path: Path):
    from eokg.spark.job import run_spark

    write(tmp_path, "p.csv", "id,team\n1,a\n2,a\n2,a\n3,z\n")
    write(tmp_path, "t.csv", "tag,name\na,red\na,blue\n")
    plan = parse_mapping_text(
        PREFIXES
        + """
    <#P> rml:logicalSource [ rml:source "p.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/p/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate ex:team ; rr:objectMap [ rr:parentTriplesMap <#T> ;
          rr:joinCondition [ rr:child "team" ; rr:parent "tag" ] ] ] .
    <#T> rml:logicalSource [ rml:source "t.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/team/{name}" ] .
    """,
        name=str(tmp_path / "m.ttl"),
        base_dir=tmp_path,
    )
    summary = run_spark(plan, tmp_path / "out", spark, distinct=True)
    local = run_local(plan, tmp_path / "local", distinct=True)
    assert _lines(tmp_path / "out") == _lines(tmp_path / "local")
    assert summary.triples == local.triples == 4
