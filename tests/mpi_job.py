"""Run by test_mpi.py, under ``mpiexec`` or alone: one random program, results to an .npz.

Usage: python mpi_job.py OUT.npz [raise | learn]

``learn``: a network with plastic projections whose synapses, modulators and
traces span the ranks.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from netgen import random_network  # noqa: E402

import neurochip as nc  # noqa: E402


def program(learn=False):
    net = random_network(np.random.default_rng(20261121), n_pops=5, size=(40, 90), steps=80)
    with net:
        nc.Probe(net.projections[0], "weights", name="w0")
        if learn:
            plastic(net, np.random.default_rng(5))
    return nc.compile_network(net, allocator="roundrobin", chips=3)


def plastic(net, rng):
    """Plastic projections between populations on different chips (so on different ranks).

    One learns with pair STDP and delays, one with reward-modulated STDP whose
    reward is a single compartment on yet another chip, one with a per-neuron
    teacher population; stochastic rounding everywhere.
    """
    from neurochip.learning import LearningRule, reward_stdp, teacher_rule

    p = net.populations
    inp = net.inputs[0]
    stdp = LearningRule(
        dw="2^-2*x1*y0 - 2^-3*y1*x0",
        dd="2^-3*y1*x0 - 2^-4*x1*y0",
        x1_impulse=40.5,
        x1_tau=6,
        y1_impulse=30,
        y1_tau=10,
        t_epoch=2,
        rounding="stochastic",
    )
    reward = nc.Population(1, du=4095, dv=0, vth_mant=2, bias_mant=1, bias_exp=6, name="reward")
    teacher = nc.Population(p[3].n, du=4095, dv=0, vth_mant=40, name="teacher")
    nc.Projection(inp, teacher, rng.integers(0, 90, (p[3].n, inp.n)), sign_mode="excitatory")
    three = reward_stdp(t_epoch=3, weight_rate=2**-4)
    projections = [
        (p[0], p[1], dict(learning_rule=stdp, delay=rng.integers(0, 4, (p[1].n, p[0].n)))),
        (p[1], p[2], dict(learning_rule=three, modulators={"y2": reward})),
        (p[2], p[3], dict(learning_rule=teacher_rule(t_epoch=1), modulators={"y2": teacher})),
    ]
    for k, (pre, post, kw) in enumerate(projections):
        w = rng.integers(-40, 80, (post.n, pre.n)) * (rng.random((post.n, pre.n)) < 0.5)
        nc.Projection(pre, post, w, name=f"plastic{k}", **kw)
        nc.Probe(net.projections[-1], "weights", name=f"wl{k}")


def flatten(results, learned_weights=None) -> dict:
    out = {"steps": np.asarray(results.steps)}
    for name, counts in results.spike_counts.items():
        out[f"count/{name}"] = counts
    for name in results.probes:
        pr = results[name]
        if hasattr(pr, "data"):
            out[f"{name}/steps"], out[f"{name}/data"] = pr.steps, pr.data
        else:
            out[f"{name}/steps"], out[f"{name}/neurons"] = pr.steps, pr.neurons
    for key, values in results.router.per_step.items():
        out[f"router/{key}"] = values
    for key, value in results.router.energy_pj.items():
        out[f"energy/{key}"] = np.asarray(value)
    out["router/link_load"] = results.router.link_load
    if learned_weights is not None:
        out["learned"] = learned_weights
    return out


def learned(sim) -> np.ndarray:
    """Every plastic projection's current weights (Simulator.weights), concatenated."""
    return np.concatenate([sim.weights(f"plastic{k}") for k in range(3)])


def main(path, fail=False, learn=False):
    with nc.Simulator(program(learn), router=True) as sim:
        sim.run(30)
        if fail and sim.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        sim.run(50)
        flat = flatten(sim.results, learned(sim) if learn else None)
        flat["ranks"] = np.asarray(sim.ranks)
        if sim.is_root:
            np.savez(path, **flat)


if __name__ == "__main__":
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    main(sys.argv[1], fail=mode == "raise", learn=mode == "learn")
