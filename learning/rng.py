"""Counter-based integer random numbers for stochastic rounding.

A value is a pure function of (seed, stream, projection, id, step): the
SplitMix64 finaliser applied to the key, one round per key part. Nothing
depends on the order of evaluation, so results do not depend on how the
network is split over cores, chips or processes.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)

# streams: one per rounded quantity
DECAY = {"x1": 1, "x2": 2, "y1": 3, "y2": 4, "y3": 5}
IMPULSE = {"x1": 11, "x2": 12, "y1": 13, "y2": 14, "y3": 15}
UPDATE = {"w": 21, "d": 22, "t": 23}


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def random_bits(seed: int, stream: int, projection: int, ids, step: int, bits: int) -> np.ndarray:
    """Uniform integers in [0, 2**bits), one per id, as int64."""
    with np.errstate(over="ignore"):
        z = _mix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLD + np.uint64(stream))
        z = _mix(z ^ (np.uint64(projection) * _GOLD))
        z = _mix(z ^ (np.uint64(step) * _M1))
        z = _mix(z ^ (np.asarray(ids, np.uint64) * _GOLD))
    return (z >> np.uint64(64 - bits)).astype(np.int64)
