"""Plastic networks on the Brian2 backend: reference match, placement independence, seeds."""

import numpy as np
import pytest
from netgen import probed_traces, random_network
from neurochip.learning import LearningRule, pair_stdp, reward_stdp
from reference import simulate

import neurochip as nc

STEPS = 100


def plastic_network(rng, rounding="nearest", t_epoch=2, delay_rule=False, weight_delays=False):
    """A random network (all compartments probed) with plastic projections, a reward-modulated one
    and, optionally, delay learning."""
    net = random_network(rng, n_pops=2, size=(20, 35), steps=STEPS)
    a, b = net.populations
    inp = net.inputs[0]
    with net:
        reward = nc.SpikeInput(1, raster=rng.random((STEPS, 1)) < 0.2, name="reward")
        stdp = LearningRule(
            dw="2^-2*x1*y0 - 2^-3*y1*x0 + 2^-6*u1*(w - 20)",
            x1_impulse=40.5,
            x1_tau=6,
            y1_impulse=30,
            y1_tau=10,
            t_epoch=t_epoch,
            rounding=rounding,
        )
        w = rng.integers(-40, 80, (b.n, a.n)) * (rng.random((b.n, a.n)) < 0.4)
        delay = rng.integers(0, 4, (b.n, a.n)) if weight_delays else 0
        nc.Projection(a, b, w, learning_rule=stdp, delay=delay, name="plastic_ab")
        three = reward_stdp(t_epoch=t_epoch, rounding=rounding, weight_rate=2**-4)
        nc.Projection(
            inp,
            a,
            rng.integers(0, 120, (a.n, inp.n)),
            learning_rule=three,
            modulators={"y2": reward},
            sign_mode="excitatory",
            name="plastic_in_a",
        )
        if delay_rule:
            dd = LearningRule(
                dw="2^-3*x1*y0",
                dd="2^-2*y1*x0 - 2^-3*x1*y0",
                x1_impulse=60,
                x1_tau=5,
                y1_impulse=60,
                y1_tau=5,
                t_epoch=t_epoch,
                rounding=rounding,
            )
            nc.Projection(
                b,
                a,
                rng.integers(-30, 60, (a.n, b.n)) * (rng.random((a.n, b.n)) < 0.3),
                learning_rule=dd,
                delay=rng.integers(0, 6, (a.n, b.n)),
                name="plastic_delays",
            )
        for p in net.projections:
            if p.learning_rule is not None:
                nc.Probe(p, "weights", name=f"w.{p.name}")
    return net


def check_against_reference(net, results):
    ru, rv, rs, learned = simulate(net, STEPS, learned_weights=True)
    u, v, s = probed_traces(results, net)
    np.testing.assert_array_equal(s, rs, err_msg="spikes differ")
    np.testing.assert_array_equal(u, ru, err_msg="u differs")
    np.testing.assert_array_equal(v, rv, err_msg="v differs")
    for k, proj in enumerate(net.projections):
        if proj.learning_rule is None:
            continue
        got = results[f"w.{proj.name}"].data
        np.testing.assert_array_equal(got, np.array(learned[k]), err_msg=f"weights of {proj.name} differ")
        assert not np.array_equal(got[0], got[-1]), f"{proj.name} did not learn"
    return rs


