"""The Statoil/C-CORE iceberg challenge record: check it, turn it into arrays.

A record is ``{"id", "band_1", "band_2", "inc_angle", "is_iceberg"}`` with two
flattened 75x75 bands in dB; ``inc_angle`` may be the string ``"na"`` and the
test set has no ``is_iceberg``.  eokg's samples add ``lon``, ``lat``,
``product_id`` and ``datetime``, which real files lack, so all four are
optional here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from eokg.errors import InputError

SIZE = 75
BAND_LENGTH = SIZE * SIZE
BANDS = ("band_1", "band_2")
#: dB values outside this range cannot come from a calibrated SAR patch.
DB_RANGE = (-100.0, 100.0)


@dataclass(frozen=True)
class StatoilPatch:
    """One checked record: ``bands`` has shape (2, 75, 75), float32, HH then HV."""

    id: str
    bands: np.ndarray
    inc_angle: float | None
    is_iceberg: int | None
    lon: float | None = None
    lat: float | None = None
    product_id: str | None = None
    datetime: str | None = None


def _where(where: str | None, record_id: object) -> str:
    label = f"id {record_id!r}" if record_id is not None else "no id"
    return f"{where} ({label})" if where else f"record {label}"


def _band(record: dict[str, Any], key: str, where: str) -> np.ndarray:
    values = record.get(key)
    if not isinstance(values, list):
        raise InputError(f"{key} must be a JSON array of {BAND_LENGTH} numbers", where=where)
    if len(values) != BAND_LENGTH:
        raise InputError(f"{key} has {len(values)} values, not {BAND_LENGTH}", where=where)
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nesting
        array = np.asarray([None])
    if array.ndim != 1 or array.dtype.kind not in "fiu":
        for i, value in enumerate(values):  # slow path, only to name the culprit
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"non-numeric value {value!r} in {key} at index {i}", where=where)
    array = array.astype(np.float64)
    bad = ~np.isfinite(array) | (array < DB_RANGE[0]) | (array > DB_RANGE[1])
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{key}[{i}] = {values[i]!r} is not a dB value in {DB_RANGE}", where=where)
    return array.astype(np.float32).reshape(SIZE, SIZE)


def _inc_angle(value: Any, where: str) -> float | None:
    if value is None or value == "na":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(
            f'inc_angle must be a number of degrees or "na", got {value!r}', where=where
        )
    if not 0.0 <= float(value) <= 90.0:
        raise InputError(f"inc_angle {value} outside [0, 90]", where=where)
    return float(value)


def to_patch(record: dict[str, Any], *, where: str | None = None) -> StatoilPatch:
    """Check one record and return it as arrays; errors name ``where`` and the record id.

    ``where`` is the file and index the caller read it from, e.g.
    ``"train.json: record 17"``.
    """
    record_id = record.get("id") if isinstance(record, dict) else None
    here = _where(where, record_id)
    if not isinstance(record, dict):
        raise InputError("a Statoil record must be a JSON object", where=here)
    if not isinstance(record_id, str) or not record_id:
        raise InputError('a Statoil record needs a string "id"', where=here)
    bands = np.stack([_band(record, key, here) for key in BANDS])
    label = record.get("is_iceberg")
    if label is not None and label not in (0, 1):
        raise InputError(f"is_iceberg must be 0 or 1, got {label!r}", where=here)
    lon, lat = record.get("lon"), record.get("lat")
    return StatoilPatch(
        id=record_id,
        bands=bands,
        inc_angle=_inc_angle(record.get("inc_angle"), here),
        is_iceberg=None if label is None else int(label),
        lon=None if lon is None else float(lon),
        lat=None if lat is None else float(lat),
        product_id=record.get("product_id"),
        datetime=record.get("datetime"),
    )


def check_record(record: dict[str, Any], *, where: str | None = None) -> None:
    """Raise :class:`~eokg.errors.InputError` if ``record`` is not a valid Statoil record."""
    to_patch(record, where=where)
