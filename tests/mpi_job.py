"""Run by test_mpi.py, under ``mpiexec`` or alone: one random program, results to an .npz.

Usage: python mpi_job.py OUT.npz [raise]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from netgen import random_network  # noqa: E402

import neurochip as nc  # noqa: E402


def program():
    net = random_network(np.random.default_rng(20261121), n_pops=5, size=(40, 90), steps=80)
    with net:
        nc.Probe(net.projections[0], "weights", name="w0")
    return nc.compile_network(net, allocator="roundrobin", chips=3)


def flatten(results) -> dict:
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
    return out


def main(path, fail=False):
    with nc.Simulator(program(), router=True) as sim:
        sim.run(30)
        if fail and sim.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        sim.run(50)
        flat = flatten(sim.results)
        flat["ranks"] = np.asarray(sim.ranks)
        if sim.is_root:
            np.savez(path, **flat)


if __name__ == "__main__":
    main(sys.argv[1], fail=len(sys.argv) > 2 and sys.argv[2] == "raise")
