"""Chip topology: how many cores a chip has and how they sit on its tile mesh.

Loihi 1 (Davies et al. 2018; SANA-FE's calibrated model): 128 neuromorphic
cores on an 8 x 4 mesh of tiles with 4 cores each. Boards and the router that
moves spikes over this mesh build on these shapes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChipSpec:
    """A chip: a mesh of ``tiles[0] x tiles[1]`` tiles with ``cores_per_tile`` cores each."""

    name: str
    tiles: tuple[int, int]
    cores_per_tile: int

    @property
    def cores_per_chip(self) -> int:
        return self.tiles[0] * self.tiles[1] * self.cores_per_tile


LOIHI1_CHIP = ChipSpec("loihi1", (8, 4), 4)
