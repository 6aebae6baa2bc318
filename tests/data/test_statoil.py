"""One Statoil record to arrays, with errors that name the record."""

from __future__ import annotations

import numpy as np
import pytest

from eokg.data.statoil import to_patch
from eokg.errors import InputError


def _record(**changes: object) -> dict:
    record = {
        "id": "abc12345",
        "band_1": list(np.linspace(-40, 30, 5625)),
        "band_2": [-25.0] * 5625,
        "inc_angle": 38.2,
        "is_iceberg": 1,
    }
    record.update(changes)
    return record


def test_record_to_arrays() -> None:
    patch = to_patch(_record())
    assert patch.bands.shape == (2, 75, 75) and patch.bands.dtype == np.float32
    assert patch.bands[0, 0, 0] == pytest.approx(-40) and patch.bands[0, 0, 1] > -40
    assert patch.bands[0, 74, 74] == pytest.approx(30)
    assert patch.inc_angle == 38.2 and patch.is_iceberg == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"band_2": [-25.0] * 10}, "band_2 has 10 values"),
        ({"band_1": [*[-20.0] * 5624, None]}, "non-numeric value None in band_1 at index 5624"),
        ({"band_1": [True] * 5625}, "non-numeric value True"),
        ({"band_1": [float("nan")] * 5625}, "is not a dB value"),
        ({"inc_angle": 123}, "inc_angle 123 outside"),
        ({"inc_angle": "n/a"}, "inc_angle must be a number"),
        ({"is_iceberg": 2}, "is_iceberg must be 0 or 1"),
        ({"band_1": None}, "band_1 must be a JSON array"),
    ],
)
def test_bad_records_name_their_id(changes: dict, message: str) -> None:
    with pytest.raises(InputError, match="abc12345") as info:
        to_patch(_record(**changes), where="train.json: record 7")
    assert message in str(info.value)
    assert "train.json: record 7" in str(info.value)


def test_missing_id() -> None:
    with pytest.raises(InputError, match='needs a string "id"'):
        to_patch(_record(id=None))
