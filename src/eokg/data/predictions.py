"""Synthetic model predictions for the sample patches.

A prediction names its patch, its class (a sea-ice scheme key), a confidence,
the model and the run that produced it, and the patch footprint as CRS84 WKT,
so the predictions can be mapped to RDF and joined spatially on their own.
About 90 % are right, and wrong answers tend to be less confident, which is
what a calibration or an active-learning query should find.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import shapely

from eokg.data.geodesy import square_around
from eokg.data.sar_patches import PATCH_SIDE_M, patch_meta
from eokg.data.seeding import record_rng
from eokg.data.stac_items import rfc3339

MODEL_ID = "iceberg-cnn-v1"
ACCURACY = 0.9
_RUN_START = datetime(2025, 4, 1, 12, 0, 0, tzinfo=UTC)

SCHEMA = pa.schema(
    [
        pa.field("patch_id", pa.string(), nullable=False),
        pa.field("class", pa.string(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("predicted_at", pa.string(), nullable=False),
        pa.field("wkt", pa.string(), nullable=False),
    ]
)


def run_id(run: int) -> str:
    return f"predict-{(_RUN_START + timedelta(days=run)):%Y%m%d}-{run + 1:02d}"


def iter_predictions(
    seed: int, n_predictions: int, n_patches: int, n_s1: int
) -> Iterator[dict[str, Any]]:
    """One row per prediction; past ``n_patches`` a new run predicts the patches again."""
    for index in range(n_predictions):
        run, patch_index = divmod(index, n_patches)
        meta = patch_meta(seed, patch_index, n_s1)
        rng = record_rng(seed, "prediction", index)
        right = rng.random() < ACCURACY
        truth = "iceberg" if meta.is_iceberg else "ship"
        predicted = truth if right else ("ship" if meta.is_iceberg else "iceberg")
        confidence = 0.5 + 0.5 * (rng.beta(5.0, 1.5) if right else rng.beta(1.5, 3.0))
        moment = _RUN_START + timedelta(days=run, seconds=patch_index)
        footprint = square_around(meta.lon, meta.lat, PATCH_SIDE_M / 2.0)
        yield {
            "patch_id": meta.id,
            "class": predicted,
            "confidence": round(float(confidence), 4),
            "model_id": MODEL_ID,
            "run_id": run_id(run),
            "predicted_at": rfc3339(moment),
            "wkt": shapely.to_wkt(footprint, rounding_precision=7),
        }
