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
