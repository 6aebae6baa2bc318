"""Synthetic 75x75 dual-polarisation SAR patches of ships and icebergs.

The layout is the Statoil/C-CORE Iceberg Classifier Challenge one: ``band_1``
(HH) and ``band_2`` (HV) backscatter in dB, flattened row-major.  The physics is
simplified but keeps the cues a classifier really uses, so that models trained
here behave like models trained on the real data:

* sea clutter falls off with incidence angle and is multiplied by 4-look
  gamma speckle;
* a ship is a line of bright point scatterers convolved with the SAR impulse
  response (sinc squared, hence the cross-shaped sidelobes) and depolarises
  strongly (high HV);
* an iceberg is a broader, dimmer, irregular blob of distributed scatterers,
  speckled like the sea, with a weaker HV return.

About a fifth of each class is drawn from the other class's range of size and
brightness, so the classes overlap: a small CNN gets well above 85 % but not
100 %, and a two-feature threshold gets above 80 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np

from eokg.data.seeding import hex_id, record_rng
from eokg.data.stac_items import S1Acquisition, rfc3339, s1_acquisition

SIZE = 75
PIXELS = SIZE * SIZE
#: Ground size of a patch side: 75 pixels of 40 m (EW GRDM pixel spacing).
PATCH_SIDE_M = SIZE * 40.0
ICEBERG_SHARE = 0.47  # as in the real training set (753 of 1604)
NA_ANGLE_SHARE = 0.08  # ships whose angle is "na", like 133 records of the real set
_LOOKS = 4.0


@dataclass(frozen=True)
class PatchMeta:
    """Everything about patch ``index`` except its pixels (cheap to regenerate)."""

    index: int
    id: str
    is_iceberg: int
    inc_angle: float | None
    lon: float
    lat: float
    product_id: str
    datetime: datetime


def patch_meta(seed: int, index: int, n_s1: int) -> PatchMeta:
    """Where and when patch ``index`` was cut, and what it shows."""
    rng = record_rng(seed, "patch-meta", index)
    acq: S1Acquisition = s1_acquisition(seed, int(rng.integers(0, n_s1)))
    along = float(rng.uniform(-0.45, 0.45))
    across = float(rng.uniform(-0.45, 0.45))
    lon, lat = acq.point(along, across)
    is_iceberg = int(rng.random() < ICEBERG_SHARE)
    # EW incidence runs from about 19 degrees at near range to 47 at far range.
    near, far = (19.0, 47.0) if acq.mode == "EW" else (30.0, 46.0)
    inc = round(near + (across + 0.5) * (far - near), 4)
    if not is_iceberg and rng.random() < NA_ANGLE_SHARE:
        inc_angle: float | None = None
    else:
        inc_angle = inc
    moment = acq.start + timedelta(seconds=round((along + 0.5) * (acq.end - acq.start).seconds))
    return PatchMeta(
        index=index,
        id=hex_id(seed, "patch", index),
        is_iceberg=is_iceberg,
        inc_angle=inc_angle,
        lon=round(lon, 6),
        lat=round(lat, 6),
        product_id=acq.id,
        datetime=moment,
    )


@lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    axis = np.arange(SIZE, dtype=np.float64) - (SIZE - 1) / 2.0
    return np.meshgrid(axis, axis, indexing="xy")


def _ship(rng: np.random.Generator, confusing: bool) -> tuple[np.ndarray, float]:
    """Linear intensity of a ship (before clutter), and its HV/HH ratio."""
    xx, yy = _grid()
    length = rng.uniform(1.0, 3.0) if confusing else rng.uniform(2.0, 9.0)
    heading = rng.uniform(0.0, np.pi)
    n_scatterers = int(rng.integers(2, 6))
    peak_db = rng.normal(4.0, 4.0) if confusing else rng.normal(14.0, 6.0)
    width = rng.uniform(0.7, 1.1)
    image = np.zeros((SIZE, SIZE))
    cx, cy = rng.normal(0.0, 3.0, size=2)
    for t in np.linspace(-0.5, 0.5, n_scatterers):
        px = cx + t * length * np.cos(heading)
        py = cy + t * length * np.sin(heading)
        amp = 10 ** ((peak_db + rng.normal(0.0, 3.0)) / 10.0)
        # Separable sinc^2 impulse response: the cross-shaped sidelobes of a point target.
        image += amp * np.sinc((xx - px) / width) ** 2 * np.sinc((yy - py) / width) ** 2
    hv_ratio_db = rng.normal(-7.0, 2.5)
    return image, hv_ratio_db


def _iceberg(rng: np.random.Generator, confusing: bool) -> tuple[np.ndarray, float]:
    """Linear intensity of an iceberg (before clutter), and its HV/HH ratio."""
    xx, yy = _grid()
    radius = rng.uniform(1.2, 2.5) if confusing else rng.uniform(2.0, 5.5)
    peak_db = rng.normal(9.0, 5.0) if confusing else rng.normal(2.0, 4.0)
    image = np.zeros((SIZE, SIZE))
    cx, cy = rng.normal(0.0, 3.0, size=2)
    for _ in range(int(rng.integers(3, 9))):
        ox, oy = rng.normal(0.0, radius * 0.6, size=2)
        sx, sy = rng.uniform(0.6, 1.0, size=2) * radius
        amp = 10 ** ((peak_db + rng.normal(0.0, 2.0)) / 10.0)
        image += amp * np.exp(-(((xx - cx - ox) / sx) ** 2 + ((yy - cy - oy) / sy) ** 2) / 2.0)
    hv_ratio_db = rng.normal(-13.0, 2.5)
    return image, hv_ratio_db


def patch_bands(seed: int, meta: PatchMeta) -> np.ndarray:
    """The (2, 75, 75) float32 array of HH and HV backscatter in dB."""
    rng = record_rng(seed, "patch-pixels", meta.index)
    angle = meta.inc_angle if meta.inc_angle is not None else float(rng.uniform(30.0, 42.0))
    wind = rng.normal(0.0, 2.5)
    hh_sea_db = -14.0 - 0.42 * (angle - 20.0) + wind
    hv_sea_db = -25.0 - 0.08 * (angle - 20.0) + 0.3 * wind
    confusing = bool(rng.random() < 0.2)
    target, hv_ratio_db = _iceberg(rng, confusing) if meta.is_iceberg else _ship(rng, confusing)
    target_hh = target * 10 ** (hh_sea_db / 10.0)  # target brightness is relative to the sea
    target_hv = target_hh * 10 ** (hv_ratio_db / 10.0)
    bands = np.empty((2, SIZE, SIZE), dtype=np.float32)
    for b, (sea_db, tgt) in enumerate(((hh_sea_db, target_hh), (hv_sea_db, target_hv))):
        speckle = rng.gamma(_LOOKS, 1.0 / _LOOKS, size=(SIZE, SIZE))
        if meta.is_iceberg:
            intensity = (10 ** (sea_db / 10.0) + tgt) * speckle
        else:  # a point target is coherent: it does not speckle like the sea around it
            intensity = 10 ** (sea_db / 10.0) * speckle + tgt * rng.uniform(0.8, 1.2)
        bands[b] = 10.0 * np.log10(np.maximum(intensity, 10 ** (-4.5)))
    return bands


def _format_band(values: np.ndarray) -> str:
    flat = values.ravel().tolist()
    return "[" + (",".join(["%.6g"] * len(flat)) % tuple(flat)) + "]"


def patch_json(meta: PatchMeta, bands: np.ndarray) -> str:
    """One record of the Statoil layout, plus the extra keys eokg adds, as JSON text."""
    angle = '"na"' if meta.inc_angle is None else repr(meta.inc_angle)
    return (
        f'{{"id":"{meta.id}","band_1":{_format_band(bands[0])},'
        f'"band_2":{_format_band(bands[1])},"inc_angle":{angle},'
        f'"is_iceberg":{meta.is_iceberg},"lon":{meta.lon!r},"lat":{meta.lat!r},'
        f'"product_id":"{meta.product_id}","datetime":"{rfc3339(meta.datetime)}"}}'
    )
