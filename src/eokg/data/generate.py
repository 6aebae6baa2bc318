"""Write the eokg sample dataset: realistic, seeded, any size, constant memory.

One call writes every family the rest of eokg consumes (see the layout in
:func:`generate_sample`).  Records are produced one at a time from per-record
random streams (:mod:`eokg.data.seeding`) and written by streaming writers, so a
run with ``--scale 1000`` needs no more memory than the demo; the same seed
always gives the same bytes.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eokg.data.bad_records import write_bad_records
from eokg.data.icecharts import PROPERTIES_SCHEMA as ICECHART_SCHEMA
from eokg.data.icecharts import iter_icechart
from eokg.data.parcels import PROPERTIES_SCHEMA as PARCEL_SCHEMA
from eokg.data.parcels import iter_parcels
from eokg.data.predictions import SCHEMA as PREDICTION_SCHEMA
from eokg.data.predictions import iter_predictions
from eokg.data.sar_patches import patch_bands, patch_json, patch_meta
from eokg.data.stac_items import (
    S1_COLLECTION,
    S2_COLLECTION,
    ExtentTracker,
    collection,
    s1_acquisition,
    s1_item,
    s2_item,
)
from eokg.data.writers import (
    DEFAULT_BATCH_ROWS,
    JsonArrayWriter,
    NdjsonWriter,
    ParquetBatchWriter,
    VectorWriter,
)
from eokg.errors import InputError

log = logging.getLogger(__name__)

#: Demo-size counts; ``scale`` multiplies them.
DEFAULT_COUNTS: dict[str, int] = {
    "n_products": 200,
    "n_patches": 1600,
    "n_icecharts": 300,
    "n_parcels": 500,
    "n_predictions": 200,
}

#: Relative paths of every file the generator writes (the sample data contract).
FILES: dict[str, str] = {
    "stac_s1": f"stac/{S1_COLLECTION}.ndjson",
    "stac_s2": f"stac/{S2_COLLECTION}.ndjson",
    "collection_s1": f"stac/collections/{S1_COLLECTION}.json",
    "collection_s2": f"stac/collections/{S2_COLLECTION}.json",
    "patches": "patches/patches.json",
    "icechart_geojson": "icecharts/icechart.geojson",
    "icechart_parquet": "icecharts/icechart.parquet",
    "parcels_geojson": "parcels/parcels.geojson",
    "parcels_parquet": "parcels/parcels.parquet",
    "predictions": "predictions/predictions.parquet",
    "bad_stac": "bad/stac.ndjson",
    "bad_patches": "bad/patches.json",
    "bad_icechart": "bad/icechart.geojson",
    "bad_parcels": "bad/parcels.csv",
    "bad_expected": "bad/expected.json",
}


@dataclass
class SampleManifest:
    """What was written where: also saved as ``manifest.json`` beside the data."""

    out_dir: Path
    seed: int
    files: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def path(self, key: str) -> Path:
        """Absolute path of file ``key`` (one of :data:`FILES`)."""
        return self.out_dir / self.files[key]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        return data

    @classmethod
    def read(cls, path: Path) -> SampleManifest:
        """Read ``manifest.json`` (or the folder holding it)."""
        path = path / "manifest.json" if path.is_dir() else path
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            out_dir=path.parent, seed=int(data["seed"]), files=data["files"], counts=data["counts"]
        )


def scaled_counts(scale: float = 1.0) -> dict[str, int]:
    """The default counts times ``scale`` (at least one of each)."""
    if not scale > 0:
        raise InputError(f"scale must be positive, got {scale}", where="--scale")
    return {key: max(1, math.ceil(value * scale)) for key, value in DEFAULT_COUNTS.items()}


def generate_sample(
    out_dir: Path,
    *,
    n_products: int = DEFAULT_COUNTS["n_products"],
    n_patches: int = DEFAULT_COUNTS["n_patches"],
    n_icecharts: int = DEFAULT_COUNTS["n_icecharts"],
    n_parcels: int = DEFAULT_COUNTS["n_parcels"],
    n_predictions: int = DEFAULT_COUNTS["n_predictions"],
    seed: int = 42,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> SampleManifest:
    """Write the sample dataset under ``out_dir`` and return its manifest.

    Products are split between Sentinel-1 (the larger half, since patches are
    cut from them) and Sentinel-2.  Predictions cover the first patches; past
    ``n_patches`` a further prediction run starts over.  ``batch_rows`` bounds
    the rows buffered per Parquet row group.
    """
    counts = {
        "n_products": n_products,
        "n_patches": n_patches,
        "n_icecharts": n_icecharts,
        "n_parcels": n_parcels,
        "n_predictions": n_predictions,
    }
    for key, value in counts.items():
        if value < 0:
            raise InputError(f"{key} must not be negative, got {value}", where=key)
    n_s1 = (n_products + 1) // 2
    n_s2 = n_products // 2
    if n_s1 == 0 and (n_patches or n_predictions):
        raise InputError(
            "patches are cut from Sentinel-1 products: n_products must be >= 1", where="n_products"
        )
    if n_predictions and not n_patches:
        raise InputError("predictions need patches: n_patches must be >= 1", where="n_patches")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = SampleManifest(out_dir=out_dir, seed=seed, files=dict(FILES))
    path = manifest.path

    log.info("writing %d Sentinel-1 and %d Sentinel-2 items", n_s1, n_s2)
    extents = {S1_COLLECTION: ExtentTracker(), S2_COLLECTION: ExtentTracker()}
    with NdjsonWriter(path("stac_s1")) as s1_out:
        for i in range(n_s1):
            item = s1_item(s1_acquisition(seed, i))
            extents[S1_COLLECTION].add(item)
            s1_out.write(item)
    with NdjsonWriter(path("stac_s2")) as s2_out:
        for i in range(n_s2):
            item = s2_item(seed, i)
            extents[S2_COLLECTION].add(item)
            s2_out.write(item)
    for key, cid in (("collection_s1", S1_COLLECTION), ("collection_s2", S2_COLLECTION)):
        path(key).parent.mkdir(parents=True, exist_ok=True)
        path(key).write_text(
            json.dumps(collection(cid, extents[cid]), indent=2) + "\n", encoding="utf-8"
        )

    log.info("writing %d patches", n_patches)
    icebergs = 0
    with JsonArrayWriter(path("patches")) as patches_out:
        for i in range(n_patches):
            meta = patch_meta(seed, i, n_s1)
            icebergs += meta.is_iceberg
            patches_out.write_raw(patch_json(meta, patch_bands(seed, meta)))

    log.info("writing %d ice chart cells and %d parcels", n_icecharts, n_parcels)
    with VectorWriter(
        path("icechart_geojson"),
        path("icechart_parquet"),
        "icechart",
        ICECHART_SCHEMA,
        ["Polygon"],
        batch_rows=batch_rows,
    ) as charts_out:
        for props, polygon in iter_icechart(seed, n_icecharts):
            charts_out.write(props, polygon)
    with VectorWriter(
        path("parcels_geojson"),
        path("parcels_parquet"),
        "parcels",
        PARCEL_SCHEMA,
        ["Polygon"],
        batch_rows=batch_rows,
    ) as parcels_out:
        for props, polygon in iter_parcels(seed, n_parcels):
            parcels_out.write(props, polygon)

    log.info("writing %d predictions", n_predictions)
    with ParquetBatchWriter(
        path("predictions"), PREDICTION_SCHEMA, batch_rows=batch_rows
    ) as predictions_out:
        for row in iter_predictions(seed, n_predictions, n_patches, n_s1):
            predictions_out.write(row)

    expected = write_bad_records(path("bad_expected").parent)

    manifest.counts = {
        "stac_s1": n_s1,
        "stac_s2": n_s2,
        "patches": n_patches,
        "patches_iceberg": icebergs,
        "icechart": charts_out.count,
        "parcels": parcels_out.count,
        "predictions": predictions_out.count,
        "bad": sum(len(v) for v in expected.values()),
    }
    (out_dir / "manifest.json").write_text(
        json.dumps({"seed": seed, "files": manifest.files, "counts": manifest.counts}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    return manifest
