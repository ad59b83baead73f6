"""Bit widths, register ranges and integer arithmetic of a Loihi 1 core.

This module owns every hardware number of the compartment and synapse model
(DESIGN.md section 5). Everything else imports these names; nothing else
spells them out.

All functions work elementwise on integer numpy arrays (or Python ints) and
return ``int64`` arrays. They are the vectorised bit-level definitions used at
compile time and by the numpy target of the Brian2 backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------- widths
DECAY_BITS = 12
DECAY_UNITY = 1 << DECAY_BITS  # 4096: a decay of 4096 clears the variable in one step
Q_BITS = 22  # dendritic accumulator, signed, wraps
U_BITS = 24  # synaptic current, signed, wraps
V_BITS = 24  # membrane voltage, signed, saturates at vmin/vmax
VTH_SHIFT = 6  # threshold = vth_mant * 2**6
WEIGHT_SHIFT = 6  # every synaptic input is aligned by 2**6 ("MSB alignment")
WEIGHT_MANT_BITS = 8  # stored weight mantissa (plus sign in mixed mode)

# ---------------------------------------------------------- register ranges


@dataclass(frozen=True)
class Register:
    """An integer hardware register: its allowed range and what it means."""

    low: int
    high: int
    meaning: str

    def contains(self, x) -> np.ndarray:
        x = np.asarray(x)
        return (x >= self.low) & (x <= self.high)


REGISTERS: dict[str, Register] = {
    "du": Register(0, DECAY_UNITY - 1, "12-bit current decay"),
    "dv": Register(0, DECAY_UNITY - 1, "12-bit voltage decay"),
    "ds_offset": Register(0, 1, "1-bit current decay offset"),
    "dm_offset": Register(0, 1, "1-bit voltage decay offset"),
    "vth_mant": Register(0, (1 << 17) - 1, "17-bit threshold mantissa"),
    "bias_mant": Register(-(1 << 12), (1 << 12) - 1, "13-bit signed bias mantissa"),
    "bias_exp": Register(0, 7, "3-bit bias exponent"),
    "refractory": Register(1, 63, "6-bit refractory delay, 1 = none"),
    "vmin_exp": Register(0, 23, "vmin = -2**k + 1"),
    "vmax_exp": Register(0, 7, "vmax = 2**(9 + 2k) - 1"),
    "u_init": Register(-(1 << (U_BITS - 1)), (1 << (U_BITS - 1)) - 1, "24-bit signed current"),
    "v_init": Register(-(1 << (V_BITS - 1)) + 1, (1 << (V_BITS - 1)) - 1, "24-bit voltage"),
    "weight_exp": Register(-8, 7, "4-bit signed weight exponent"),
    "num_weight_bits": Register(1, WEIGHT_MANT_BITS, "weight precision in bits"),
    "delay": Register(0, 62, "6-bit synaptic delay in steps"),
}

# Defaults follow Lava's bit-accurate LIF (ds_offset=1 lets the effective
# current decay reach 4096) and the widest voltage range.
REGISTER_DEFAULTS: dict[str, int] = {
    "du": 0,
    "dv": 0,
    "ds_offset": 1,
    "dm_offset": 0,
    "vth_mant": 10,
    "bias_mant": 0,
    "bias_exp": 0,
    "refractory": 1,
    "vmin_exp": 23,
    "vmax_exp": 7,
    "u_init": 0,
    "v_init": 0,
}

SIGN_MODES = ("mixed", "excitatory", "inhibitory")

# ------------------------------------------------------------- arithmetic


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def wrap_signed(x, bits: int) -> np.ndarray:
    """Two's-complement wrap of ``x`` into ``[-2**(bits-1), 2**(bits-1) - 1]``."""
    x = _i64(x)
    half = np.int64(1) << np.int64(bits - 1)
    return ((x + half) & (2 * half - 1)) - half


def rtz_decay(x, decay) -> np.ndarray:
    """``sign(x) * ((|x| * (4096 - decay)) >> 12)``: decay rounding toward zero.

    ``decay`` is the effective decay (register plus offset), in [0, 4096].
    """
    x = _i64(x)
    kept = _i64(DECAY_UNITY) - _i64(decay)
    return np.sign(x) * ((np.abs(x) * kept) >> DECAY_BITS)


def clamp(x, low, high) -> np.ndarray:
    return np.minimum(np.maximum(_i64(x), _i64(low)), _i64(high))


def vmin_from_exp(k) -> np.ndarray:
    """Lower voltage bound of a core: ``-2**k + 1``."""
    return -(np.int64(1) << _i64(k)) + 1


def vmax_from_exp(k) -> np.ndarray:
    """Upper voltage bound of a core: ``2**(9 + 2k) - 1``."""
    return (np.int64(1) << (9 + 2 * _i64(k))) - 1


def bias_value(mant, exp) -> np.ndarray:
    """Bias added to v every step: ``bias_mant * 2**bias_exp``."""
    return _i64(mant) << _i64(exp)


def threshold_value(vth_mant) -> np.ndarray:
    """Spike when ``v > vth_mant * 2**6``."""
    return _i64(vth_mant) << VTH_SHIFT


# ------------------------------------------------------------------ weights


def weight_range(sign_mode: str) -> tuple[int, int]:
    """Representable mantissa range before precision truncation (Lava's clip)."""
    if sign_mode == "mixed":
        return -256, 255
    if sign_mode == "excitatory":
        return 0, 255
    if sign_mode == "inhibitory":
        return -255, 0
    raise ValueError(f"unknown sign mode {sign_mode!r}; expected one of {SIGN_MODES}")


def weight_drop_bits(sign_mode: str, num_weight_bits: int) -> int:
    """Low mantissa bits dropped: ``8 - num_weight_bits + is_mixed``."""
    return WEIGHT_MANT_BITS - int(num_weight_bits) + int(sign_mode == "mixed")


def representable_weights(w, sign_mode: str, num_weight_bits: int) -> np.ndarray:
    """Mantissas as the hardware stores them: clip, then drop low bits.

    Dropping uses an arithmetic shift, so negative mantissas round toward -inf,
    exactly as Lava's ``truncate_weights``.
    """
    lo, hi = weight_range(sign_mode)
    n = weight_drop_bits(sign_mode, num_weight_bits)
    w = np.clip(_i64(w), lo, hi)
    return (w >> n) << n


def effective_weight(w_mant, weight_exp) -> np.ndarray:
    """What one synaptic event adds to q: ``floor(w * 2**weight_exp) * 2**6``."""
    w = _i64(w_mant)
    e = _i64(weight_exp)
    scaled = np.where(e >= 0, w << np.maximum(e, 0), w >> np.maximum(-e, 0))
    return scaled << WEIGHT_SHIFT


def resolve_sign_mode(w) -> str:
    """Lava's rule when no sign mode is given: the weights' signs decide."""
    w = np.asarray(w)
    if w.size == 0 or w.min() >= 0:
        return "excitatory"
    if w.max() <= 0:
        return "inhibitory"
    return "mixed"
