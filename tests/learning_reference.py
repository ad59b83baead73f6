"""Independent reference of the learning engine (DESIGN.md section 6), deterministic rounding.

Written with Python ints and explicit loops, one synapse at a time, from the
rules of DESIGN section 6 and the datapath documented in
``neurochip/learning/engine.py``: traces decay then take their impulse (both
rounded half up); at an epoch end a synapse whose pre or post neuron spiked in
the epoch (or every synapse when a u term is due) evaluates each product with
the traces of the step of the last pre spike (x0 terms), the last post spike
(y0 terms) or the epoch's end (u terms); products drop low bits beyond 15
bits, scale into a 16-bit accumulator with 7 fraction bits, and the result is
rounded half up to the variable's grid and saturated.
"""

PRE, POST = ("x1", "x2"), ("y1", "y2", "y3")
WIDTH = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "d": 6, "t": 9}


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def round_half_up(v, k):
    if k == 0:
        return v
    q = v >> k
    return q + (1 if v - (q << k) >= (1 << (k - 1)) else 0)


class ReferenceLearner:
    def __init__(self, rule, n_pre, n_post, pre, post, w, d, sign_mode, nbits, drivers=()):
        self.rule = rule
        self.pre, self.post = [int(i) for i in pre], [int(j) for j in post]
        self.w, self.d = [int(v) for v in w], [int(v) for v in d]
        self.t = [0] * len(self.w)
        self.sign_mode, self.nbits = sign_mode, nbits
        self.drivers = set(drivers)
        self.tr = {n: [0] * n_pre for n in PRE} | {n: [0] * n_post for n in POST}
        self.hist = []
        self.last_pre, self.last_post = {}, {}
        used = set()
        for s in rule.sums.values():
            for p in s.products:
                used |= {f.var for f in p.factors}
        self.used = used

    def step(self, t, pre_fired, post_fired, drivers_fired=None):
        drivers_fired = drivers_fired or {}
        for name, values in self.tr.items():
            if name not in self.used:
                continue
            cfg = self.rule.traces[name]
            for i in range(len(values)):
                values[i] = round_half_up(values[i] * (4096 - cfg.decay), 12)
            owners = pre_fired if name in PRE else post_fired
            if name in drivers_fired:
                f = drivers_fired[name]
                owners = range(len(values)) if f is True else ([] if f is False else f)
            for i in owners:
                values[i] = min(127, values[i] + cfg.impulse_int + (1 if cfg.impulse_frac >= 64 else 0))
        pos = (t - 1) % self.rule.t_epoch + 1
        for i in pre_fired:
            self.last_pre[int(i)] = pos
        for j in post_fired:
            self.last_post[int(j)] = pos
        self.hist.append({n: list(v) for n, v in self.tr.items()})
        if pos == self.rule.t_epoch:
            self.epoch(t // self.rule.t_epoch)
            self.hist, self.last_pre, self.last_post = [], {}, {}

    def value(self, f, pos, s, old):
        if f.var in PRE:
            v = self.hist[pos - 1][f.var][self.pre[s]]
        elif f.var in POST:
            v = self.hist[pos - 1][f.var][self.post[s]]
        elif f.var == "x0":
            v = 1 if self.pre[s] in self.last_pre else 0
        elif f.var == "y0":
            v = 1 if self.post[s] in self.last_post else 0
        else:
            v = old[f.var]
        v += f.const
        if f.sgn:
            v = (v > 0) - (v < 0)
        width = 1 if f.sgn else WIDTH[f.var]
        return clamp(v, -(1 << width), (1 << width) - 1)

    def epoch(self, epoch):
        k = self.rule.u_exp
        u_on = k is not None and epoch % (2**k) == 0
        for s in range(len(self.w)):
            x0 = self.pre[s] in self.last_pre
            y0 = self.post[s] in self.last_post
            if not (x0 or y0 or u_on):
                continue
            old = {"w": self.w[s], "d": self.d[s], "t": self.t[s]}
            new = dict(old)
            for sop in self.rule.sums.values():
                var = sop.variable
                acc = old[var] * 128
                for p in sop.products:
                    if p.dependency == "x0":
                        if not x0:
                            continue
                        pos = self.last_pre[self.pre[s]]
                    elif p.dependency == "y0":
                        if not y0:
                            continue
                        pos = self.last_post[self.post[s]]
                    else:
                        if not u_on:
                            continue
                        pos = self.rule.t_epoch
                    val = p.mantissa
                    for f in p.factors:
                        val *= self.value(f, pos, s, old)
                    val = (val >> p.shift) << p.shift
                    val = clamp(val * 2 ** (p.exponent + 7), -32768, 32767)
                    acc = clamp(acc + val, -32768, 32767)
                new[var] = self.finish(var, acc)
            self.w[s], self.d[s], self.t[s] = new["w"], new["d"], new["t"]

    def finish(self, var, acc):
        if var == "w":
            lo, hi = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[self.sign_mode]
            n = 8 - self.nbits + (self.sign_mode == "mixed")
            if self.sign_mode == "excitatory":
                acc = max(acc, 0)
            if self.sign_mode == "inhibitory":
                acc = min(acc, 0)
            step = 2**n
            grid_lo = lo // step * step
            grid_hi = hi // step * step
            return clamp(round_half_up(acc, 7 + n) * step, grid_lo, grid_hi)
        lo, hi = (0, 62) if var == "d" else (-256, 255)
        return clamp(round_half_up(acc, 7), lo, hi)
