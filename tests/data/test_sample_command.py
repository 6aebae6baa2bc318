"""``eokg sample`` writes the dataset and prints what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eokg.cli import main


def test_sample_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sample"
    assert main(["sample", "--out", str(out), "--scale", "0.01", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "patches/patches.json" in printed and "records" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3
    assert manifest["counts"]["patches"] == 16


def test_sample_rejects_bad_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--out", str(tmp_path), "--scale", "-1"]) == 1
    assert "scale must be positive" in capsys.readouterr().err
