"""Checkpoint and resume: a run stopped and resumed equals an uninterrupted one, bit for bit."""

import numpy as np
import pytest
from test_netio import rich_network

import neurochip as nc
from neurochip.errors import FileFormatError

STEPS = 60


def assert_same_results(a, b):
    assert a.steps == b.steps
    for name, counts in a.spike_counts.items():
        np.testing.assert_array_equal(counts, b.spike_counts[name])
    assert set(a.probes) == set(b.probes)
    for name, pa in a.probes.items():
        pb = b.probes[name]
        for field in ("steps", "index", "data", "indices"):
            if hasattr(pa, field):
                got, want = getattr(pb, field), getattr(pa, field)
                np.testing.assert_array_equal(got, want, err_msg=f"{name}.{field}")
    if a.router is not None:
        for k, v in a.router.per_step.items():
            np.testing.assert_array_equal(v, b.router.per_step[k], err_msg=k)
        for k, v in a.router.energy_pj.items():
            np.testing.assert_array_equal(v, b.router.energy_pj[k], err_msg=k)


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_resumed_run_is_bit_identical(tmp_path, backend):
    net = rich_network(np.random.default_rng(5))
    with nc.Simulator(net, backend=backend, seed=9, router=True) as sim:
        sim.run(STEPS)
        whole = sim.results
        learned = {p.name: sim.weights(p) for p in net.projections}
    with nc.Simulator(net, backend=backend, seed=9, router=True) as sim:
        sim.run(23)  # mid-epoch for the t_epoch=2 rule, spikes queued in delays
        sim.checkpoint(tmp_path / "c.h5")
        sim.run(5)  # what happens after the checkpoint is lost
    with nc.Simulator.restore(tmp_path / "c.h5", backend=backend) as sim:
        assert sim.steps == 23
        sim.run(STEPS - 23 - 10)
        sim.checkpoint(tmp_path / "c.h5")  # a second checkpoint over the first
    with nc.Simulator.restore(tmp_path / "c.h5", backend=backend) as sim:
        sim.run(10)
        resumed = sim.results
        for p in net.projections:
            np.testing.assert_array_equal(sim.weights(p.name), learned[p.name], err_msg=p.name)
    assert_same_results(whole, resumed)
    assert whole.total_spikes > 0 and np.any(whole["w_in_a"].data[0] != whole["w_in_a"].data[-1])


def test_bad_checkpoints_give_clear_errors(tmp_path):
    net = rich_network(np.random.default_rng(1))
    with nc.Simulator(net, backend="numpy") as sim:
        sim.run(5)
        path = sim.checkpoint(tmp_path / "c.h5")
    data = open(path, "rb").read()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(FileFormatError):
        nc.Simulator.restore(tmp_path / "cut.h5")
    net.save(tmp_path / "net.h5")
    with pytest.raises(FileFormatError, match="expected a neurochip checkpoint file"):
        nc.Simulator.restore(tmp_path / "net.h5")
