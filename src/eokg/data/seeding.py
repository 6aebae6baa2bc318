"""Per-record random streams, so any record can be regenerated on its own.

Every record ``i`` of a family (``"s1"``, ``"patch"``, ...) draws from its own
generator seeded by ``(seed, family, i)``.  That makes the sample reproducible
byte for byte, lets one family refer to another (a patch is cut from S1 item
``j``: regenerate item ``j`` instead of keeping every item in memory) and keeps
memory constant whatever the scale.
"""

from __future__ import annotations

import zlib

import numpy as np

_MASK32 = 0xFFFFFFFF


def record_rng(seed: int, family: str, index: int) -> np.random.Generator:
    """The generator of record ``index`` of ``family`` (stable across runs and platforms)."""
    return np.random.default_rng([seed & _MASK32, zlib.crc32(family.encode()), index])


def _fmix32(h: int) -> int:
    """MurmurHash3's finaliser: a bijection on 32-bit integers that looks random."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    h ^= h >> 16
    return h


def hex_id(seed: int, family: str, index: int, width: int = 8) -> str:
    """A random-looking hex id, unique within ``family`` for index < 2**32.

    Unique because the mixing function is a bijection, so no collision check
    (and no set of issued ids in memory) is needed.
    """
    key = (index ^ _fmix32((seed ^ zlib.crc32(family.encode())) & _MASK32)) & _MASK32
    return format(_fmix32(key), f"0{width}x")[-width:]
