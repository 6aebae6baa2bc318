"""Train a model on a query dataset: one process, or N real worker processes.

``train`` materialises the dataset once (``shards``), then either fits in this
process (one worker) or launches N worker processes (``launcher``) that run
``fit_on_manifest`` under ``MultiWorkerMirroredStrategy``, each reading the
same shards.  Both paths write the same files into ``out_dir``::

    model.keras      the trained model (chief only), normalisation baked in
    model.json       the spec, class list and statistics the model needs to predict
    epochs.jsonl     one line of metrics per finished epoch (survives a restart)
    metrics.json     the TrainingResult
    backup/          BackupAndRestore checkpoints: a re-run after a crash resumes
    logs/            one log per worker process

The validation accuracy reported is recomputed at the end on the whole
validation split in one process, so it does not depend on how the workers
split the data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eokg.errors import InputError
from eokg.kg.source import SparqlSource
from eokg.ml.shards import Manifest, materialise, read_shards
from eokg.ml.spec import DatasetSpec

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
MODEL_INFO = "model.json"
EPOCHS_FILE = "epochs.jsonl"
METRICS_FILE = "metrics.json"


@dataclass
class TrainingResult:
    """What a training run produced, for the CLI, the registry and the benchmark."""

    model_path: Path
    metrics: list[dict[str, float]]
    val_accuracy: float
    seconds: float
    workers: int
    run_id: str
    dataset_dir: Path
    started_at: str
    ended_at: str
    train_samples: int = 0
    val_samples: int = 0
    epochs: int = 0
    batch_size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["model_path"] = str(self.model_path)
        data["dataset_dir"] = str(self.dataset_dir)
        return data


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def train(
    spec: DatasetSpec,
    *,
    source: SparqlSource | None = None,
    manifest: Manifest | None = None,
    workers: int = 1,
    epochs: int = 10,
    batch_size: int = 64,
    out_dir: Path,
    cache_dir: Path | None = None,
    page_size: int = 10_000,
    seed: int = 42,
    verbose: bool = False,
    timeout_s: float | None = None,
) -> TrainingResult:
    """Train ``spec.model`` on the dataset of ``spec`` over ``source``.

    Pass ``source`` (the shards are built or reused under ``cache_dir``) or an
    already materialised ``manifest``.  ``workers > 1`` launches that many
    processes on loopback ports.
    """
    if workers < 1:
        raise InputError("workers must be at least 1", where="--workers")
    if epochs < 1 or batch_size < 1:
        raise InputError("epochs and batch_size must be positive", where="--epochs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started_at = _now()
    started = time.perf_counter()
    if manifest is None:
        if source is None:
            raise InputError("pass a source (store) or a materialised manifest", where="train")
        manifest = materialise(source, spec, cache_dir or out_dir / "datasets", page_size=page_size)
    log.info(
        "dataset %s: %s samples (%s)",
        manifest.directory,
        manifest.counts,
        "reused" if manifest.reused else "built",
    )
    run_id = uuid.uuid4().hex[:12]
    _write_model_info(out_dir, spec, manifest, run_id)
    if workers == 1:
        fit_on_manifest(
            manifest.directory,
            out_dir,
            index=0,
            workers=1,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            model=spec.model,
            verbose=verbose,
        )
    else:
        from eokg.ml.launcher import launch_workers

        launch_workers(
            manifest.directory,
            out_dir,
            workers=workers,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            model=spec.model,
            verbose=verbose,
            timeout_s=timeout_s,
        )
    model_path = out_dir / MODEL_FILE
    if not model_path.is_file():
        raise InputError("training finished without writing a model", where=str(out_dir))
    val_accuracy = evaluate(model_path, manifest, batch_size=batch_size)
    result = TrainingResult(
        model_path=model_path,
        metrics=read_epochs(out_dir),
        val_accuracy=val_accuracy,
        seconds=round(time.perf_counter() - started, 3),
        workers=workers,
        run_id=run_id,
        dataset_dir=manifest.directory,
        started_at=started_at,
        ended_at=_now(),
        train_samples=manifest.counts.get("train", 0),
        val_samples=manifest.counts.get("val", 0),
        epochs=epochs,
        batch_size=batch_size,
        extra={"dataset_reused": manifest.reused},
    )
    (out_dir / METRICS_FILE).write_text(json.dumps(result.to_json(), indent=2), "utf-8")
    return result


def model_id_for(spec: DatasetSpec, run_id: str) -> str:
    """``{architecture}-{dataset name}-{run id}``: the model's IRI suffix and STAC id."""
    return f"{spec.model}-{spec.name}-{run_id}"


