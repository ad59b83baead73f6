"""The scaling workload and the router model alone on drawn traffic."""

import numpy as np

from neurochip import scaling
from neurochip.presets import board_spec


def test_every_group_of_the_workload_is_balanced():
    net = scaling.scaling_network(3000, local=0.8, group=1000, seed=1)
    proj = net.projections[0]
    group_of_pre = proj.pre_idx // 1000
    inhibitory = proj.weights < 0
    for g in range(3):
        share = inhibitory[group_of_pre == g].mean()
        assert abs(share - 0.2) < 0.01, (g, share)
    local = (proj.post_idx // 1000) == group_of_pre
    assert 0.8 <= local.mean() <= 0.88  # 80 % local, plus the random share that lands locally


def test_router_model_alone_matches_a_simulated_point():
    """Drawn at the simulated point's spike rate, the model sees the same traffic: messages per
    step and the inter-chip share agree closely (step times follow the measured burstiness less)."""
    board = board_spec("pohoiki-beach")
    sim = scaling.run_point(
        2048, 2, board=board, steps=100, backend="numpy", allocator="greedy", seed=0, per_chip=1024, local=0.8
    )
    rate = sim["spikes"] / (sim["compartments"] * sim["steps"])
    assert 0.005 < rate < 0.05  # ~14 Hz, not a runaway
    model = scaling.model_point(2048, 2, board=board, rate=rate, steps=30, per_chip=1024, local=0.8)
    assert model["model_only"] and model["wall_s"] is None and model["cores"] == sim["cores"]
    assert np.isclose(model["messages_per_step"], sim["messages_per_step"], rtol=0.15)
    assert abs(model["inter_chip_share"] - sim["inter_chip_share"]) < 0.05
    assert model["modeled_step_us"] > 0 and model["modeled_energy_per_step_uj"] > 0
    text = scaling.table([{**sim, "requested_chips": 2}, {**model, "requested_chips": 2}])
    assert text.splitlines()[2].split()[3] == "model"
