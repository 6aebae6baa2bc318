"""``eokg validate FILE...``: check RDF files against the eokg SHACL shapes.

Prints one line per violation and returns 1 if there is any, so the command can
gate a pipeline step.  Imports pyshacl only when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="RDF files (Turtle, N-Triples, JSON-LD, ...), validated together",
    )


def run(args: argparse.Namespace, settings: object) -> int:
    from eokg.ontologies.validate import validate_files

    report = validate_files(args.files)
    print(report.text())
    return 0 if report.conforms else 1
