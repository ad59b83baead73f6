"""The integer learning engine: traces, epochs, products, rounding (DESIGN.md section 6).

Per learning projection, every step (after the compartments have spiked):

1. every trace the rule uses decays, ``x <- (x * (4096 - decay)) >> 12`` with
   the 12 dropped bits rounded (stochastically or to nearest);
2. a trace whose owner spiked (x: presynaptic source, y: postsynaptic
   compartment, or the projection's modulator for a driven y trace) adds its
   impulse (integer + rounded 7-bit fraction), saturating at 127;
3. the step's position in the epoch is recorded for the sources and targets
   that spiked (the last spike of the epoch counts), and the traces are kept
   for the rest of the epoch.

At the end of an epoch (t mod t_epoch == 0) only the synapses whose
dependencies fired are updated (all synapses when a ``u<k>`` term is due).
Products with ``x0`` read the traces at the pre spike's step, products with
``y0`` at the post spike's step, ``u`` products at the end of the epoch.
Each product is ``dep * m * prod(saturated factors)``, loses
``Product.shift`` low bits (truncated toward -inf) to fit the 15-bit product
datapath, is scaled by ``2**(e + 7)`` into the accumulator's 7 fraction bits
and saturated; the 16-bit accumulator starts at ``var << 7`` and saturates
after every product. The result is rounded to the variable's grid (weights:
the precision of their sign mode) and saturated to its range.

Only integer arrays are used here; the rule's floats were resolved when it was
parsed (``neurochip.learning.rules``).
"""

from __future__ import annotations

import numpy as np
from neurochip.cores.fixedpoint import weight_drop_bits, weight_range
from neurochip.learning import rng
from neurochip.learning.rules import LearningRule
from neurochip.learning.widths import (
    ACC_FRAC_BITS,
    ACC_MAX,
    ACC_MIN,
    DELAY_MAX,
    DELAY_MIN,
    IMPULSE_FRAC_BITS,
    TAG_MAX,
    TAG_MIN,
    TRACE_DECAY_BITS,
    TRACE_MAX,
)

PRE_TRACES = ("x1", "x2")
POST_TRACES = ("y1", "y2", "y3")
I64 = np.int64


def round_shift(v: np.ndarray, k: int, r) -> np.ndarray:
    """``v / 2**k`` rounded: up when the dropped bits exceed ``r`` (random: stochastic)."""
    if k == 0:
        return v
    return (v >> k) + ((v & ((1 << k) - 1)) > r)


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    start = np.r_[0, np.cumsum(np.bincount(keys, minlength=n))].astype(I64)
    return order.astype(np.int32), start


