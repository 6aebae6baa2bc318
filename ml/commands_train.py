"""``eokg train --spec FILE [--workers N] [--epochs E] [--store DIR]``: train and register.

Builds (or reuses) the dataset shards of the spec over the store, trains with
N worker processes (1: in this process), then registers the model as RDF in
the store and as STAC items in the catalogue, and prints the result as JSON.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    from eokg.kg.commands import add_store_argument

    parser.add_argument(
        "--spec",
        type=Path,
        default=None,
        help="dataset spec (TOML or JSON); default: the sea-ice patch spec",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="training worker processes (default: ml.workers)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: ml.epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="default: ml.batch_size")
    add_store_argument(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: DATA_DIR/models/NAME-TIMESTAMP); "
        "re-running into the same folder resumes an interrupted run",
    )
    parser.add_argument(
        "--no-register",
        action="store_true",
        help="do not add the model to the store and the catalogue",
    )
    parser.add_argument("--progress", action="store_true", help="show the Keras progress bar")


def run(args: argparse.Namespace, settings: Any) -> int:
    from eokg.kg.commands import close_source, store_settings
    from eokg.kg.open import open_source
    from eokg.ml.spec import DatasetSpec, load_spec
    from eokg.ml.train import train

    spec = load_spec(args.spec) if args.spec else DatasetSpec()
    ml = settings.ml
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = args.out or Path(settings.data_dir) / "models" / f"{spec.name}-{stamp}"
    source = open_source(store_settings(settings, args.store))
    try:
        result = train(
            spec,
            source=source,
            workers=args.workers or ml.workers,
            epochs=args.epochs or ml.epochs,
            batch_size=args.batch_size or ml.batch_size,
            out_dir=out,
            cache_dir=Path(settings.data_dir) / "datasets",
            page_size=settings.store.page_size,
            seed=ml.seed,
            verbose=args.progress,
        )
        summary = result.to_json()
        if not args.no_register:
            summary["registration"] = _register(spec, result, source, settings)
    finally:
        close_source(source)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _register(spec: Any, result: Any, source: Any, settings: Any) -> dict[str, Any]:
    from eokg.catalog.index import open_index
    from eokg.ml.registry import register_model
    from eokg.ml.shards import Manifest

    index = open_index(settings.catalog)
    try:
        reg = register_model(
            spec, result, Manifest.load(result.dataset_dir), store=source, index=index
        )
    finally:
        index.close()
    return {
        "model_id": reg.model_id,
        "model_iri": reg.model_iri,
        "triples": reg.triples,
        "stac_items": reg.stac_items,
    }
