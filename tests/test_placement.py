"""Results do not depend on placement: 1 core, many cores, 2 chips, either allocator."""

import numpy as np
import pytest
from netgen import probed_traces, random_network

import neurochip as nc

STEPS = 80


def run(program, target):
    with nc.Simulator(program, backend=target) as sim:
        sim.run(STEPS)
        return sim.results


@pytest.fixture
def net(rng):
    # one profile per population so a population can share a core with the others
    return random_network(rng, uniform=True, n_pops=3, size=(30, 50), steps=STEPS)


def placements(net):
    yield "one core", {}, lambda p: p.n_cores == 1
    yield "many cores", {"block_size": 7}, lambda p: p.n_cores >= 5 and p.n_chips_used == 1
    yield (
        "2 chips greedy",
        {"block_size": 7, "allocator": nc.Greedy(cores_per_chip=5)},
        lambda p: p.n_chips_used >= 2,
    )
    yield (
        "2 chips roundrobin",
        {"block_size": 7, "allocator": "roundrobin", "chips": 2},
        lambda p: p.n_chips_used == 2,
    )


def test_results_do_not_depend_on_placement(net, target):
    reference = None
    for label, opts, check in placements(net):
        opts = dict(opts)
        bs = opts.pop("block_size", None)
        for p in net.populations:
            p.block_size = bs
        program = nc.compile_network(net, **opts)
        assert check(program), f"{label}: unexpected placement {program.n_cores} cores"
        traces = probed_traces(run(program, target), net)
        if reference is None:
            reference = traces
            assert reference[2].sum() > 0
        else:
            for got, want, what in zip(traces, reference, "uvs", strict=True):
                np.testing.assert_array_equal(got, want, err_msg=f"{what} differs on {label}")


def test_greedy_packs_and_roundrobin_spreads(net):
    g = nc.compile_network(net)
    r = nc.compile_network(net, allocator="roundrobin", chips=3)
    assert g.n_cores == 1
    assert r.n_cores == 3 and sorted(r.core_chip.tolist()) == [0, 1, 2]


def test_blocks_of_one_population_never_share_a_core():
    with nc.Network() as net:
        p = nc.Population(100, block_size=10)
        nc.Population(5)
    prog = nc.compile_network(net)
    cores = prog.compartment_core()[prog.population(p.name).cx]
    assert np.bincount(cores).max() == 10
    assert np.unique(cores).size == 10


def test_population_too_large_for_a_core_is_split():
    with nc.Network() as net:
        nc.Population(2500, name="big")
    prog = nc.compile_network(net)
    assert prog.n_cores == 3
    # equal blocks balance the cores
    assert sorted(prog.resources.usage["compartments"].tolist()) == [832, 834, 834]
