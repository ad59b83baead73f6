"""The traffic-aware allocator keeps talking blocks together."""

import numpy as np
import pytest

import neurochip as nc


def clustered(rng, n_clusters=8, size=400):
    """Two groups of populations ({0, 1, 4, 5} and {2, 3, 6, 7}) wired densely within a group and
    sparsely across: placing them in creation order, or dealing them to chips in turn, splits both."""
    with nc.Network() as net:
        pops = [nc.Population(size, vth_mant=20, bias_mant=30, name=f"c{k}") for k in range(n_clusters)]
        for k, a in enumerate(pops):
            for m, b in enumerate(pops):
                p = 0.02 if (k // 2) % 2 == (m // 2) % 2 else 0.0005
                if p:
                    w = (rng.random((b.n, a.n)) < p) * rng.integers(1, 9, (b.n, a.n))
                    nc.Projection(a, b, w, name=f"p{k}_{m}")
    return net


def inter_chip_messages(prog) -> int:
    """Messages per step if every compartment spiked once: routes that leave their chip."""
    a = prog.arrays
    src_chip = prog.core_chip[prog.compartment_core()]
    n_cx = prog.n_compartments
    per_src = np.diff(a["route_start"])[:n_cx]
    dst_chip = a["core_chip"][a["route_core"][: a["route_start"][n_cx]]]
    return int((dst_chip != np.repeat(src_chip, per_src)).sum())


def test_traffic_aware_cuts_inter_chip_messages(rng):
    net = clustered(rng)
    opts = dict(board=nc.routing.topology.custom_board((2, 1)))
    greedy = nc.compile_network(net, allocator=nc.Greedy(cores_per_chip=2), **opts)
    robin = nc.compile_network(net, allocator="roundrobin", **opts)
    traffic = nc.compile_network(net, allocator=nc.TrafficAware(cores_per_chip=2), **opts)
    base = min(inter_chip_messages(greedy), inter_chip_messages(robin))
    cut = inter_chip_messages(traffic)
    assert traffic.n_chips_used >= 2
    print(
        f"inter-chip messages per all-spike step: greedy {inter_chip_messages(greedy)}, "
        f"roundrobin {inter_chip_messages(robin)}, traffic-aware {cut}"
    )
    # the best two-chip split keeps each group on its own chip: only cross-group messages remain
    group = {p.name: (k // 2) % 2 for k, p in enumerate(net.populations)}
    cross = sum(
        len(np.unique(pr.pre_idx)) if group[pr.pre.name] != group[pr.post.name] else 0
        for pr in net.projections
    )
    assert cut <= 1.02 * cross < 0.6 * base, f"traffic-aware {cut}, cross-group {cross}, best other {base}"
    # the same network, the same spikes, wherever it is placed
    with nc.Simulator(greedy, backend="numpy") as a, nc.Simulator(traffic, backend="numpy") as b:
        a.run(30)
        b.run(30)
        for pop in net.populations:
            np.testing.assert_array_equal(a.results.spike_counts[pop.name], b.results.spike_counts[pop.name])


def test_traffic_aware_reports_too_few_chips(rng):
    net = clustered(rng, n_clusters=4, size=60)
    for p in net.populations:
        p.block_size = 30
    with pytest.raises(nc.ResourceError, match="placement: the network needs"):
        nc.compile_network(net, allocator=nc.TrafficAware(cores_per_chip=2), chips=1)