def _ranges(order: np.ndarray, start: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Concatenated ``order[start[o]:start[o+1]]`` for the given owners."""
    a, b = start[owners], start[owners + 1]
    n = b - a
    if not n.sum():
        return np.zeros(0, I64)
    idx = np.repeat(a - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(n.sum())
    return order[idx]


def _sparse_mask(products, other_side) -> int:
    """Traces (bit k: other_side[k]) whose being zero makes every product zero, or -1.

    Each product must contain a plain trace of the other side (no constant, no
    sgn); while all the traces picked this way are zero, the products vanish
    and the synapse cannot change, so the compiled path skips it.
    """
    mask = 0
    for p in products:
        plain = [f.var for f in p.factors if f.var in other_side and f.const == 0 and not f.sgn]
        if not plain:
            return -1
        mask |= 1 << other_side.index(plain[0])
    return mask


class ProjectionLearner:
    """Learning state of one projection, in the projection's own index space.

    ``pre``/``post`` give each synapse's presynaptic and postsynaptic neuron
    (indices into the projection's pre and post populations); ``w`` are the
    stored weight mantissas, ``d`` the delays. ``drivers`` names the y traces
    whose impulses come from a modulatory source instead of the post spikes,
    with ``True`` when one modulator spike drives every post trace. ``kernel``:
    the compiled module (:mod:`neurochip.learning.kernel`) or None for numpy;
    it evaluates an epoch's synapses ``chunk`` at a time, on ``threads``
    threads (OpenMP; the results do not depend on the number).
    """

    def __init__(
        self,
        rule: LearningRule,
        *,
        index: int,
        n_pre: int,
        n_post: int,
        pre,
        post,
        w,
        d,
        sign_mode: str,
        num_weight_bits: int,
        seed: int,
        drivers: dict | None = None,
        kernel=None,
        synapse_ids=None,
        chunk: int = 1024,
        threads: int = 1,
    ):
        self.rule, self.index, self.seed = rule, int(index), int(seed or 0)
        self.n_pre, self.n_post = int(n_pre), int(n_post)
        # compact per-synapse state (hardware widths): the epoch update is memory-bound
        self.pre, self.post = np.array(pre, np.int32), np.array(post, np.int32)
        self.w = np.array(w, np.int16)  # weight mantissa, 9-bit signed
        self.d = np.array(d, np.int16)  # delay, 6 bits
        self.tag = np.zeros(self.w.size, np.int16)  # tag, 9-bit signed
        # the projection's own synapse numbers key the random streams (the arrays here may be
        # in another order, e.g. Brian2's, for memory locality)
        self.sid = (
            np.arange(self.w.size, dtype=np.int32) if synapse_ids is None else np.array(synapse_ids, np.int32)
        )
        self.sign_mode, self.nbits = sign_mode, int(num_weight_bits)
        self.drivers = dict(drivers or {})
        self.t_epoch = rule.t_epoch
        self.stochastic = rule.rounding == "stochastic"
        used = rule.used_traces()
        self.x_used = [k for k, n in enumerate(PRE_TRACES) if n in used]
        self.y_used = [k for k, n in enumerate(POST_TRACES) if n in used]
        self.x = np.zeros((len(PRE_TRACES), self.n_pre), I64)
        self.y = np.zeros((len(POST_TRACES), self.n_post), I64)
        self.hx = np.zeros((self.t_epoch, len(PRE_TRACES), self.n_pre), I64)
        self.hy = np.zeros((self.t_epoch, len(POST_TRACES), self.n_post), I64)
        self.tx = np.zeros(self.n_pre, I64)  # position (1..t_epoch) of the last spike in the epoch
        self.ty = np.zeros(self.n_post, I64)
        self.by_pre = _csr(self.pre, self.n_pre)
        self.by_post = _csr(self.post, self.n_post)
        self.synapses_updated = 0
        self.kernel = kernel
        self.chunk = int(chunk)  # synapses the compiled path evaluates together
        self.threads = int(threads)  # ... and the threads that share an epoch's rows and columns
        if kernel is not None:
            self._prepare_kernel()

    # ------------------------------------------------------- compiled path
    def _prepare_kernel(self):
        from neurochip.learning.kernel import VAR_CODE, product_table
        from neurochip.learning.widths import FACTOR_WIDTH

        rule = self.rule
        used = rule.used_traces()
        reads = {f.var for sop in rule.sums.values() for p in sop.products for f in p.factors}
        reads |= {sop.variable for sop in rule.sums.values()}

        def params(names):
            rows = []
            for n in names:
                c = rule.traces[n]
                rows.append([int(n in used), c.kept, c.decay, c.impulse_int, c.impulse_frac])
            return np.array(rows, I64)

        self.tpx, self.tpy = params(PRE_TRACES), params(POST_TRACES)
        self.prods = product_table(rule)
        self.widths = np.array([FACTOR_WIDTH[v] for v in sorted(VAR_CODE, key=VAR_CODE.get)], I64)
        n = weight_drop_bits(self.sign_mode, self.nbits)
        lo, hi = weight_range(self.sign_mode)
        self.prm = np.array(
            [
                self.t_epoch,
                -1 if rule.u_exp is None else rule.u_exp,
                self.seed & (2**63 - 1),
                self.index,
                int(self.stochastic),
                {"mixed": 0, "excitatory": 1, "inhibitory": 2}[self.sign_mode],
                n,
                (lo >> n) << n,
                (hi >> n) << n,
                0,
                *(int(v in rule.sums) for v in ("dw", "dd", "dt")),
                *(int(v in reads) for v in ("d", "t")),
            ],
            I64,
        )
        assert self.prm.size == 15  # the kernel reads prm[0..14] without bounds checks
        self.cand = np.zeros(self.w.size, I64)
        # which synapses of the spiking rows and columns need updates (scratch, per epoch)
        self.act_x = np.zeros(max(1, (self.t_epoch + 1) * self.n_pre), np.uint8)
        self.act_y = np.zeros(max(1, self.t_epoch * self.n_post), np.uint8)
        post_syn, post_start = self.by_post
        products = [p for sop in rule.sums.values() for p in sop.products]
        rows_sorted = np.array_equal(self.by_pre[0], np.arange(self.w.size))  # synapses in pre order
        sid_ident = np.array_equal(self.sid, np.arange(self.w.size))
        self.kobj = self.kernel.Kernel(
            self.x,
            self.y,
            self.hx,
            self.hy,
            self.tx,
            self.ty,
            self.tpx,
            self.tpy,
            self.pre,
            self.post,
            self.sid,
            self.w,
            self.d,
            self.tag,
            *self.by_pre,
            post_syn,
            self.pre[post_syn],
            post_start,
            np.zeros(0, np.int32) if sid_ident else self.sid[post_syn],  # keys in column order
            self.prods,
            self.widths,
            self.prm,
            self.cand,
            self.act_x,
            self.act_y,
            _sparse_mask([p for p in products if p.dependency == "x0"], POST_TRACES),
            _sparse_mask([p for p in products if p.dependency == "y0"], PRE_TRACES),
            int(rows_sorted),
            int(sid_ident),
            self.chunk,
            self.threads,
        )
        self._check_grid()

    def _check_grid(self):
        """Tell the compiled path whether every weight is on its grid (then it may skip the
        weights a single product's rounded change leaves as they are)."""
        n = weight_drop_bits(self.sign_mode, self.nbits)
        self.kobj.on_grid(bool(np.array_equal((self.w >> n) << n, self.w)))

    STATE = ("w", "d", "tag", "x", "y", "hx", "hy", "tx", "ty")

    def state(self) -> dict:
        """Copies of everything that changes as the learner runs (for checkpoints)."""
        out = {k: getattr(self, k).copy() for k in self.STATE if hasattr(self, k)}
        out["synapses_updated"] = self.synapses_updated
        return out

    def set_state(self, state: dict) -> None:
        """Back to a :meth:`state`; arrays are written in place (the compiled kernel holds them)."""
        for k in self.STATE:
            if hasattr(self, k):
                getattr(self, k)[...] = state[k]
        self.synapses_updated = state["synapses_updated"]
        if self.kernel is not None:
            self._check_grid()

    def attach(self, w_eff: np.ndarray, mantissa: np.ndarray | None, index: np.ndarray, weight_exp: int):
        """Let the compiled path write effective weights (and mantissas) into these arrays."""
        self.prm[9] = weight_exp
        index = np.ascontiguousarray(index, np.int32)
        # a projection usually occupies a contiguous run of Brian2's synapses (then no index lookups)
        off = int(index[0]) if index.size and np.array_equal(index, index[0] + np.arange(index.size)) else -1
        post_b2 = np.zeros(0, np.int32) if off >= 0 else np.ascontiguousarray(index[self.by_post[0]])
        self.kobj.attach(w_eff, mantissa, index, post_b2, off)

    def bind_spaces(self, timestep, cx_space, inp_space, ghost_space, pre_map, post_map, list_updates=True):
        """Where the compiled path's :meth:`step_bound` reads the step and its spikes.

        ``timestep``: Brian2's clock array (steps from 0); the spike spaces of
        the compartments, inputs and ghosts (None: no such group); ``pre_map``
        gives each source's index in this projection (or -1), numbering the
        sources as the spike spaces' compartments, then inputs, then ghosts;
        ``post_map`` likewise for the compartments. No modulators. Without
        ``list_updates``, ``cand`` does not list the updated synapses (only
        their number is returned).
        """
        self.kobj.bind(timestep, cx_space, inp_space, ghost_space, pre_map, post_map, list_updates)
        self.step_bound = self.kobj.step_bound  # -> synapses updated (cand[:n]), or -1

    def _kernel_step(self, t, pre_fired, post_fired, drivers_fired):
        ymode = np.zeros(len(POST_TRACES), I64)
        parts, start = [], [0]
        for k, name in enumerate(POST_TRACES):
            v = drivers_fired.get(name)
            if isinstance(v, (bool, np.bool_)):
                ymode[k] = 1 if v else 2
            elif v is not None:
                ymode[k] = 3
                parts.append(np.asarray(v, I64))
            start.append(start[-1] + (parts[-1].size if ymode[k] == 3 else 0))
        didx = np.concatenate(parts) if parts else np.zeros(0, I64)
        n = self.kobj.step(
            np.ascontiguousarray(pre_fired, I64),
            np.ascontiguousarray(post_fired, I64),
            ymode,
            didx,
            np.array(start, I64),
            t,
        )
        if n < 0:
            return None
        self.synapses_updated += int(n)
        return self.cand[:n].copy() if n else None

    # ------------------------------------------------------------ rounding
    def _r(self, stream: int, ids, step: int, bits: int):
        if self.stochastic:
            return rng.random_bits(self.seed, stream, self.index, ids, step, bits)
        return (1 << (bits - 1)) - 1  # round half up

    # --------------------------------------------------------------- traces
    def _trace_step(self, arr, names, used, fired, t, drivers_fired):
        unity_bits = TRACE_DECAY_BITS
        for k in used:
            name = names[k]
            cfg = self.rule.traces[name]
            if cfg.decay:
                p = arr[k] * cfg.kept
                arr[k] = round_shift(p, unity_bits, self._r(rng.DECAY[name], np.arange(arr.shape[1]), t, 12))
            who = fired
            if name in drivers_fired:
                who = drivers_fired[name]
                if isinstance(who, (bool, np.bool_)):  # a broadcast modulator: all or none
                    who = np.arange(arr.shape[1]) if who else None
            if who is None or not np.size(who) or not (cfg.impulse_int or cfg.impulse_frac):
                continue
            up = cfg.impulse_frac > self._r(rng.IMPULSE[name], who, t, IMPULSE_FRAC_BITS)
            arr[k, who] = np.minimum(arr[k, who] + cfg.impulse_int + up, TRACE_MAX)

    def step(self, t: int, pre_fired: np.ndarray, post_fired: np.ndarray, drivers_fired=None):
        """Advance to the end of step ``t`` (steps from 1); returns updated synapses at epoch ends.

        ``pre_fired``/``post_fired``: indices of the pre and post neurons that
        spiked in step ``t``. ``drivers_fired``: y trace name -> indices of post
        neurons whose modulator spiked (or a bool for a broadcast modulator).
        """
        drivers_fired = drivers_fired or {}
        if self.kernel is not None:
            return self._kernel_step(t, pre_fired, post_fired, drivers_fired)
        self._trace_step(self.x, PRE_TRACES, self.x_used, pre_fired, t, {})
        self._trace_step(self.y, POST_TRACES, self.y_used, post_fired, t, drivers_fired)
        pos = (t - 1) % self.t_epoch + 1
        self.tx[pre_fired] = pos
        self.ty[post_fired] = pos
        self.hx[pos - 1] = self.x
        self.hy[pos - 1] = self.y
        if pos == self.t_epoch:
            return self._epoch(t // self.t_epoch)
        return None

    # ---------------------------------------------------------------- epoch
    def _factor(self, f, spos, pre_c, post_c, old, x0c, y0c):
        if f.var in PRE_TRACES:
            v = self.hx[spos - 1, PRE_TRACES.index(f.var), pre_c]
        elif f.var in POST_TRACES:
            v = self.hy[spos - 1, POST_TRACES.index(f.var), post_c]
        elif f.var == "x0":
            v = x0c
        elif f.var == "y0":
            v = y0c
        else:
            v = old[f.var]
        v = v + f.const
        if f.sgn:
            v = np.sign(v)
        lim = 1 << f.width
        return np.clip(v, -lim, lim - 1)

    def _epoch(self, epoch: int):
        rule = self.rule
        x0, y0 = self.tx > 0, self.ty > 0
        k = rule.u_exp
        u_on = k is not None and epoch % (1 << k) == 0
        if u_on:
            cand = np.arange(self.w.size, dtype=I64)
        else:
            from_pre = _ranges(*self.by_pre, np.flatnonzero(x0))
            cand = np.union1d(from_pre, _ranges(*self.by_post, np.flatnonzero(y0)))
        result = None
        if cand.size:
            result = self._update(cand, x0, y0, u_on, epoch)
        self.tx[:] = 0
        self.ty[:] = 0
        return result

    def _update(self, cand, x0, y0, u_on, epoch):
        pre_c, post_c = self.pre[cand].astype(I64), self.post[cand].astype(I64)
        x0c, y0c = x0[pre_c].astype(I64), y0[post_c].astype(I64)
        old = {"w": self.w[cand].astype(I64), "d": self.d[cand].astype(I64), "t": self.tag[cand].astype(I64)}
        end = np.full(cand.size, self.t_epoch, I64)
        new = {}
        for sop in self.rule.sums.values():
            var = sop.variable
            acc = old[var] << ACC_FRAC_BITS
            for p in sop.products:
                if p.dependency == "x0":
                    dep, spos = x0c, np.maximum(self.tx[pre_c], 1)
                elif p.dependency == "y0":
                    dep, spos = y0c, np.maximum(self.ty[post_c], 1)
                elif u_on:
                    dep, spos = np.ones(cand.size, I64), end
                else:
                    continue
                val = dep * p.mantissa
                for f in p.factors:
                    val = val * self._factor(f, spos, pre_c, post_c, old, x0c, y0c)
                val = (val >> p.shift) << p.shift
                val = np.clip(val << (p.exponent + ACC_FRAC_BITS), ACC_MIN, ACC_MAX)
                acc = np.clip(acc + val, ACC_MIN, ACC_MAX)
            new[var] = self._round(var, acc, cand, epoch)
        self.w[cand] = new.get("w", old["w"])
        self.d[cand] = new.get("d", old["d"])
        self.tag[cand] = new.get("t", old["t"])
        self.synapses_updated += int(cand.size)
        return cand

    def _round(self, var, acc, cand, epoch):
        if var == "w":
            if self.sign_mode == "excitatory":
                acc = np.maximum(acc, 0)
            elif self.sign_mode == "inhibitory":
                acc = np.minimum(acc, 0)
            n = weight_drop_bits(self.sign_mode, self.nbits)
            k = ACC_FRAC_BITS + n
            lo, hi = weight_range(self.sign_mode)
            # the grid points of the representable range (-256 is one for inhibitory weights)
            grid_lo, grid_hi = (lo >> n) << n, (hi >> n) << n
            v = round_shift(acc, k, self._r(rng.UPDATE["w"], self.sid[cand], epoch, k)) << n
            return np.clip(v, grid_lo, grid_hi)
        lo, hi = (DELAY_MIN, DELAY_MAX) if var == "d" else (TAG_MIN, TAG_MAX)
        v = round_shift(acc, ACC_FRAC_BITS, self._r(rng.UPDATE[var], self.sid[cand], epoch, ACC_FRAC_BITS))
        return np.clip(v, lo, hi)
