"""Chips, boards and where every core sits on them.

A chip is a mesh of tiles with a few cores each; a board is a mesh of chips
(2-D for Loihi 1 boards, 3-D for Loihi 2 systems). Cores are numbered
``chip * cores_per_chip + core``; within a chip, core k sits in tile
``k // cores_per_tile`` and tiles are numbered row-major (x fastest).

Loihi 1 (Davies et al. 2018; SANA-FE's calibrated model): 128 cores on an
8 x 4 tile mesh, 4 cores per tile. Boards: Kapoho Bay (2 chips), Nahuku (32 =
4 x 8), Pohoiki Beach (64 = 8 x 8), Pohoiki Springs (768 = 12 x 64, Frady et
al. 2020). Loihi 2 (second preset, clearly marked: its tile layout is not
published; 128 cores of 8,192 compartments on the same 8 x 4 x 4 layout is
an assumption) with Hala Point (1,152 chips, taken as an 8 x 12 x 12 3-D mesh).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np


@dataclass(frozen=True)
class ChipSpec:
    """A chip: a ``tiles[0] x tiles[1]`` mesh of tiles with ``cores_per_tile`` cores each."""

    name: str
    tiles: tuple[int, int]
    cores_per_tile: int
    compartments_per_core: int = 1024
    generation: int = 1

    @property
    def cores_per_chip(self) -> int:
        return self.tiles[0] * self.tiles[1] * self.cores_per_tile

    @property
    def n_tiles(self) -> int:
        return self.tiles[0] * self.tiles[1]

    def tile_xy(self, core) -> tuple[np.ndarray, np.ndarray]:
        """Tile coordinates (x, y) of core index(es) within the chip."""
        tile = np.asarray(core) // self.cores_per_tile
        return tile % self.tiles[0], tile // self.tiles[0]


@dataclass(frozen=True)
class BoardSpec:
    """A board: a mesh of ``mesh`` chips (x fastest), 2-D or 3-D."""

    name: str
    chip: ChipSpec
    mesh: tuple[int, ...]

    @property
    def n_chips(self) -> int:
        return prod(self.mesh)

    @property
    def n_cores(self) -> int:
        return self.n_chips * self.chip.cores_per_chip

    @property
    def diameter(self) -> int:
        """Chip hops between the two farthest chips."""
        return sum(m - 1 for m in self.mesh)

    def chip_coords(self, chip) -> np.ndarray:
        """Mesh coordinates of chip index(es): shape (..., len(mesh))."""
        chip = np.asarray(chip)
        out, rest = [], chip
        for m in self.mesh:
            out.append(rest % m)
            rest = rest // m
        return np.stack(out, axis=-1)


LOIHI1_CHIP = ChipSpec("loihi1", (8, 4), 4, 1024, 1)
LOIHI2_CHIP = ChipSpec("loihi2", (8, 4), 4, 8192, 2)  # second preset: layout assumed

CHIPS: dict[str, ChipSpec] = {"loihi1": LOIHI1_CHIP, "loihi2": LOIHI2_CHIP}
BOARDS: dict[str, BoardSpec] = {
    "loihi1": BoardSpec("loihi1", LOIHI1_CHIP, (1, 1)),
    "kapoho-bay": BoardSpec("kapoho-bay", LOIHI1_CHIP, (2, 1)),
    "nahuku": BoardSpec("nahuku", LOIHI1_CHIP, (4, 8)),
    "pohoiki-beach": BoardSpec("pohoiki-beach", LOIHI1_CHIP, (8, 8)),
    "pohoiki-springs": BoardSpec("pohoiki-springs", LOIHI1_CHIP, (12, 64)),
    "loihi2": BoardSpec("loihi2", LOIHI2_CHIP, (1, 1, 1)),
    "hala-point": BoardSpec("hala-point", LOIHI2_CHIP, (8, 12, 12)),
}


def mesh_board(n_chips: int, chip: ChipSpec = LOIHI1_CHIP) -> BoardSpec:
    """The default board for ``n_chips`` chips without a named board: a row of chips."""
    return BoardSpec(f"row-{n_chips}", chip, (n_chips, 1))


def custom_board(mesh, chip: ChipSpec | str = LOIHI1_CHIP, name: str | None = None) -> BoardSpec:
    """Any 2-D or 3-D mesh of chips, e.g. ``custom_board((4, 4))``."""
    mesh = tuple(int(m) for m in mesh)
    if len(mesh) not in (2, 3) or min(mesh) < 1:
        raise ValueError(f"board mesh {mesh!r}: expected 2 or 3 positive sizes")
    chip = CHIPS[chip] if isinstance(chip, str) else chip
    return BoardSpec(name or "x".join(map(str, mesh)), chip, mesh)