def _write_model_info(out_dir: Path, spec: DatasetSpec, manifest: Manifest, run_id: str) -> None:
    info = {
        "model_id": model_id_for(spec, run_id),
        "spec": spec.to_dict(),
        "stats": manifest.stats,
        "dataset": str(manifest.directory),
        "dataset_key": manifest.key,
        "counts": manifest.counts,
        "run_id": run_id,
    }
    (out_dir / MODEL_INFO).write_text(json.dumps(info, indent=2), "utf-8")


def read_epochs(out_dir: Path) -> list[dict[str, float]]:
    """Per-epoch metrics, the last record of each epoch winning (a resumed run repeats one)."""
    path = Path(out_dir) / EPOCHS_FILE
    if not path.is_file():
        return []
    by_epoch: dict[int, dict[str, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_epoch[int(record["epoch"])] = record
    return [by_epoch[k] for k in sorted(by_epoch)]


def evaluate(model_path: Path, manifest: Manifest, *, batch_size: int = 256) -> float:
    """Accuracy of a saved model over the whole validation split (0.0 if it is empty)."""
    if manifest.counts.get("val", 0) == 0:
        return 0.0
    from eokg.ml.tfcompat import keras

    model = keras().models.load_model(model_path)
    correct = total = 0
    for features, labels in read_shards(manifest, "val", batch_size=batch_size):
        probs = model.predict_on_batch(features)
        correct += int((probs.argmax(axis=1) == labels.numpy()).sum())
        total += int(labels.shape[0])
    return correct / total if total else 0.0


def fit_on_manifest(
    dataset_dir: Path,
    out_dir: Path,
    *,
    index: int,
    workers: int,
    epochs: int,
    batch_size: int,
    seed: int,
    model: str,
    verbose: bool = False,
    extra_callbacks: list[Any] | None = None,
) -> None:
    """Fit in this process: alone, or as worker ``index`` of ``workers`` (TF_CONFIG set).

    Checkpoints go to ``out_dir/backup`` after every epoch; if the process dies,
    running it again with the same ``out_dir`` resumes after the last finished
    epoch (the backup is deleted when training completes).
    """
    from eokg.ml.models import build_model
    from eokg.ml.tfcompat import keras, tensorflow

    tf = tensorflow()
    k = keras()
    # The strategy must exist before any other TensorFlow op of the process.
    strategy = (
        tf.distribute.MultiWorkerMirroredStrategy() if workers > 1 else tf.distribute.get_strategy()
    )
    manifest = Manifest.load(Path(dataset_dir))
    out_dir = Path(out_dir)
    chief = index == 0
    with strategy.scope():
        net = build_model(model, manifest.spec.features, manifest.stats, seed=seed)
    policy = "DATA" if workers > 1 else None
    train_ds = manifest.dataset(
        "train", batch_size=batch_size, shuffle=True, repeat=True, seed=seed, shard_policy=policy
    )
    steps = max(1, math.ceil(manifest.counts["train"] / batch_size))
    fit_args: dict[str, Any] = {}
    if manifest.counts.get("val", 0):
        fit_args["validation_data"] = manifest.dataset(
            "val", batch_size=batch_size, repeat=True, shard_policy=policy
        )
        fit_args["validation_steps"] = max(1, math.ceil(manifest.counts["val"] / batch_size))
    callbacks = [
        k.callbacks.BackupAndRestore(backup_dir=str(out_dir / "backup")),
        _epoch_log(k, out_dir / EPOCHS_FILE, chief, workers),
        *(extra_callbacks or []),
    ]
    # The progress bar goes to stderr: stdout stays clean for the CLI's JSON summary.
    with contextlib.redirect_stdout(sys.stderr):
        net.fit(
            train_ds,
            epochs=epochs,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=1 if (verbose and chief) else 0,
            **fit_args,
        )
    # Every worker saves (saving may run collectives); only the chief's copy is kept.
    target = out_dir / MODEL_FILE if chief else out_dir / f".worker-{index}" / MODEL_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    net.save(str(target))
    if not chief:
        shutil.rmtree(target.parent, ignore_errors=True)


def _epoch_log(k: Any, path: Path, chief: bool, workers: int) -> Any:
    """A Keras callback appending each epoch's metrics to ``epochs.jsonl`` (chief only)."""

    class EpochLog(k.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            record = {
                "epoch": epoch + 1,
                "workers": workers,
                "seconds": round(time.perf_counter() - self.started, 3),
            }
            record.update({key: float(value) for key, value in (logs or {}).items()})
            log.info("epoch %s: %s", epoch + 1, record)
            if chief:
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")

    return EpochLog()
