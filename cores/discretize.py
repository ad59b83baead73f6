"""Float-to-integer conversion: the one place where real numbers become registers.

Time constants are in steps (dt = 1 step). Decays follow the convention of
Lava, brian2-loihi and the snnTorch/NIR exporters: the effective decay is
``round(4096 / tau)``, so ``tau = 4096 / decay`` steps. Every conversion records
what it asked for, what the hardware will do, and the relative error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from neurochip.cores.fixedpoint import (
    DECAY_UNITY,
    REGISTERS,
    VTH_SHIFT,
)

from neurochip.errors import ValidationError


@dataclass(frozen=True)
class Rounding:
    """One float-to-integer conversion: requested vs realised value."""

    quantity: str
    requested: float
    realised: float
    registers: dict

    @property
    def rel_error(self) -> float:
        if self.requested == 0:
            return 0.0 if self.realised == 0 else float("inf")
        return abs(self.realised - self.requested) / abs(self.requested)

    def __str__(self) -> str:
        regs = ", ".join(f"{k}={v}" for k, v in self.registers.items())
        return (
            f"{self.quantity}: requested {self.requested:.6g}, realised {self.realised:.6g} "
            f"(rel. error {self.rel_error:.2e}; {regs})"
        )


@dataclass
class DiscretizationReport:
    """What a float-unit constructor rounded, one :class:`Rounding` per quantity."""

    entries: list[Rounding] = field(default_factory=list)

    def add(self, entry: Rounding) -> None:
        self.entries.append(entry)

    @property
    def max_rel_error(self) -> float:
        return max((e.rel_error for e in self.entries), default=0.0)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.entries)


def decay_from_tau(quantity: str, tau, offset: int) -> tuple[int, Rounding]:
    """Register value of a decay with time constant ``tau`` steps (inf = no decay).

    ``offset`` is the decay offset register (ds_offset or dm_offset) the
    hardware adds to the register value.
    """
    tau = float(tau)
    if not tau > 0:
        raise ValidationError(f"{quantity}: time constant must be > 0 steps, got {tau}")
    effective = 0 if np.isinf(tau) else int(np.clip(round(DECAY_UNITY / tau), offset, DECAY_UNITY))
    reg = REGISTERS["du" if quantity == "tau_u" else "dv"]
    register = int(np.clip(effective - offset, reg.low, reg.high))
    effective = register + offset
    realised = float("inf") if effective == 0 else DECAY_UNITY / effective
    name = "du" if quantity == "tau_u" else "dv"
    return register, Rounding(quantity, tau, realised, {name: register})


def threshold_from_float(threshold: float, unit: float) -> tuple[int, Rounding]:
    """``vth_mant`` for a threshold of ``threshold * unit`` voltage units."""
    target = float(threshold) * unit
    reg = REGISTERS["vth_mant"]
    mant = int(round(target / (1 << VTH_SHIFT)))
    if not reg.low <= mant <= reg.high:
        raise ValidationError(
            f"threshold: {threshold} x unit {unit} needs vth_mant {mant}, out of range "
            f"[{reg.low}, {reg.high}] ({reg.meaning}); choose a smaller unit"
        )
    return mant, Rounding("threshold", target, float(mant << VTH_SHIFT), {"vth_mant": mant})


def bias_from_float(bias: float, unit: float) -> tuple[int, int, Rounding]:
    """``(bias_mant, bias_exp)`` for a per-step bias of ``bias * unit`` voltage units.

    Uses the smallest exponent whose mantissa fits, which keeps the most precision.
    """
    target = float(bias) * unit
    mreg, ereg = REGISTERS["bias_mant"], REGISTERS["bias_exp"]
    for exp in range(ereg.low, ereg.high + 1):
        mant = int(round(target / (1 << exp)))
        if mreg.low <= mant <= mreg.high:
            realised = float(mant << exp)
            return mant, exp, Rounding("bias", target, realised, {"bias_mant": mant, "bias_exp": exp})
    raise ValidationError(
        f"bias: {bias} x unit {unit} = {target:.6g} exceeds the largest bias "
        f"{mreg.high << ereg.high}; choose a smaller unit"
    )
