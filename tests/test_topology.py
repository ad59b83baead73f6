"""Chips, boards and presets."""

import numpy as np
import pytest
from neurochip.routing.topology import BOARDS, LOIHI1_CHIP, custom_board

import neurochip as nc


@pytest.mark.parametrize(
    "name,chips,dims",
    [
        ("loihi1", 1, 2),
        ("kapoho-bay", 2, 2),
        ("nahuku", 32, 2),
        ("pohoiki-beach", 64, 2),
        ("pohoiki-springs", 768, 2),
        ("hala-point", 1152, 3),
    ],
)
def test_board_presets(name, chips, dims):
    b = BOARDS[name]
    assert b.n_chips == chips and len(b.mesh) == dims
    coords = b.chip_coords(np.arange(b.n_chips))
    assert len({tuple(c) for c in coords}) == chips  # every chip has its own mesh position
    assert b.chip.generation == (2 if name == "hala-point" else 1)


def test_loihi1_chip_layout():
    assert LOIHI1_CHIP.cores_per_chip == 128 and LOIHI1_CHIP.n_tiles == 32
    x, y = LOIHI1_CHIP.tile_xy(np.arange(128))
    assert (x.max(), y.max()) == (7, 3)
    assert np.bincount(y * 8 + x).tolist() == [4] * 32


def test_custom_board_and_compile_on_boards():
    b = custom_board((3, 2))
    assert b.n_chips == 6 and b.diameter == 3
    with nc.Network() as net:
        nc.Population(2000)
    p = nc.compile_network(net, board="nahuku")
    assert (p.board, p.board_mesh, p.n_chips) == ("nahuku", (4, 8), 32)
    p = nc.compile_network(net, board=b)
    assert p.board_spec().mesh == (3, 2)
    p = nc.compile_network(net, board="hala-point")
    assert p.preset == "loihi2" and p.n_cores == 1  # 8,192 compartments per Loihi 2 core
    p = nc.compile_network(net, board=custom_board((2, 2), "loihi2"))
    assert p.preset == "loihi2" and p.n_cores == 1  # a custom board's chips set the preset too
    with pytest.raises(nc.ValidationError, match="board 'nahuku' has 32 chips; chips=2 disagrees"):
        nc.compile_network(net, board="nahuku", chips=2)
    with pytest.raises(nc.ValidationError, match="board: 'big' is not one of"):
        nc.compile_network(net, board="big")
