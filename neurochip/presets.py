"""Hardware presets: a chip shape plus the limits of its cores, chosen by name; boards by name."""

from __future__ import annotations

from dataclasses import dataclass, replace

from neurochip.cores.resources import LOIHI1_CORE, CoreLimits
from neurochip.errors import ValidationError
from neurochip.routing.topology import BOARDS, LOIHI1_CHIP, LOIHI2_CHIP, BoardSpec, ChipSpec, mesh_board


@dataclass(frozen=True)
class Preset:
    name: str
    chip: ChipSpec
    core: CoreLimits

    @property
    def cores_per_chip(self) -> int:
        return self.chip.cores_per_chip


# Loihi 2 is the second, clearly marked preset: 8,192 compartments per core (Intel); its other
# per-core limits are not published and are taken from Loihi 1 (an assumption).
PRESETS: dict[str, Preset] = {
    "loihi1": Preset("loihi1", LOIHI1_CHIP, LOIHI1_CORE),
    "loihi2": Preset(
        "loihi2", LOIHI2_CHIP, replace(LOIHI1_CORE, compartments=LOIHI2_CHIP.compartments_per_core)
    ),
}


def get_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValidationError(f"preset: {preset!r} is not one of {sorted(PRESETS)}") from None


def board_spec(board: str | BoardSpec) -> BoardSpec:
    """A board by name, or the given BoardSpec."""
    if isinstance(board, str):
        try:
            return BOARDS[board]
        except KeyError:
            raise ValidationError(f"board: {board!r} is not one of {sorted(BOARDS)}") from None
    if not isinstance(board, BoardSpec):
        raise ValidationError(f"board: expected a board name or BoardSpec, got {board!r}")
    return board


def get_board(board: str | BoardSpec | None, chips: int | None, preset: Preset) -> BoardSpec | None:
    """The board a network is compiled for (None: as many chips as the placement needs)."""
    if board is None:
        return None if chips is None else mesh_board(chips, preset.chip)
    board = board_spec(board)
    if board.chip != preset.chip:
        raise ValidationError(f"board {board.name!r} has {board.chip.name} chips, not {preset.chip.name}")
    if chips is not None and chips != board.n_chips:
        raise ValidationError(f"board {board.name!r} has {board.n_chips} chips; chips={chips} disagrees")
    return board