@pytest.mark.parametrize("t_epoch", [1, 3])
def test_plastic_network_matches_reference(target, t_epoch):
    rng = np.random.default_rng(40 + t_epoch)
    net = plastic_network(rng, t_epoch=t_epoch, weight_delays=True)
    with nc.Simulator(net, backend=target) as sim:
        sim.run(STEPS // 2)
        sim.run(STEPS - STEPS // 2)
        rs = check_against_reference(net, sim.results)
    assert rs.sum() > 0


def test_delay_learning_matches_reference(target):
    rng = np.random.default_rng(7)
    net = plastic_network(rng, t_epoch=2, delay_rule=True)
    with nc.Simulator(net, backend=target) as sim:
        sim.run(STEPS)
        check_against_reference(net, sim.results)
        learner = sim._backend.learning.learners[-1]["learner"]
        assert learner.d.min() >= 0 and learner.d.max() <= 62
        assert not np.array_equal(learner.d, net.projections[-1].delay_array())


def learned(net, seed, **compile_options):
    with nc.Simulator(net, backend="numpy", seed=seed, **compile_options) as sim:
        sim.run(STEPS)
        r = sim.results
    return [r[f"w.{p.name}"].data[-1] for p in net.projections if p.learning_rule is not None], probed_traces(
        r, net
    )


def test_stochastic_learning_does_not_depend_on_placement_and_follows_the_seed():
    rng = np.random.default_rng(11)
    net = plastic_network(rng, rounding="stochastic")
    one, traces = learned(net, seed=5)
    for p in net.populations:
        p.block_size = 6
    split, traces_split = learned(net, seed=5, allocator=nc.Greedy(cores_per_chip=3))
    assert nc.compile_network(net, allocator=nc.Greedy(cores_per_chip=3)).n_chips_used >= 2
    for a, b in zip(one, split, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(traces, traces_split, strict=True):
        np.testing.assert_array_equal(a, b)
    other, _ = learned(net, seed=6)
    assert any(not np.array_equal(a, b) for a, b in zip(one, other, strict=True))


def test_learning_needs_a_runtime_target():
    rng = np.random.default_rng(1)
    with nc.Network() as net:
        a = nc.Population(3)
        nc.Projection(a, a, rng.integers(0, 9, (3, 3)), learning_rule=pair_stdp())
    with pytest.raises(nc.BackendError, match="learning .* needs a runtime target"):
        with nc.Simulator(net, backend="cpp_standalone") as sim:
            sim.run(1)


def test_learning_synapses_cost_double():
    with nc.Network() as net:
        a = nc.Population(8)
        b = nc.Population(8)
        nc.Projection(a, b, np.ones((8, 8), int), name="static")
    static = nc.compile_network(net).resources.usage["synapse_bits"].sum()
    net.projections[0].learning_rule = pair_stdp()
    plastic = nc.compile_network(net).resources.usage["synapse_bits"].sum()
    # 8 axons, each one run of 8 synapses: 10-bit header + 8 * 18 (static) or 8 * 36 (learning) bits
    assert static == 8 * 3 * 64 and plastic == 8 * 5 * 64


def test_modulator_checks():
    a, b = nc.Population(4, name="a"), nc.Population(5, name="b")
    m = nc.Population(3, name="m")
    with pytest.raises(
        nc.ValidationError,
        match=r"modulators\['y2'\]: Population 'm' has 3 neurons; "
        r"a modulator has 1 \(broadcast\) or 5",
    ):
        nc.Projection(a, b, np.ones((5, 4), int), learning_rule=pair_stdp(), modulators={"y2": m}, name="p")
    with pytest.raises(nc.ValidationError, match="only a projection with a learning_rule has modulators"):
        nc.Projection(a, b, np.ones((5, 4), int), modulators={"y2": a}, name="q")


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_simulator_weights_are_the_learned_mantissas(backend):
    """Simulator.weights reads the current mantissas in the projection's synapse order."""
    rng = np.random.default_rng(7)
    net = plastic_network(rng, rounding="stochastic")
    with net:
        for p in net.projections:
            if p.learning_rule is None:
                nc.Probe(p, "weights", name=f"w.{p.name}")
    with nc.Simulator(net, backend=backend, seed=3) as sim:
        sim.run(STEPS)
        res = sim.results
        for proj in net.projections:
            got = sim.weights(proj.name if proj.learning_rule is None else proj)
            np.testing.assert_array_equal(got, res[f"w.{proj.name}"].data[-1])
            if proj.learning_rule is not None:
                assert not np.array_equal(got, res[f"w.{proj.name}"].data[0])
        with pytest.raises(nc.ValidationError, match="nope"):
            sim.weights("nope")
