"""Distributed runs: two MPI ranks give the results of one process, and fail together."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.mpi

HERE = Path(__file__).parent
JOB = HERE / "mpi_job.py"
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable))


def mpirun(ranks, *args, timeout=240):
    if MPIEXEC is None:
        pytest.fail("mpiexec is missing: install the mpi extra (pip install -e '.[dev,mpi]')")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [MPIEXEC, "-n", str(ranks), sys.executable, str(JOB), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.perf_counter() - t0


@pytest.mark.parametrize("learn", [False, True], ids=["static", "plastic"])
def test_two_ranks_match_one_process(tmp_path, learn):
    """Spikes, probes (learned weights too) and router statistics (learning energy too)."""
    import mpi_job

    one = {k: np.asarray(v) for k, v in mpi_job.flatten(*_run_alone(learn)).items()}
    proc, _ = mpirun(2, tmp_path / "two.npz", *(["learn"] if learn else []))
    assert proc.returncode == 0, proc.stderr
    two = dict(np.load(tmp_path / "two.npz"))
    assert int(two.pop("ranks")) == 2
    assert sorted(one) == sorted(two)
    assert one["router/messages"].sum() > 0 and one["router/chip_hops"].sum() > 0
    assert sum(v.sum() for k, v in one.items() if k.startswith("count/")) > 0
    for key in one:
        np.testing.assert_array_equal(two[key], one[key], err_msg=key)
    if learn:
        for k in range(3):
            w = one[f"wl{k}/data"]
            assert (w[0] != w[-1]).sum() > 100, f"plastic{k} hardly learned"
        assert one["energy/learning_updates"].sum() > 0
        np.testing.assert_array_equal(two["learned"], one["learned"])


def _run_alone(learn=False):
    import mpi_job

    import neurochip as nc

    with nc.Simulator(mpi_job.program(learn), router=True) as sim:
        sim.run(30)
        sim.run(50)
        assert sim.ranks == 1 and sim.is_root
        return sim.results, (mpi_job.learned(sim) if learn else None)


def test_a_failing_rank_stops_every_rank(tmp_path):
    proc, seconds = mpirun(2, tmp_path / "never.npz", "raise", timeout=120)
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr
    assert not (tmp_path / "never.npz").exists()
    assert seconds < 60


def test_rank_ranges_split_whole_chips():
    import mpi_job
    from neurochip.cores.brian2_mpi import rank_range

    from neurochip.errors import BackendError

    prog = mpi_job.program()
    chips = np.asarray(prog.arrays["core_chip"])
    starts = prog.arrays["core_cx_start"]
    for size in (1, 2, 3):
        bounds = [rank_range(prog, r, size)[:2] for r in range(size)]
        assert bounds[0][0] == 0 and bounds[-1][1] == prog.n_compartments
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))  # contiguous
        for lo, hi in bounds:  # whole chips: no chip has compartments on both sides of a boundary
            cores = np.flatnonzero((starts[:-1] >= lo) & (starts[:-1] < hi))
            assert not np.isin(chips[cores], np.delete(chips, cores)).any()
    with pytest.raises(BackendError, match="at most 3 rank"):
        rank_range(prog, 0, 4)
