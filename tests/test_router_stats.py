"""Router statistics of a run: message counts from routing tables, continuation, files."""

import numpy as np
from netgen import random_network

import neurochip as nc


def test_router_stats_of_a_run(rng, tmp_path):
    net = random_network(rng, n_pops=3, size=(20, 40), steps=60)
    prog = nc.compile_network(net, allocator="roundrobin", chips=2)
    with nc.Simulator(prog, backend="numpy", router=True) as sim:
        sim.run(25)
        sim.run(35)
        r = sim.results
        steps, cx = sim._backend.spikes()
    with nc.Simulator(prog, backend="numpy", router=True) as sim:
        sim.run(60)
        one = sim.results.router
    stats = r.router
    assert stats.steps == 60
    # one message per (spiking source, destination core)
    routes = np.diff(prog.route_start)
    inputs = np.concatenate([i.source_start + np.asarray(i.indices) for i in prog.inputs])
    in_steps = np.concatenate([np.asarray(i.steps) for i in prog.inputs])
    for t in (1, 17, 60):
        want = routes[cx[steps == t]].sum() + routes[inputs[in_steps == t]].sum()
        assert stats.per_step["messages"][t - 1] == want
    assert stats.per_step["chip_hops"].sum() > 0  # two chips talk
    assert (stats.per_step["step_ps"] > stats.per_step["barrier_ps"]).all()
    for key in stats.per_step:  # continued runs give the same statistics as one run
        np.testing.assert_array_equal(stats.per_step[key], one.per_step[key])
    for key in stats.energy_pj:
        np.testing.assert_allclose(stats.energy_pj[key], one.energy_pj[key])
    assert "assumed (unpublished): chip_hop_ps" in stats.summary()
    back = nc.Results.load(r.save(tmp_path / "r.h5")).router
    np.testing.assert_array_equal(back.link_load, stats.link_load)
    assert back.link_names == stats.link_names and back.busiest.tolist() == stats.busiest.tolist()
