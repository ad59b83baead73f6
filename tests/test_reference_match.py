"""The Brian2 backend matches the independent DESIGN section 5 reference value for value."""

import numpy as np
import pytest
from netgen import probed_traces, random_network
from reference import simulate

import neurochip as nc

STEPS = 120


def run(net, target, steps=STEPS, **compile_options):
    with nc.Simulator(net, backend=target, **compile_options) as sim:
        sim.run(steps)
        return sim.results


def assert_match(net, results, steps=STEPS):
    ru, rv, rs = simulate(net, steps)
    u, v, s = probed_traces(results, net)
    np.testing.assert_array_equal(s, rs, err_msg="spikes differ")
    np.testing.assert_array_equal(u, ru, err_msg="u differs")
    np.testing.assert_array_equal(v, rv, err_msg="v differs")
    return ru, rv, rs


@pytest.mark.parametrize("uniform", [False, True], ids=["per_compartment", "uniform"])
@pytest.mark.parametrize("seed", range(3))
def test_random_networks_match_reference(target, uniform, seed):
    rng = np.random.default_rng(1000 + seed + 10 * uniform)
    net = random_network(rng, uniform=uniform, steps=STEPS)
    results = run(net, target)
    _, _, rs = assert_match(net, results)
    assert rs.sum() > 0, "the random network should spike"


def add_wrap_driver(net, steps):
    """Compartments that must wrap q and u both ways: 12 inputs firing together through
    maximal weights (w_eff = 255 * 2**7 * 2**6 each) onto compartments that never decay."""
    import scipy.sparse  # noqa: F401

    with net:
        drive = nc.SpikeInput(12, raster=np.ones((steps, 12), bool), name="drive")
        w = nc.Population(
            4, du=0, ds_offset=0, dv=4095, dm_offset=1, vth_mant=131071, vmin_exp=12, vmax_exp=2, name="wrap"
        )
        nc.Projection(
            drive,
            w,
            np.array([[255] * 12, [255] * 6 + [0] * 6, [-255] * 12, [-255] * 5 + [0] * 7]),
            weight_exp=7,
            sign_mode="mixed",
            name="drive_wrap",
        )
        for var in ("u", "v", "spikes"):
            nc.Probe(w, var, name=f"wrap.{var}")


@pytest.mark.parametrize("seed", range(2))
def test_wraps_and_clamps_match_reference(target, seed):
    """Large weights and exponents wrap q (22 bits) and u (24 bits); small bounds clamp v."""
    rng = np.random.default_rng(2000 + seed)
    net = random_network(rng, extreme=True, steps=STEPS)
    add_wrap_driver(net, STEPS)
    ru, rv, _ = assert_match(net, run(net, target))
    vmax = 2 ** (9 + 2 * 2) - 1
    vmin = -(2**12) + 1
    jumps = np.abs(np.diff(ru[:, -4:], axis=0))
    assert (jumps > 2**23).any(), "u should wrap"
    assert (ru >= 2**22).any() and (ru <= -(2**22)).any(), "u should reach both wrap regions"
    assert (rv == vmax).any() and (rv == vmin).any(), "v should hit both bounds"


def test_refractory_holds_v_at_zero(target):
    with nc.Network() as net:
        p = nc.Population(3, dv=0, vth_mant=10, bias_mant=700, bias_exp=0, refractory=[1, 3, 7])
        nc.Probe(p, "v", name="p0.v")
        nc.Probe(p, "u", name="p0.u")
        nc.Probe(p, "spikes", name="p0.spikes")
    net.populations[0].name = "p0"
    res = run(net, target, steps=40)
    s = res["p0.spikes"].raster(40)
    # bias 700 per step crosses 640 in one step: ISI equals the refractory register
    for k, r in enumerate([1, 3, 7]):
        assert np.all(np.diff(np.flatnonzero(s[:, k])) == r)
    assert_match(net, res, steps=40)


@pytest.mark.parametrize("refractory", [1, 4], ids=["no_refractoriness", "refractory"])
def test_uniform_registers_with_and_without_refractoriness(target, refractory):
    """Uniform registers are Brian2 shared scalars; with refractory 1 everywhere the
    backend leaves the refractory counter out of the update. Both match the reference."""
    rng = np.random.default_rng(3000 + refractory)
    net = random_network(rng, uniform=True, steps=STEPS)
    for p in net.populations:
        # bias 300 * 2**4 = 4800 exceeds the threshold 50 * 2**6 = 3200: spikes every
        # `refractory` steps unless synaptic input pulls v down
        p.refractory, p.vth_mant, p.bias_mant, p.bias_exp = refractory, 50, 300, 4
    res = run(net, target)
    _, _, rs = assert_match(net, res)
    assert rs.sum() > 0
    counts = np.concatenate([res.spike_counts[p.name] for p in net.populations])
    np.testing.assert_array_equal(counts, rs.sum(axis=0))
