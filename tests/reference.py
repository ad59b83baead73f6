"""Independent reference of DESIGN.md sections 4 and 5, written from the text alone.

It reads a Network description (never a compiled program), uses Python-int
semantics through int64 numpy arrays, modulo-based wrapping and float floors
for the weight exponent, and none of neurochip's arithmetic. Populations are
concatenated in network order.
"""

import numpy as np
from learning_reference import ReferenceLearner

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


def simulate(net, steps, learned_weights=False):
    """Run ``net`` for ``steps`` steps; returns u, v, spikes as (steps, n) arrays
    (and, with ``learned_weights``, each projection's mantissas after every step)."""
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

    class Plastic:
        """One projection: endpoints (post as global index), mantissas, delays, optional learner."""

        def __init__(self, pr):
            self.pr, self.pre = pr, np.asarray(pr.pre_idx)
            self.post = offset[id(pr.post)] + np.asarray(pr.post_idx)
            self.mode = pr.sign_mode or sign_mode_of(pr.weights)
            lo, hi = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[self.mode]
            drop = 8 - pr.num_weight_bits + (self.mode == "mixed")
            self.mant = (np.clip(np.asarray(pr.weights, np.int64), lo, hi) >> drop) << drop
            self.d = np.broadcast_to(np.asarray(pr.delays, np.int64), pr.weights.shape).copy()
            self.learner = None
            if pr.learning_rule is not None:
                self.learner = ReferenceLearner(
                    pr.learning_rule,
                    pr.pre.n,
                    pr.post.n,
                    pr.pre_idx,
                    pr.post_idx,
                    self.mant,
                    self.d,
                    self.mode,
                    pr.num_weight_bits,
                )

        def w_eff(self, sel):
            return w_eff(self.mant[sel], self.mode, self.pr.num_weight_bits, self.pr.weight_exp)

    syn = [Plastic(pr) for pr in net.projections]

    def fired_of(obj, t, s):
        if isinstance(obj, SpikeInput):
            f = np.zeros(obj.n, bool)
            f[obj.indices[obj.steps == t]] = True
            return f
        assert isinstance(obj, Population)
        return s[offset[id(obj)] : offset[id(obj)] + obj.n]

    q_in = {}  # step -> input summed into q, consumed in that step
    deliver = {}  # step -> [(projection, synapses)] delivered in that step's synapses slot
    out_u, out_v, out_s = (np.zeros((steps, n), np.int64) for _ in range(3))
    weights = [[] for _ in syn]
    for t in range(1, steps + 1):
        q = wrap_signed(q_in.pop(t, np.zeros(n, np.int64)), 22)
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
        # spikes of step t enter the synapses with their current delays
        for k, p in enumerate(syn):
            fired = np.flatnonzero(fired_of(p.pr.pre, t, s)[p.pre])
            for delay in np.unique(p.d[fired]):
                deliver.setdefault(t + int(delay), []).append((k, fired[p.d[fired] == delay]))
        # synapses slot of step t: delivered with the weights of this moment, act at t + 1
        for k, sel in deliver.pop(t, []):
            buf = q_in.setdefault(t + 1, np.zeros(n, np.int64))
            np.add.at(buf, syn[k].post[sel], syn[k].w_eff(sel))
        # end of step t: learning
        for k, p in enumerate(syn):
            if p.learner is None:
                continue
            pre_f = np.flatnonzero(fired_of(p.pr.pre, t, s)).tolist()
            post_f = np.flatnonzero(fired_of(p.pr.post, t, s)).tolist()
            drivers = {}
            for trace, src in p.pr.modulators.items():
                f = fired_of(src, t, s)
                drivers[trace] = bool(f[0]) if src.n == 1 else np.flatnonzero(f).tolist()
            p.learner.step(t, pre_f, post_f, drivers)
            p.mant[:] = p.learner.w
            p.d[:] = p.learner.d
            weights[k].append(list(p.learner.w))
    if learned_weights:
        return out_u, out_v, out_s.astype(bool), weights
    return out_u, out_v, out_s.astype(bool)
