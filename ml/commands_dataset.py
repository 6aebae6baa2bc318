"""``eokg dataset --spec FILE [--store DIR]``: materialise a query dataset as TFRecord shards.

Prints the manifest (counts per split, cache folder, store fingerprint); a
second run with the same spec on the same store state reuses the shards.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    from eokg.kg.commands import add_store_argument

    parser.add_argument("--spec", type=Path, default=None,
                        help="dataset spec (TOML or JSON); default: the sea-ice patch spec")
    add_store_argument(parser)
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder (default: DATA_DIR/datasets)")


def run(args: argparse.Namespace, settings: Any) -> int:
    from eokg.kg.commands import close_source, store_settings
    from eokg.kg.open import open_source
    from eokg.ml.shards import materialise
    from eokg.ml.spec import DatasetSpec, load_spec

    spec = load_spec(args.spec) if args.spec else DatasetSpec()
    source = open_source(store_settings(settings, args.store))
    try:
        manifest = materialise(source, spec, args.cache or Path(settings.data_dir) / "datasets",
                               page_size=settings.store.page_size)
    finally:
        close_source(source)
    print(json.dumps({"directory": str(manifest.directory), "reused": manifest.reused,
                      "counts": manifest.counts, "store": manifest.store,
                      "key": manifest.key, "seconds": manifest.seconds}, indent=2))
    return 0
