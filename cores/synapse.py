"""Synapse encoding: stored weight mantissas, synapse formats, what changed.

The weight rules themselves (clip, drop bits, exponent) are in
:mod:`neurochip.cores.fixedpoint`; this module applies them to a projection and
keeps the record DESIGN.md section 5 asks for: how many weights the hardware
cannot represent exactly, and the worst error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from neurochip.cores.fixedpoint import (
    SIGN_MODES,
    representable_weights,
    weight_range,
)

SIGN_MODE_CODE = {m: i for i, m in enumerate(SIGN_MODES)}


@dataclass(frozen=True)
class WeightReport:
    """Weights of one projection that the hardware stores differently than given.

    Errors are in mantissa units (before the weight exponent).
    """

    projection: str
    sign_mode: str
    num_weight_bits: int
    n_synapses: int
    n_changed: int
    n_clipped: int
    max_abs_error: int
    max_rel_error: float

    def __str__(self) -> str:
        fmt = f"{self.sign_mode}, {self.num_weight_bits} bits"
        if not self.n_changed:
            return f"{self.projection}: all {self.n_synapses} weights exact ({fmt})"
        return (
            f"{self.projection}: {self.n_changed} of {self.n_synapses} weights not representable "
            f"({self.n_clipped} clipped; worst error {self.max_abs_error} mantissa units, "
            f"{self.max_rel_error:.1%}; {fmt})"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def encode_weights(
    name: str, w: np.ndarray, sign_mode: str, num_weight_bits: int
) -> tuple[np.ndarray, WeightReport]:
    """Stored mantissas for weights ``w`` and the record of what changed."""
    w = np.asarray(w, dtype=np.int64)
    stored = representable_weights(w, sign_mode, num_weight_bits)
    err = np.abs(stored - w)
    changed = err != 0
    lo, hi = weight_range(sign_mode)
    rel = np.where(w != 0, err / np.maximum(np.abs(w), 1), 0.0)
    report = WeightReport(
        projection=name,
        sign_mode=sign_mode,
        num_weight_bits=int(num_weight_bits),
        n_synapses=int(w.size),
        n_changed=int(changed.sum()),
        n_clipped=int(((w < lo) | (w > hi)).sum()),
        max_abs_error=int(err.max(initial=0)),
        max_rel_error=float(rel.max(initial=0.0)),
    )
    return stored, report


@dataclass(frozen=True)
class SynapseFormat:
    """A core's synapse format: how its synapses are stored and scaled."""

    sign_mode: str
    num_weight_bits: int
    weight_exp: int
    delay_bits: int
    learning: bool = False

    def key(self) -> tuple:
        mode = SIGN_MODE_CODE[self.sign_mode]
        return (mode, self.num_weight_bits, self.weight_exp, self.delay_bits, self.learning)


def delay_bits(max_delay: int) -> int:
    """Bits a format needs to store delays up to ``max_delay`` (0 when all are 0)."""
    return int(max_delay).bit_length()
