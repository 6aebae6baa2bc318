"""The ``eokg`` command.

Each subcommand lives beside the subsystem it drives, in a module that exposes
``configure(parser)`` and ``run(args, settings) -> int`` and imports nothing heavy
at module level.  The table below is the only place that lists them, so adding a
command never touches another subsystem's code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from typing import Protocol

from eokg import __version__
from eokg.errors import EokgError

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("eokg.data.commands", "generate realistic, seeded EO sample data"),
    "validate": ("eokg.ontologies.commands", "validate RDF against the eokg SHACL shapes"),
    "demo": ("eokg.pipeline", "run the main job end to end on embedded defaults"),
    "load": ("eokg.kg.commands", "load RDF files into the GeoSPARQL store (atomic)"),
    "query": ("eokg.kg.query_command", "run a GeoSPARQL query against the store"),
    "serve": ("eokg.api.commands", "start the HTTP API (SPARQL endpoint, STAC discovery)"),
    "index": ("eokg.catalog.commands", "index STAC items and collections into the catalogue"),
    "map": ("eokg.spark.commands", "map EO data to RDF with an RML mapping on Spark"),
    "link": ("eokg.spark.link_command", "discover topological links between two datasets"),
    "federate": ("eokg.kg.federation.commands", "run one GeoSPARQL query over federated sources"),
    "dataset": ("eokg.ml.commands_dataset", "materialise a query dataset as TFRecord shards"),
    "train": ("eokg.ml.commands_train", "train a model on a GeoSPARQL-selected dataset"),
    "predict": ("eokg.ml.commands_predict", "run a model over patches and load its predictions"),
}


class CommandModule(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, settings: object) -> int: ...


def _available_commands() -> dict[str, tuple[str, str]]:
    """Commands whose module exists; later issues fill the rest."""
    found = {}
    for name, (module, help_text) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = (module, help_text)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eokg", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"eokg {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _available_commands().items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module: CommandModule = importlib.import_module(module_name)
        module.configure(command_parser)
        command_parser.set_defaults(_module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code rather than calling ``sys.exit``."""
    from eokg.config import load_settings

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.command:
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        module: CommandModule = importlib.import_module(args._module)
        return module.run(args, settings)
    except EokgError as exc:
        print(f"eokg {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
