"""The cpp_standalone backend: same values as the reference, continuation, device restored."""

import numpy as np
import pytest
from netgen import probed_traces, random_network
from reference import simulate
from test_reference_match import add_wrap_driver

import neurochip as nc

pytestmark = pytest.mark.standalone
STEPS = 90


def test_standalone_matches_reference_and_continues(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCHIP_CACHE", str(tmp_path))
    rng = np.random.default_rng(77)
    net = random_network(rng, steps=STEPS, extreme=True)
    add_wrap_driver(net, STEPS)
    with nc.Simulator(net, backend="cpp_standalone") as sim:
        sim.run(40)
        sim.run(STEPS - 40)  # re-simulates 90 steps in the same (incrementally rebuilt) project
        res = sim.results
        assert res.metadata["backend_net_run_s"] >= 0
    ru, rv, rs = simulate(net, STEPS)
    u, v, s = probed_traces(res, net)
    np.testing.assert_array_equal(s, rs)
    np.testing.assert_array_equal(u, ru)
    np.testing.assert_array_equal(v, rv)
    assert rs.sum() > 0
    assert any((tmp_path / "standalone").iterdir())
    # the runtime device is back: a cython run in the same process still works
    with nc.Simulator(net, backend="numpy") as sim:
        sim.run(STEPS)
        np.testing.assert_array_equal(probed_traces(sim.results, net)[2], rs)
