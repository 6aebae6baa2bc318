"""The error hierarchy renders as RFC 9457 problems; the CLI stays light and never exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eokg import errors
from eokg.cli import main


def test_problem_document_names_the_place() -> None:
    exc = errors.GeometryError("ring not closed", where="parcels.csv:12")
    problem = exc.to_problem()
    assert problem["status"] == 400
    assert problem["code"] == "bad-geometry"
    assert problem["instance"] == "parcels.csv:12"
    assert str(exc) == "parcels.csv:12: ring not closed"


def test_every_error_has_a_distinct_code() -> None:
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.EokgError)
    ]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))


def test_require_names_the_extra() -> None:
    with pytest.raises(errors.MissingDependency, match=r"pip install 'eokg\[ml\]'"):
        errors.require("surely_not_a_module_eokg", "ml")


def test_core_import_is_light() -> None:
    code = (
        "import sys, eokg, eokg.cli, eokg.config, eokg.errors;"
        "print(sorted(m for m in ('pyspark', 'tensorflow', 'elasticsearch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_without_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:  # argparse's own --version exits
        main(["--version"])
    assert done.value.code == 0
    assert "eokg" in capsys.readouterr().out


def test_every_command_is_mounted_with_its_help() -> None:
    """A command whose module went missing would silently vanish from the CLI."""
    from eokg.cli import COMMANDS, build_parser

    help_text = build_parser().format_help()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in COMMANDS:
        assert f"    {name} " in help_text, name
    # Every command the README advertises exists.
    for name in (
        "sample",
        "map",
        "validate",
        "load",
        "query",
        "index",
        "link",
        "federate",
        "train",
        "predict",
        "serve",
    ):
        assert f"eokg {name}" in readme, name
        assert name in COMMANDS, f"README names `eokg {name}`"
