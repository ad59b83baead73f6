"""The kernel's profiling build (benchmarks/router_phases.py): same results, every phase timed."""

import sys
from pathlib import Path

import numpy as np
import pytest
from neurochip.routing.kernel import PHASES, threads
from neurochip.routing.router import RouterModel
from neurochip.routing.topology import BOARDS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from router import traffic  # noqa: E402
from router_phases import profiling_kernel  # noqa: E402


def test_the_profiling_build_gives_the_same_results_and_times_each_phase():
    board = BOARDS["nahuku"]
    plain, profiled = RouterModel(board), RouterModel(board)
    profiled._kernel = profiling_kernel()
    rng = np.random.default_rng(3)
    ready = np.full(board.n_cores, 8_000_000, np.int64)
    step = traffic(rng, board, 100_000, 0.8, 0.15, 8_000_000)
    phases = np.zeros((threads(), len(PHASES)), np.int64)
    out = profiled.simulate(*step, ready, per_message=True, phases=phases)
    ref = plain.simulate(*step, ready, per_message=True)
    for key, value in ref.items():
        assert np.array_equal(value, out[key]), key
    assert (phases >= 0).all()
    for name in ("planning", "injections", "tile chains", "chip links", "cores"):
        assert phases[0, PHASES.index(name)] > 0, name
    # the plain build has no timers: it leaves the array alone
    untouched = np.zeros_like(phases)
    plain.simulate(*step, ready, per_message=False, phases=untouched)
    assert not untouched.any()
    # an array of another size than threads x the kernel's phases is refused, not written past
    short = np.zeros((threads(), len(PHASES) - 1), np.int64)
    with pytest.raises(ValueError, match="phases"):
        plain.simulate(*step, ready, per_message=False, phases=short)
