"""``eokg predict --model DIR [--store DIR]``: classify patches, load the predictions.

Runs the model over the patches the model's spec selects (or ``--query FILE``,
or a Statoil-layout ``--patches FILE``), writes ``predictions.parquet`` and
loads the mapped ``eo:Prediction`` triples into the store.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eokg.errors import InputError


def configure(parser: argparse.ArgumentParser) -> None:
    from eokg.kg.commands import add_store_argument

    parser.add_argument("--model", type=Path, required=True, help="a `eokg train` output folder")
    add_store_argument(parser)
    parser.add_argument(
        "--query",
        type=Path,
        default=None,
        help="file with a SELECT binding the spec's variables (default: the spec's predict_query)",
    )
    parser.add_argument(
        "--patches",
        type=Path,
        default=None,
        help="read patches from this Statoil-layout JSON file instead",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: MODEL/predictions/RUN_ID)"
    )
    parser.add_argument("--run-id", default=None, help="prediction run id (default: random)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--no-load", action="store_true", help="write predictions.parquet only; do not load triples"
    )


def run(args: argparse.Namespace, settings: Any) -> int:
    import uuid

    from eokg.kg.commands import close_source, store_settings
    from eokg.kg.open import open_source
    from eokg.ml.predict import predict

    query = None
    if args.query is not None:
        try:
            query = args.query.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the query: {exc}", where=str(args.query)) from exc
    run_id = args.run_id or f"predict-{uuid.uuid4().hex[:12]}"
    out = args.out or args.model / "predictions" / run_id
    source = open_source(store_settings(settings, args.store))
    try:
        result = predict(
            args.model,
            store=source,
            out_dir=out,
            query=query,
            patches_file=args.patches,
            run_id=run_id,
            batch_size=args.batch_size,
            page_size=settings.store.page_size,
            load=not args.no_load,
        )
    finally:
        close_source(source)
    print(json.dumps(result.to_json(), indent=2))
    return 0
