"""``eokg validate``: prints violations and exits 1 if there are any."""

from __future__ import annotations

from pathlib import Path

import pytest

from eokg.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


def test_validate_good_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / "good.ttl")]) == 0
    assert "conforms" in capsys.readouterr().out


def test_validate_bad_file_prints_violations_and_exits_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(FIXTURES / "bad.ttl")]) == 1
    out = capsys.readouterr().out
    assert "violation(s)" in out
    assert "bad-ct" in out and "percentage in [0, 100]" in out


def test_validate_missing_file_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/file.ttl"]) == 1
    assert "file not found" in capsys.readouterr().err
