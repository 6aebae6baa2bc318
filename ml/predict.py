"""Run a trained model over patches and put its predictions back into the graph.

Patches come from the store (the spec's ``predict_query``, or any query binding
the same variables) or from a Statoil-layout patches file, which is mapped
with the shipped patches mapping into a scratch in-memory store first, so
both paths share one decoding and batching code.  Samples are streamed page by
page, classified in batches, and written to ``predictions.parquet`` batch by
batch in the column schema of ``ontologies/mappings/predictions.rml.ttl``;
that mapping (local engine) turns them into ``eo:Prediction`` triples with
PROV lineage, which are loaded into the store, so a GeoSPARQL query over the
predictions works as soon as ``predict`` returns.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eokg.data.predictions import SCHEMA  # the columns the prediction mapping reads
from eokg.errors import InputError
from eokg.kg.source import SparqlSource
from eokg.ml.dataset import Sample, iter_samples
from eokg.ml.spec import DatasetSpec
from eokg.ml.train import MODEL_FILE, MODEL_INFO

PREDICTIONS_GRAPH = "https://w3id.org/eokg/data/graph/predictions"
PATCH_PREFIX = "https://w3id.org/eokg/data/patch/"


@dataclass(frozen=True)
class PredictionResult:
    """What a prediction run wrote and loaded."""

    run_id: str
    model_id: str
    parquet: Path
    predictions: int
    triples: int
    skipped: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "parquet": str(self.parquet),
            "predictions": self.predictions,
            "triples": self.triples,
            "skipped": self.skipped,
            "seconds": self.seconds,
        }


def load_model_info(model_dir: Path) -> tuple[Path, dict[str, Any], DatasetSpec]:
    """(model file, model.json contents, spec) of a training output folder."""
    model_dir = Path(model_dir)
    if model_dir.is_file():
        model_dir = model_dir.parent
    info_path = model_dir / MODEL_INFO
    model_path = model_dir / MODEL_FILE
    if not info_path.is_file() or not model_path.is_file():
        raise InputError(
            f"not a trained model folder (needs {MODEL_FILE} and {MODEL_INFO})",
            where=str(model_dir),
        )
    info = json.loads(info_path.read_text(encoding="utf-8"))
    return model_path, info, DatasetSpec.from_dict(info["spec"], where=str(info_path))


def predict(
    model_dir: Path,
    *,
    store: SparqlSource,
    out_dir: Path,
    query: str | None = None,
    patches_file: Path | None = None,
    run_id: str | None = None,
    batch_size: int = 256,
    page_size: int = 10_000,
    load: bool = True,
) -> PredictionResult:
    """Classify patches with the model in ``model_dir``; load the predictions into ``store``.

    ``query`` overrides the spec's ``predict_query`` (it must bind the same
    variables); ``patches_file`` reads patches from a file instead of ``store``.
    Patches without a footprint are skipped (a prediction is a geo:Feature).
    """
    from eokg.ml.tfcompat import keras

    started = time.perf_counter()
    model_path, info, spec = load_model_info(model_dir)
    if query:
        spec = replace(spec, predict_query=query)
    model_id = info.get("model_id") or f"{spec.model}-{spec.name}-{info.get('run_id')}"
    run_id = run_id or f"predict-{uuid.uuid4().hex[:12]}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parquet = out_dir / "predictions.parquet"
    model = keras().models.load_model(model_path)
    keys = spec.features.class_keys
    predicted_at = datetime.now(UTC).isoformat(timespec="seconds")
    count = skipped = 0
    with tempfile.TemporaryDirectory(prefix="eokg-predict-") as scratch:
        source = store if patches_file is None else _scratch_store(patches_file, Path(scratch))
        samples = iter_samples(source, spec, page_size=page_size, labelled=False)
        with pq.ParquetWriter(parquet, SCHEMA) as writer:
            for batch in _batches(samples, batch_size):
                usable = [s for s in batch if s.wkt]
                skipped += len(batch) - len(usable)
                if not usable:
                    continue
                probs = np.asarray(
                    model.predict_on_batch(
                        {
                            "image": np.stack([s.x for s in usable]),
                            "scalars": np.stack([s.scalars for s in usable]),
                        }
                    )
                )
                best = probs.argmax(axis=1)
                writer.write_table(
                    pa.table(
                        {
                            "patch_id": [_patch_id(s.id) for s in usable],
                            "class": [keys[i] for i in best],
                            "confidence": probs[np.arange(len(usable)), best].astype(np.float64),
                            "model_id": [model_id] * len(usable),
                            "run_id": [run_id] * len(usable),
                            "predicted_at": [predicted_at] * len(usable),
                            "wkt": [s.wkt for s in usable],
                        },
                        schema=SCHEMA,
                    )
                )
                count += len(usable)
    triples = 0
    if load and count:
        triples = load_predictions(parquet, store, out_dir / "rdf")
    return PredictionResult(
        run_id=run_id,
        model_id=model_id,
        parquet=parquet,
        predictions=count,
        triples=triples,
        skipped=skipped,
        seconds=round(time.perf_counter() - started, 3),
    )


def load_predictions(parquet: Path, store: SparqlSource, rdf_dir: Path) -> int:
    """Map ``predictions.parquet`` with the shipped mapping and load the triples."""
    from eokg.ontologies.paths import MAPPINGS_DIR
    from eokg.spark.local import run_local
    from eokg.spark.rml import load_mapping

    plan = load_mapping(
        MAPPINGS_DIR / "predictions.rml.ttl", inputs={"predictions.parquet": parquet}
    )
    summary = run_local(plan, rdf_dir)
    if summary.reject_count:
        raise InputError(
            f"{summary.reject_count} prediction rows were rejected by the mapping",
            where=str(rdf_dir / "_rejects"),
        )
    parts = sorted(p for p in rdf_dir.glob("part-*") if p.stat().st_size)
    return store.load(parts).triples if parts else 0


def _patch_id(iri: str) -> str:
    """The ``{id}`` of a patch IRI (the prediction mapping rebuilds the IRI from it)."""
    if iri.startswith(PATCH_PREFIX):
        return iri[len(PATCH_PREFIX) :]
    raise InputError("not an eokg patch IRI; the prediction mapping needs one", where=iri)


def _batches(samples: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for sample in samples:
        batch.append(sample)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _scratch_store(patches_file: Path, scratch: Path) -> SparqlSource:
    """A throw-away in-memory store holding ``patches_file`` mapped to RDF."""
    from eokg.kg.store import GeoStore
    from eokg.ontologies.paths import MAPPINGS_DIR
    from eokg.spark.local import run_local
    from eokg.spark.rml import load_mapping

    if not Path(patches_file).is_file():
        raise InputError("patches file not found", where=str(patches_file))
    plan = load_mapping(
        MAPPINGS_DIR / "patches.rml.ttl", inputs={"patches.json": Path(patches_file)}
    )
    run_local(plan, scratch / "rdf")
    store = GeoStore()
    parts = sorted((scratch / "rdf").glob("part-*"))
    if parts:
        store.load(parts)
    return store
