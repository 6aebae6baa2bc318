"""One training worker process: ``python -m eokg.ml.worker --dataset DIR --out DIR ...``.

Started by ``eokg.ml.launcher`` with ``TF_CONFIG`` naming the cluster and this
worker's index.  The environment (``TF_USE_LEGACY_KERAS``, thread caps) is
applied before TensorFlow is imported, which is why this is a separate entry
point rather than a ``multiprocessing`` fork of an interpreter that may already
have TensorFlow loaded.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eokg.ml.worker")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    # Fail before the (slow) TensorFlow import when the dataset is not there.
    from eokg.ml.shards import MANIFEST

    if not (args.dataset / MANIFEST).is_file():
        from eokg.errors import InputError

        raise InputError("no dataset manifest here", where=str(args.dataset / MANIFEST))
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s worker-{args.index} %(levelname)s: %(message)s"
    )

    from eokg.ml.tfcompat import limit_threads

    threads = int(os.environ.get("EOKG_ML_THREADS", "1"))
    limit_threads(threads, threads)
    from eokg.ml.train import fit_on_manifest

    fit_on_manifest(
        args.dataset,
        args.out,
        index=args.index,
        workers=args.workers,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        model=args.model,
        verbose=args.verbose,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
