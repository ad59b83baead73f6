"""Random networks for the tests: random registers, weights, sign modes, delays, inputs."""

import numpy as np
import scipy.sparse

import neurochip as nc

# register -> (low, high) used for random draws (activity-friendly subsets of the ranges)
DRAWS = {
    "du": (0, 4095),
    "dv": (0, 4095),
    "ds_offset": (0, 1),
    "dm_offset": (0, 1),
    "vth_mant": (0, 400),
    "bias_mant": (-200, 800),
    "bias_exp": (0, 7),
    "refractory": (1, 6),
}


def random_registers(rng, n, uniform_values=None, choices=4):
    """Per-compartment registers drawn from a few values each (so profiles stay few),
    or the given uniform values."""
    if uniform_values is not None:
        return dict(uniform_values)
    regs = {}
    for name, (lo, hi) in DRAWS.items():
        values = rng.integers(lo, hi + 1, size=choices)
        regs[name] = rng.choice(values, size=n)
    regs["u_init"] = rng.integers(-(2**20), 2**20, size=n)
    regs["v_init"] = rng.integers(-(2**14), 2**14, size=n)
    return regs


def uniform_registers(rng):
    regs = {name: int(rng.integers(lo, hi + 1)) for name, (lo, hi) in DRAWS.items()}
    regs["vth_mant"] = int(rng.integers(20, 200))
    regs["bias_mant"] = int(rng.integers(100, 800))
    regs["bias_exp"] = int(rng.integers(1, 5))
    return regs


def random_weights(rng, n_post, n_pre, density, sparse, duplicates=False):
    mask = rng.random((n_post, n_pre)) < density
    w = rng.integers(-300, 300, size=(n_post, n_pre)) * mask
    if not sparse:
        return w
    post, pre = np.nonzero(w)
    vals = w[post, pre]
    if duplicates and post.size:
        k = rng.integers(0, post.size, size=post.size // 4 + 1)
        post, pre, vals = (
            np.r_[post, post[k]],
            np.r_[pre, pre[k]],
            np.r_[vals, rng.integers(-300, 300, k.size)],
        )
    return scipy.sparse.coo_matrix((vals, (post, pre)), shape=(n_post, n_pre))


def random_network(
    rng, *, uniform=False, n_pops=3, size=(15, 60), steps=100, extreme=False, vbounds=None, probes=True
):
    """A random network whose every compartment is probed (u, v, spikes).

    ``uniform``: every register has one value across the whole network (the
    backend then stores it as a Brian2 shared scalar). ``extreme``: large
    weights and exponents that wrap q and u; small voltage bounds that clamp v.
    """
    uni = uniform_registers(rng) if uniform else None
    if vbounds is None:
        vbounds = (int(rng.integers(10, 24)), int(rng.integers(3, 8))) if not extreme else (12, 2)
    with nc.Network() as net:
        pops = []
        for k in range(n_pops):
            n = int(rng.integers(*size))
            regs = random_registers(rng, n, uni)
            pops.append(nc.Population(n, name=f"p{k}", vmin_exp=vbounds[0], vmax_exp=vbounds[1], **regs))
        n_in = int(rng.integers(5, 20))
        raster = rng.random((steps, n_in)) < 0.08
        inp = nc.SpikeInput(n_in, raster=raster, name="in")
        sources = [inp, *pops]
        for k, post in enumerate(pops):
            for pre in rng.choice(sources, size=2, replace=False):
                sparse = bool(rng.integers(2))
                w = random_weights(
                    rng,
                    post.n,
                    pre.n,
                    density=float(rng.uniform(0.05, 0.4)),
                    sparse=sparse,
                    duplicates=sparse,
                )
                nnz = w.nnz if sparse else int(np.count_nonzero(w))
                per_syn = bool(rng.integers(2))
                if per_syn:
                    delay = rng.integers(0, 63, size=nnz if sparse else w.shape)
                else:
                    delay = int(rng.integers(0, 63)) if rng.random() < 0.5 else 0
                nc.Projection(
                    pre,
                    post,
                    w,
                    weight_exp=int(rng.integers(4, 8) if extreme else rng.integers(-8, 8)),
                    sign_mode=rng.choice([None, "mixed", "excitatory", "inhibitory"]),
                    num_weight_bits=int(rng.integers(1, 9)),
                    delay=delay,
                    name=f"proj{k}_{pre.name}",
                )
        if probes:
            for p in pops:
                for var in ("u", "v", "spikes"):
                    nc.Probe(p, var, name=f"{p.name}.{var}")
    return net


def probed_traces(results, net):
    """u, v, spikes of all compartments (network order) from probe results, as (steps, n)."""
    steps = results.steps
    u = np.concatenate([results[f"{p.name}.u"].data for p in net.populations], axis=1)
    v = np.concatenate([results[f"{p.name}.v"].data for p in net.populations], axis=1)
    s = np.concatenate([results[f"{p.name}.spikes"].raster(steps) for p in net.populations], axis=1)
    return u, v, s
