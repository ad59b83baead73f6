"""A small excitatory/inhibitory network spread over several cores of one Loihi chip.

Poisson-like input drives 3,000 excitatory and 750 inhibitory compartments with
recurrent E->E, E->I and I->E projections (delays 1-8 steps). The compiler
splits the populations into blocks of at most 1,024 compartments and places
them on cores; the run is bit-exact integer Loihi dynamics on Brian2.

    python examples/multicore.py [--steps 1000] [--out out/multicore.h5] [--backend auto]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse

import neurochip as nc


def random_sparse(rng, n_post, n_pre, fan_in, low, high):
    """``fan_in`` random inputs per target, mantissas uniform in [low, high]."""
    rows = np.repeat(np.arange(n_post), fan_in)
    cols = rng.integers(0, n_pre, rows.size)
    return scipy.sparse.coo_matrix(
        (rng.integers(low, high + 1, rows.size), (rows, cols)), shape=(n_post, n_pre)
    )


def build(steps: int = 1000, seed: int = 7) -> nc.Network:
    rng = np.random.default_rng(seed)
    with nc.Network("multicore") as net:
        inp = nc.SpikeInput(200, raster=rng.random((steps, 200)) < 0.02, name="input")
        exc = nc.Population.from_time_constants(3000, tau_u=5, tau_v=20, threshold=100, bias=2, name="exc")
        inh = nc.Population.from_time_constants(
            750, tau_u=3, tau_v=10, threshold=60, name="inh", refractory=3
        )
        nc.Projection(inp, exc, random_sparse(rng, 3000, 200, 10, 20, 60), name="input_exc")
        nc.Projection(
            exc,
            exc,
            random_sparse(rng, 3000, 3000, 20, 0, 12),
            name="exc_exc",
            delay=rng.integers(1, 9, 3000 * 20),
        )
        nc.Projection(exc, inh, random_sparse(rng, 750, 3000, 40, 5, 20), name="exc_inh")
        nc.Projection(inh, exc, random_sparse(rng, 3000, 750, 25, -80, -20), name="inh_exc")
        nc.Probe(exc, "spikes", name="exc_spikes")
        nc.Probe(inh, "spikes", name="inh_spikes")
        nc.Probe(exc, "v", indices=np.arange(5), name="exc_v")
    return net


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--out", default="out/multicore.h5")
    ap.add_argument("--backend", default="auto", choices=sorted(nc.BACKENDS))
    a = ap.parse_args(argv)

    net = build(a.steps)
    program = nc.compile_network(net, chips=1)
    print(program.summary())
    print(program.resources.table())
    with nc.Simulator(program, backend=a.backend, seed=0) as sim:
        sim.run(a.steps)
        results = sim.results
    print(results.summary())
    exc = results["exc_spikes"]
    print(
        f"excitatory rate {exc.counts().mean() / a.steps * 1000:.1f} Hz (1 step = 1 ms); "
        f"first spike at step {exc.steps.min() if exc.steps.size else '-'}"
    )
    path = results.save(a.out)
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
