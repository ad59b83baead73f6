"""Hardware presets: a chip shape plus the limits of its cores, chosen by name."""

from __future__ import annotations

from dataclasses import dataclass

from neurochip.cores.resources import LOIHI1_CORE, CoreLimits
from neurochip.errors import ValidationError
from neurochip.routing.topology import LOIHI1_CHIP, ChipSpec


@dataclass(frozen=True)
class Preset:
    name: str
    chip: ChipSpec
    core: CoreLimits

    @property
    def cores_per_chip(self) -> int:
        return self.chip.cores_per_chip


PRESETS: dict[str, Preset] = {"loihi1": Preset("loihi1", LOIHI1_CHIP, LOIHI1_CORE)}


def get_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValidationError(f"preset: {preset!r} is not one of {sorted(PRESETS)}") from None
