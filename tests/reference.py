"""Independent reference of DESIGN.md sections 4 and 5, written from the text alone.

It reads a Network description (never a compiled program), uses Python-int
semantics through int64 numpy arrays, modulo-based wrapping and float floors
for the weight exponent, and none of neurochip's arithmetic. Populations are
concatenated in network order.
"""

import numpy as np

from neurochip import Population, SpikeInput


def rtz_decay(x, d):
    """sign(x) * ((|x| * (4096 - d)) >> 12)"""
    return np.sign(x) * ((np.abs(x) * (4096 - d)) >> 12)


def wrap_signed(x, bits):
    m = 2**bits
    return (x + m // 2) % m - m // 2


def w_eff(w, mode, nbits, wexp):
    lo, hi = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[mode]
    w = np.clip(np.asarray(w, np.int64), lo, hi)
    n = 8 - nbits + (mode == "mixed")
    w = (w >> n) << n
    return np.floor(w * 2.0**wexp).astype(np.int64) * 64


def sign_mode_of(w):
    return "excitatory" if w.min(initial=0) >= 0 else ("inhibitory" if w.max(initial=0) <= 0 else "mixed")


def simulate(net, steps):
    """Run ``net`` for ``steps`` steps; returns u, v, spikes as (steps, n) arrays."""
    pops = net.populations
    start = np.cumsum([0] + [p.n for p in pops])
    n = int(start[-1])
    offset = {id(p): int(s) for p, s in zip(pops, start[:-1], strict=True)}

    def reg(name):
        return np.concatenate([np.broadcast_to(np.asarray(getattr(p, name), np.int64), (p.n,)) for p in pops])

    du, dv, ds, dm = reg("du"), reg("dv"), reg("ds_offset"), reg("dm_offset")
    vth = reg("vth_mant") * 2**6
    bias = reg("bias_mant") * 2 ** reg("bias_exp")
    ref = reg("refractory")
    vmin = -(2 ** reg("vmin_exp")) + 1
    vmax = 2 ** (9 + 2 * reg("vmax_exp")) - 1
    u, v, c = reg("u_init").copy(), reg("v_init").copy(), np.zeros(n, np.int64)

    syn = []  # (pre object, pre index, post index, w_eff, delay)
    for pr in net.projections:
        mode = pr.sign_mode or sign_mode_of(pr.weights)
        we = w_eff(pr.weights, mode, pr.num_weight_bits, pr.weight_exp)
        d = np.broadcast_to(np.asarray(pr.delays, np.int64), pr.weights.shape)
        syn.append((pr.pre, np.asarray(pr.pre_idx), offset[id(pr.post)] + np.asarray(pr.post_idx), we, d))

    pending = {}  # step -> summed input arriving in that step
    out_u, out_v, out_s = (np.zeros((steps, n), np.int64) for _ in range(3))
    for t in range(1, steps + 1):
        q = wrap_signed(pending.pop(t, np.zeros(n, np.int64)), 22)
        u = wrap_signed(rtz_decay(u, du + ds) + q, 24)
        v = rtz_decay(v, dv + dm) + u + bias
        v = np.minimum(np.maximum(v, vmin), vmax)
        refr = c > 0
        v[refr] = 0
        c[refr] -= 1
        s = v > vth
        v[s] = 0
        c[s] = ref[s] - 1
        out_u[t - 1], out_v[t - 1], out_s[t - 1] = u, v, s
        for pre, i, j, we, d in syn:
            if isinstance(pre, SpikeInput):
                fired = np.zeros(pre.n, bool)
                fired[pre.indices[pre.steps == t]] = True
            else:
                assert isinstance(pre, Population)
                fired = s[offset[id(pre)] : offset[id(pre)] + pre.n]
            k = np.flatnonzero(fired[i])
            for delay in np.unique(d[k]):
                sel = k[d[k] == delay]
                arrive = t + 1 + int(delay)
                buf = pending.setdefault(arrive, np.zeros(n, np.int64))
                np.add.at(buf, j[sel], we[sel])
    return out_u, out_v, out_s.astype(bool)
