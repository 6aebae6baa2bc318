"""``eokg federate --config FILE QUERY``: one query over the federation, from the shell.

``FILE`` is TOML with a ``[federation]`` table (``sources = [{name, url,
void_url, timeout_s}]``, ``on_source_failure``), the same shape as the main
settings file, so the settings file itself works too.  Results go to stdout in
a W3C format; ``--explain`` prints the plan (``--explain --run``: with counts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

from eokg.errors import ConfigError, QueryError

FORMATS = ("json", "xml", "csv", "tsv", "turtle", "ntriples")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sparql", nargs="?", metavar="QUERY", help="the query text")
    parser.add_argument("--file", type=Path, metavar="FILE", help="read the query from FILE")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML with a [federation] table of sources"
    )
    parser.add_argument("--format", choices=FORMATS, help="output format (default json/turtle)")
    parser.add_argument(
        "--on-failure",
        choices=("partial", "error"),
        help="override federation.on_source_failure",
    )
    parser.add_argument("--local", action="store_true", help="add the local store as a member")
    parser.add_argument("--explain", action="store_true", help="print the plan as JSON")
    parser.add_argument("--run", action="store_true", help="with --explain: execute and count")


def federation_settings(args: argparse.Namespace, settings: Any) -> Any:
    """``--config`` FILE's [federation] table, else the settings' own."""
    import tomllib

    from pydantic import ValidationError

    from eokg.config import FederationSettings

    if args.config is None:
        fed = settings.federation
    else:
        try:
            data = tomllib.loads(args.config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", where=str(args.config)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(exc), where=str(args.config)) from exc
        try:
            fed = FederationSettings.model_validate(data.get("federation", data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(first["msg"], where=f"{args.config}: federation.{where}") from exc
    if args.on_failure:
        fed = fed.model_copy(update={"on_source_failure": args.on_failure})
    if not fed.sources and not args.local:
        raise ConfigError("no federation sources are configured", where="federation.sources")
    return fed


def write_result(result: Any, fmt: str | None, output: BinaryIO) -> None:
    from eokg.kg.results import (
        RDF_MEDIA_TYPES,
        RESULTS_MEDIA_TYPES,
        media_type_for,
        write_boolean,
        write_solutions,
        write_triples,
    )
    from eokg.ontologies.namespaces import PREFIXES

    offered = RDF_MEDIA_TYPES if result.kind == "triples" else RESULTS_MEDIA_TYPES
    media_type = media_type_for(fmt, offered)
    if media_type is None:
        raise QueryError(f"these results cannot be written as {fmt}", where="--format")
    if result.kind == "boolean":
        output.write(write_boolean(bool(result.boolean), media_type) + b"\n")
    elif result.kind == "triples":
        write_triples(result.triples, media_type, output, prefixes=PREFIXES)
    else:
        for piece in write_solutions(result.variables, result.rows, media_type):
            output.write(piece)
        if media_type in ("application/sparql-results+json", "application/sparql-results+xml"):
            output.write(b"\n")  # CSV and TSV rows already end with their line break


def run(args: argparse.Namespace, settings: Any) -> int:
    from eokg.kg.federation.engine import FederationEngine
    from eokg.kg.query_command import read_query
    from eokg.kg.service_policy import UNRESTRICTED

    query = read_query(args)
    fed = federation_settings(args, settings)
    local = None
    if args.local:
        from eokg.kg.open import open_source

        local = open_source(settings.store)
    # a local user: SERVICE may name any endpoint (the HTTP API applies settings.outbound)
    engine = FederationEngine.from_settings(fed, local_store=local, outbound=UNRESTRICTED)
    if args.explain and not args.run:
        print(json.dumps(engine.explain_sync(query), indent=2))
        return 0
    result = engine.run(query)
    if args.explain:
        print(json.dumps(result.explain, indent=2))
    else:
        write_result(result, args.format, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    if result.partial:
        names = ", ".join(f"{k} ({v})" for k, v in sorted(result.failed.items()))
        print(f"eokg federate: partial answer, failed: {names}", file=sys.stderr)
    return 0
