"""The chip-random benchmark workload gives brian2-loihi's spike counts exactly."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import chip_random  # noqa: E402

import neurochip as nc  # noqa: E402


def spikes(N: int, backend: str = "cython") -> tuple[int, nc.ChipProgram]:
    program = nc.compile_network(chip_random.build_network(N, 64), limits="report")
    with nc.Simulator(program, backend=backend) as sim:
        sim.run(1000)
        return sim.results.total_spikes, program


@pytest.mark.parametrize("N", [1024, 16384])
def test_chip_random_spike_counts(N):
    count, program = spikes(N)
    assert count == chip_random.EXPECTED_SPIKES[N]
    assert program.n_cores == N // 1024


@pytest.mark.slow
def test_chip_random_full_chip():
    count, program = spikes(131072)
    assert count == 1823380 and program.n_cores == 128 and program.n_chips_used == 1


def test_brian2_prefs_are_restored():
    import brian2

    brian2.prefs.codegen.target = "numpy"
    spikes(1024, backend="cython")
    assert brian2.prefs.codegen.target == "numpy"
