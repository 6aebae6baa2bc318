"""``eokg query 'SPARQL'`` (or ``--file q.rq``): run a query against the configured store.

Results go to stdout (or ``--output``) in a W3C format, written while they are
read, so a large SELECT can be piped into another tool without buffering.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

from eokg.config import Settings
from eokg.errors import InputError, QueryError

FORMATS = ("json", "xml", "csv", "tsv", "turtle", "ntriples", "jsonld")


def configure(parser: argparse.ArgumentParser) -> None:
    from eokg.kg.commands import add_store_argument

    parser.add_argument("sparql", nargs="?", metavar="SPARQL", help="the query text")
    parser.add_argument("--file", type=Path, metavar="FILE", help="read the query from FILE")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="output format (default: json for SELECT/ASK, turtle for CONSTRUCT/DESCRIBE)",
    )
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here, not stdout")
    parser.add_argument(
        "--graph",
        action="append",
        default=[],
        metavar="IRI",
        help="default graph of the query (repeatable)",
    )
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this")
    parser.add_argument("--max-results", type=int, metavar="N", help="fail beyond N results")
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="evaluate without the spatial index (for cross-checks)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="run the query and print its plan (index use, set sizes, times) as JSON",
    )
    parser.add_argument(
        "--no-entailment",
        action="store_true",
        help="plain SPARQL: no GeoSPARQL class/property hierarchy",
    )
    add_store_argument(parser)


def read_query(args: argparse.Namespace) -> str:
    if (args.sparql is None) == (args.file is None):
        raise InputError("give the query text or --file, not both or neither", where="query")
    if args.file is None:
        return str(args.sparql)
    try:
        return args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the query: {exc.strerror}", where=str(args.file)) from exc


def write_result(result: Any, fmt: str | None, output: BinaryIO) -> int:
    """Write a query result; returns the number of rows, triples or 1 for ASK."""
    from eokg.kg.results import (
        RDF_MEDIA_TYPES,
        RESULTS_MEDIA_TYPES,
        media_type_for,
        result_kind,
        variable_names,
        write_boolean,
        write_solutions,
        write_triples,
    )
    from eokg.ontologies.namespaces import PREFIXES

    kind = result_kind(result)
    offered = RDF_MEDIA_TYPES if kind == "triples" else RESULTS_MEDIA_TYPES
    media_type = media_type_for(fmt, offered)
    if media_type is None:
        form = "CONSTRUCT/DESCRIBE" if kind == "triples" else "SELECT/ASK"
        raise QueryError(f"{form} results cannot be written as {fmt}", where="--format")
    if kind == "boolean":
        output.write(write_boolean(bool(result), media_type) + b"\n")
        return 1
    count = 0

    def counted(items: Any) -> Any:
        nonlocal count
        for item in items:
            count += 1
            yield item

    if kind == "solutions":
        for piece in write_solutions(variable_names(result), counted(result), media_type):
            output.write(piece)
    else:
        write_triples(counted(result), media_type, output, prefixes=PREFIXES)
    if media_type in ("application/sparql-results+json", "application/sparql-results+xml"):
        output.write(b"\n")
    return count


def run(args: argparse.Namespace, settings: Settings) -> int:
    from eokg.kg.commands import close_source, store_settings
    from eokg.kg.open import open_source
    from eokg.kg.source import QueryOptions

    sparql = read_query(args)
    options = QueryOptions(
        timeout_s=args.timeout,
        max_results=args.max_results,
        default_graph_uris=list(args.graph),
        use_index=not args.no_index,
        entailment=settings.store.entailment and not args.no_entailment,
        union_default_graph=settings.store.union_default_graph,
    )
    source = open_source(store_settings(settings, args.store))
    try:
        if args.explain:
            explain = getattr(source, "explain", None)
            if explain is None:
                raise InputError("--explain needs a local store", where="--explain")
            print(json.dumps(explain(sparql, options), indent=2))
            return 0
        result = source.query(sparql, options)
        if args.output is not None:
            with args.output.open("wb") as handle:
                count = write_result(result, args.format, handle)
            print(f"wrote {count} results to {args.output}", file=sys.stderr)
        else:
            write_result(result, args.format, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        del result
    finally:
        close_source(source)
    return 0
