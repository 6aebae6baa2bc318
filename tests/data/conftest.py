"""One small generated sample shared by the data tests (generation is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eokg.data.generate import SampleManifest, generate_sample

SMALL = {
    "n_products": 12,
    "n_patches": 300,
    "n_icecharts": 150,
    "n_parcels": 130,
    "n_predictions": 40,
}


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    out: Path = tmp_path_factory.mktemp("sample")
    return generate_sample(out, seed=42, batch_rows=64, **SMALL)
