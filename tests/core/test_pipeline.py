"""The README's main job, end to end on a small scale (embedded defaults, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eokg.cli import main


@pytest.mark.slow
def test_demo_ingest_stages_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "demo"
    code = main(
        ["demo", "--data-dir", str(data), "--engine", "local", "--scale", "0.1", "--skip-train"]
    )
    assert code == 0
    report = json.loads((data / "report.json").read_text())
    assert report["map"]["rejects"] == 0
    assert report["validate"]["conforms"] is True
    assert report["load"]["geometries_indexed"] > 0
    assert report["index"]["failures"] == 0
    # The catalogue and the graph hold the same products: both searches agree.
    assert report["query"]["s1_products_in_area"] == report["index"]["s1_items_in_area"]
    assert report["query"]["patches_labelled_ice"] > 0
    assert "eokg serve" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.ml
@pytest.mark.spark
def test_demo_full_loop_on_spark_and_two_workers(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    code = main(
        ["demo", "--data-dir", str(data), "--scale", "0.1", "--workers", "2", "--epochs", "2"]
    )
    assert code == 0
    report = json.loads((data / "report.json").read_text())
    assert report["map"]["engine"] == "spark"
    assert report["link"]["sfIntersects"] > 0
    assert report["link"]["triples"] == sum(
        report["link"][r] for r in ("sfIntersects", "sfContains", "sfWithin", "sfOverlaps")
    )
    assert report["train"]["workers"] == 2
    assert report["train"]["model"].startswith("https://w3id.org/eokg/data/model/")
    # Predictions went through the mapping into the graph: SPARQL sees every one.
    assert report["predict"]["predictions"] == 40
    assert report["predict"]["triples"] > 0
    assert 0.0 <= report["predict"]["accuracy_on_new_patches"] <= 1.0
