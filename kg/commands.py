"""``eokg load FILE... [--graph IRI]``: load RDF files into the configured store.

All files or none: the store checks every file parses before writing any, so a
syntax error on line 10,000,000 of the last file leaves the store as it was and
the message names that file and line; then it writes all files in one commit,
so a load killed while writing leaves nothing either.  ``--base-iri IRI``
resolves relative IRIs (Turtle, RDF/XML, JSON-LD).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from eokg.config import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="RDF files to load")
    parser.add_argument(
        "--graph", metavar="IRI", help="named graph for triples (default: as in the files)"
    )
    parser.add_argument(
        "--format",
        metavar="FORMAT",
        help="RDF format of every file, e.g. turtle, nt, trig (default: from the extension)",
    )
    parser.add_argument(
        "--base-iri",
        metavar="IRI",
        help="base IRI against which relative IRIs in the files resolve (default: none, "
        "a relative IRI is an error)",
    )
    add_store_argument(parser)


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """``--store DIR``: the one way every store-using command names an on-disk store."""
    parser.add_argument(
        "--store",
        type=Path,
        metavar="DIR",
        help="on-disk store folder (default: store.path from the settings)",
    )


def store_settings(settings: Settings, store_dir: Path | None) -> Any:
    """The store section, with ``--store DIR`` taking precedence over the settings."""
    if store_dir is None:
        return settings.store
    return settings.store.model_copy(update={"path": store_dir, "backend": "oxigraph"})


def close_source(source: Any) -> None:
    """Flush and release a store so another command (or process) can open its folder."""
    for method in ("flush", "close"):
        function = getattr(source, method, None)
        if callable(function):
            function()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from eokg.kg.open import open_source

    store = store_settings(settings, args.store)
    source = open_source(store)
    try:
        report = source.load(
            args.files, graph=args.graph, format=args.format, base_iri=args.base_iri
        )
    finally:
        close_source(source)
    graphs = ", ".join(report.graphs) if report.graphs else "(default graph)"
    where = store.path or store.query_url or "memory (nothing kept: set store.path or --store)"
    print(f"loaded {report.triples} triples from {len(report.files)} file(s) into {where}")
    print(f"graphs: {graphs}")
    print(f"geometries indexed: {report.geometries_indexed}")
    print(f"time: {report.seconds:.2f} s")
    return 0
