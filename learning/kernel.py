"""The learning engine's per-step work as one compiled Cython function.

Same state layout, arithmetic and random streams as the numpy implementation
in :mod:`neurochip.learning.engine` (bit for bit; tests hold both to the
reference). Compiled at first use through Brian2's Cython extension manager
(and cached with Brian2's own code), integer-only: no float type, literal or
function appears in :data:`SOURCE`.
"""

from __future__ import annotations

import numpy as np
from neurochip.learning.widths import (
    ACC_FRAC_BITS,
    ACC_MAX,
    ACC_MIN,
    DELAY_MAX,
    DELAY_MIN,
    TAG_MAX,
    TAG_MIN,
    TRACE_DECAY_BITS,
    TRACE_MAX,
)

MAX_FACTORS = 8
# factor variable codes in the product table
VAR_CODE = {"x1": 0, "x2": 1, "y1": 2, "y2": 3, "y3": 4, "x0": 5, "y0": 6, "w": 7, "d": 8, "t": 9}
DEP_CODE = {"x0": 0, "y0": 1, "u": 2}
TARGET_CODE = {"w": 0, "d": 1, "t": 2}

SOURCE = f"""
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

cdef uint64_t M1 = 0xBF58476D1CE4E5B9
cdef uint64_t M2 = 0x94D049BB133111EB
cdef uint64_t GOLD = 0x9E3779B97F4A7C15
cdef int64_t ROW = {6 + 3 * MAX_FACTORS}

cdef inline uint64_t mix(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * M1
    z = (z ^ (z >> 27)) * M2
    return z ^ (z >> 31)

cdef inline uint64_t base(uint64_t seed, uint64_t stream, uint64_t proj, uint64_t step) noexcept nogil:
    cdef uint64_t z = mix(seed * GOLD + stream)
    z = mix(z ^ (proj * GOLD))
    return mix(z ^ (step * M1))

cdef inline int64_t bits_of(uint64_t b, uint64_t ident, int64_t bits) noexcept nogil:
    return <int64_t>(mix(b ^ (ident * GOLD)) >> (64 - bits))

cdef inline int64_t round_shift(int64_t v, int64_t k, int64_t r) noexcept nogil:
    if k == 0:
        return v
    return (v >> k) + (1 if (v & ((<int64_t>1 << k) - 1)) > r else 0)

cdef inline int64_t clip(int64_t v, int64_t lo, int64_t hi) noexcept nogil:
    return lo if v < lo else (hi if v > hi else v)

cdef size_t ptr(object arr):
    # data address of a C-contiguous numpy array (0 when empty)
    return <size_t>arr.ctypes.data if arr.size else 0


@cython.final
cdef class Kernel:
    # The numpy arrays are owned by the Python learner (kept alive here); the loops use raw pointers.
    cdef object keep
    cdef int64_t *x
    cdef int64_t *y
    cdef int64_t *hx
    cdef int64_t *hy
    cdef int64_t *tx
    cdef int64_t *ty
    cdef int64_t *tpx
    cdef int64_t *tpy
    cdef int64_t *prods
    cdef int64_t *widths
    cdef int64_t *prm
    cdef int64_t *pre_start
    cdef int64_t *post_start
    cdef int64_t *cand
    cdef int32_t *pre
    cdef int32_t *post
    cdef int32_t *sid
    cdef int32_t *pre_order
    cdef int32_t *post_syn
    cdef int32_t *post_pre
    cdef int32_t *post_sid
    cdef int16_t *w
    cdef int16_t *d
    cdef int16_t *tag
    cdef uint8_t *act_x
    cdef uint8_t *act_y
    cdef int32_t *b2_w
    cdef int32_t *b2_wm
    cdef int32_t *b2_index
    cdef int32_t *post_b2
    cdef int64_t nx, ny, nsyn, nprod, row_mask, col_mask, rows_sorted

    def __init__(self, x, y, hx, hy, tx, ty, tpx, tpy, pre, post, sid, w, d, tag, pre_order, pre_start,
                 post_syn, post_pre, post_start, post_sid, prods, widths, prm, cand, act_x, act_y,
                 int64_t row_mask, int64_t col_mask, int64_t rows_sorted):
        self.keep = [x, y, hx, hy, tx, ty, tpx, tpy, pre, post, sid, w, d, tag, pre_order, pre_start,
                     post_syn, post_pre, post_start, post_sid, prods, widths, prm, cand, act_x, act_y]
        self.x = <int64_t*>ptr(x)
        self.y = <int64_t*>ptr(y)
        self.hx = <int64_t*>ptr(hx)
        self.hy = <int64_t*>ptr(hy)
        self.tx = <int64_t*>ptr(tx)
        self.ty = <int64_t*>ptr(ty)
        self.tpx = <int64_t*>ptr(tpx)
        self.tpy = <int64_t*>ptr(tpy)
        self.pre = <int32_t*>ptr(pre)
        self.post = <int32_t*>ptr(post)
        self.sid = <int32_t*>ptr(sid)
        self.w = <int16_t*>ptr(w)
        self.d = <int16_t*>ptr(d)
        self.tag = <int16_t*>ptr(tag)
        self.pre_order = <int32_t*>ptr(pre_order)
        self.pre_start = <int64_t*>ptr(pre_start)
        self.post_syn = <int32_t*>ptr(post_syn)
        self.post_pre = <int32_t*>ptr(post_pre)
        self.post_start = <int64_t*>ptr(post_start)
        self.post_sid = <int32_t*>ptr(post_sid)
        self.prods = <int64_t*>ptr(prods)
        self.widths = <int64_t*>ptr(widths)
        self.prm = <int64_t*>ptr(prm)
        self.cand = <int64_t*>ptr(cand)
        self.act_x = <uint8_t*>ptr(act_x)
        self.act_y = <uint8_t*>ptr(act_y)
        self.nx, self.ny, self.nsyn, self.nprod = tx.size, ty.size, w.size, prods.shape[0]
        self.row_mask, self.col_mask, self.rows_sorted = row_mask, col_mask, rows_sorted
        self.b2_w = self.b2_wm = self.b2_index = self.post_b2 = NULL

    def attach(self, b2_w, b2_wm, b2_index, post_b2):
        self.keep += [b2_w, b2_wm, b2_index, post_b2]
        self.b2_w = <int32_t*>ptr(b2_w)
        self.b2_index = <int32_t*>ptr(b2_index)
        self.post_b2 = <int32_t*>ptr(post_b2)
        self.b2_wm = <int32_t*>ptr(b2_wm) if b2_wm is not None else NULL

    def step(self, pre_fired, post_fired, ymode, didx, dstart, int64_t t):
        cdef int64_t *pf = <int64_t*>ptr(pre_fired)
        cdef int64_t *qf = <int64_t*>ptr(post_fired)
        cdef int64_t *ym = <int64_t*>ptr(ymode)
        cdef int64_t *di = <int64_t*>ptr(didx)
        cdef int64_t *ds = <int64_t*>ptr(dstart)
        cdef int64_t npf = pre_fired.size, nqf = post_fired.size, r
        with nogil:
            r = self.run(pf, npf, qf, nqf, ym, di, ds, t)
        return r

    cdef void traces(self, int64_t *arr, int64_t ntr, int64_t n, int64_t *tp, int64_t first, int64_t *own,
                     int64_t nown, int64_t *mode, int64_t *didx, int64_t *dstart, int64_t t) noexcept nogil:
        # tp rows: used, kept, decay, impulse int, impulse fraction; mode per trace (NULL: all 0):
        # 0 own spikes, 1 broadcast modulator spiked, 2 broadcast did not, 3 listed owners
        cdef int64_t k, i, j, p, r, lo, hi, m, stochastic = self.prm[4]
        cdef uint64_t b, seed = <uint64_t>self.prm[2]
        cdef int64_t proj = self.prm[3]
        cdef int64_t *row
        for k in range(ntr):
            if tp[k * 5] == 0:
                continue
            row = arr + k * n
            if tp[k * 5 + 2] != 0:
                b = base(seed, 1 + first + k, proj, t)
                for i in range(n):
                    p = row[i] * tp[k * 5 + 1]
                    r = {(1 << (TRACE_DECAY_BITS - 1)) - 1}
                    if stochastic:
                        r = bits_of(b, i, {TRACE_DECAY_BITS})
                    row[i] = round_shift(p, {TRACE_DECAY_BITS}, r)
            m = mode[k] if mode != NULL else 0
            if (tp[k * 5 + 3] == 0 and tp[k * 5 + 4] == 0) or m == 2:
                continue
            b = base(seed, 11 + first + k, proj, t)
            if m == 1:
                lo, hi = 0, n
            elif m == 3:
                lo, hi = dstart[k], dstart[k + 1]
            else:
                lo, hi = 0, nown
            for j in range(lo, hi):
                i = j if m == 1 else (didx[j] if m == 3 else own[j])
                r = bits_of(b, i, 7) if stochastic else 63
                p = row[i] + tp[k * 5 + 3] + (1 if tp[k * 5 + 4] > r else 0)
                row[i] = p if p < {TRACE_MAX} else {TRACE_MAX}

    cdef inline void update(self, int64_t s, int64_t i, int64_t j, int64_t sidv, int64_t b2k, int64_t u_on,
                            uint64_t bw, uint64_t bd, uint64_t bt) noexcept nogil:
        cdef int64_t *prm = self.prm
        cdef int64_t *pr
        cdef int64_t t_epoch = prm[0], nx = self.nx, ny = self.ny, stochastic = prm[4]
        cdef int64_t x0c = 1 if self.tx[i] > 0 else 0
        cdef int64_t y0c = 1 if self.ty[j] > 0 else 0
        cdef int64_t old_w = self.w[s], old_d = 0, old_t = 0, new_w, new_d, new_t
        cdef int64_t var, k, f, vc, v, val, acc, width, spos, dep_ok, ks, e
        if prm[13]:
            old_d = self.d[s]
        if prm[14]:
            old_t = self.tag[s]
        new_w, new_d, new_t = old_w, old_d, old_t
        for var in range(3):
            if prm[10 + var] == 0:
                continue
            acc = (old_w if var == 0 else (old_d if var == 1 else old_t)) << {ACC_FRAC_BITS}
            for k in range(self.nprod):
                pr = self.prods + k * ROW
                if pr[0] != var:
                    continue
                if pr[1] == 0:
                    dep_ok, spos = x0c, (self.tx[i] if x0c else 1)
                elif pr[1] == 1:
                    dep_ok, spos = y0c, (self.ty[j] if y0c else 1)
                else:
                    dep_ok, spos = u_on, t_epoch
                if dep_ok == 0:
                    continue
                val = pr[2]
                for f in range(pr[5]):
                    vc = pr[6 + 3 * f]
                    if vc < 2:
                        v = self.hx[((spos - 1) * 2 + vc) * nx + i]
                    elif vc < 5:
                        v = self.hy[((spos - 1) * 3 + vc - 2) * ny + j]
                    elif vc == 5:
                        v = x0c
                    elif vc == 6:
                        v = y0c
                    elif vc == 7:
                        v = old_w
                    elif vc == 8:
                        v = old_d
                    else:
                        v = old_t
                    v = v + pr[7 + 3 * f]
                    if pr[8 + 3 * f]:
                        v = (1 if v > 0 else 0) - (1 if v < 0 else 0)
                        width = 1
                    else:
                        width = self.widths[vc]
                    val = val * clip(v, -(<int64_t>1 << width), (<int64_t>1 << width) - 1)
                val = (val >> pr[4]) << pr[4]
                val = clip(val << (pr[3] + {ACC_FRAC_BITS}), {ACC_MIN}, {ACC_MAX})
                acc = clip(acc + val, {ACC_MIN}, {ACC_MAX})
            if var == 0:
                if prm[5] == 1 and acc < 0:
                    acc = 0
                elif prm[5] == 2 and acc > 0:
                    acc = 0
                ks = {ACC_FRAC_BITS} + prm[6]
                v = bits_of(bw, sidv, ks) if stochastic else (<int64_t>1 << (ks - 1)) - 1
                new_w = clip(round_shift(acc, ks, v) << prm[6], prm[7], prm[8])
            elif var == 1:
                v = bits_of(bd, sidv, {ACC_FRAC_BITS}) if stochastic else 63
                new_d = clip(round_shift(acc, {ACC_FRAC_BITS}, v), {DELAY_MIN}, {DELAY_MAX})
            else:
                v = bits_of(bt, sidv, {ACC_FRAC_BITS}) if stochastic else 63
                new_t = clip(round_shift(acc, {ACC_FRAC_BITS}, v), {TAG_MIN}, {TAG_MAX})
        if prm[11]:
            self.d[s] = <int16_t>new_d
        if prm[12]:
            self.tag[s] = <int16_t>new_t
        if new_w == old_w:
            return  # often: the change rounded away; skip the (scattered) writes
        self.w[s] = <int16_t>new_w
        if self.b2_w != NULL:
            e = prm[9]
            self.b2_w[b2k] = <int32_t>((new_w << (e + 6)) if e >= 0 else ((new_w >> (-e)) << 6))
            if self.b2_wm != NULL:
                self.b2_wm[b2k] = <int32_t>new_w

    cdef int64_t run(self, int64_t *pf, int64_t npf, int64_t *qf, int64_t nqf, int64_t *ymode,
                     int64_t *didx, int64_t *dstart, int64_t t) noexcept nogil:
        # prm: t_epoch, u_exp (-1 none), seed, projection, stochastic, sign mode (0 mixed, 1 exc, 2 inh),
        #      dropped weight bits, grid low, grid high, weight exponent, has w/d/t rules (3 flags),
        #      reads d, reads t (as a factor or for its own rule)
        cdef int64_t *prm = self.prm
        cdef int64_t t_epoch = prm[0], uk = prm[1], proj = prm[3], nx = self.nx, ny = self.ny
        cdef uint64_t seed = <uint64_t>prm[2], bw, bd, bt
        cdef int64_t pos = (t - 1) % t_epoch + 1, i, j, s, k, f, n = 0, ep, u_on, p, off, row = 0, b2k
        cdef bint ok
        self.traces(self.x, 2, nx, self.tpx, 0, pf, npf, NULL, didx, dstart, t)
        self.traces(self.y, 3, ny, self.tpy, 2, qf, nqf, ymode, didx, dstart, t)
        for j in range(npf):
            self.tx[pf[j]] = pos
        for j in range(nqf):
            self.ty[qf[j]] = pos
        if nx:
            memcpy(self.hx + (pos - 1) * 2 * nx, self.x, 2 * nx * sizeof(int64_t))
        if ny:
            memcpy(self.hy + (pos - 1) * 3 * ny, self.y, 3 * ny * sizeof(int64_t))
        if pos != t_epoch:
            return -1
        ep = t // t_epoch
        u_on = 1 if (uk >= 0 and ep % (<int64_t>1 << uk) == 0) else 0
        bw = base(seed, 21, proj, ep)
        bd = base(seed, 22, proj, ep)
        bt = base(seed, 23, proj, ep)
        if u_on:
            for s in range(self.nsyn):
                if self.rows_sorted:
                    while self.pre_start[row + 1] <= s:
                        row += 1
                    i = row
                else:
                    i = self.pre[s]
                b2k = self.b2_index[s] if self.b2_index != NULL else 0
                self.update(s, i, self.post[s], self.sid[s], b2k, 1, bw, bd, bt)
                self.cand[n] = s
                n += 1
        else:
            # act_y[(pos - 1) * ny + j]: are the post traces the x0 products need non-zero at that
            # step (a product with a plain trace of the other side vanishes while it is zero)
            if self.row_mask > 0:
                for p in range(t_epoch):
                    for j in range(ny):
                        ok = 0
                        for f in range(3):
                            if (self.row_mask >> f) & 1 and self.hy[(p * 3 + f) * ny + j] != 0:
                                ok = 1
                        self.act_y[p * ny + j] = ok
            if self.col_mask > 0:
                for p in range(t_epoch):
                    for i in range(nx):
                        ok = 0
                        for f in range(2):
                            if (self.col_mask >> f) & 1 and self.hx[(p * 2 + f) * nx + i] != 0:
                                ok = 1
                        self.act_x[p * nx + i] = ok
            # rows of the sources that spiked (memory in order), with any post products they need
            for i in range(nx):
                if self.tx[i] == 0:
                    continue
                off = (self.tx[i] - 1) * ny
                for k in range(self.pre_start[i], self.pre_start[i + 1]):
                    s = self.pre_order[k]
                    j = self.post[s]
                    ok = self.row_mask < 0 or (self.row_mask > 0 and self.act_y[off + j])
                    if not ok and self.ty[j] > 0:
                        p = (self.ty[j] - 1) * nx + i
                        ok = self.col_mask < 0 or (self.col_mask > 0 and self.act_x[p])
                    if ok:
                        b2k = self.b2_index[s] if self.b2_index != NULL else 0
                        self.update(s, i, j, self.sid[s], b2k, 0, bw, bd, bt)
                        self.cand[n] = s
                        n += 1
            # columns of the targets that spiked, minus the synapses the row pass handled
            for j in range(ny):
                if self.ty[j] == 0 or self.col_mask == 0:
                    continue
                off = (self.ty[j] - 1) * nx
                for k in range(self.post_start[j], self.post_start[j + 1]):
                    i = self.post_pre[k]
                    if self.tx[i] > 0:
                        continue
                    if self.col_mask < 0 or self.act_x[off + i]:
                        s = self.post_syn[k]
                        b2k = self.post_b2[k] if self.post_b2 != NULL else 0
                        self.update(s, i, j, self.post_sid[k], b2k, 0, bw, bd, bt)
                        self.cand[n] = s
                        n += 1
        for i in range(nx):
            self.tx[i] = 0
        for j in range(ny):
            self.ty[j] = 0
        return n
"""


def compiled():
    """The compiled kernel module (compiled once per process, cached on disk by Brian2)."""
    from neurochip.native import compile_cython

    return compile_cython(SOURCE, "neurochip_learning")


def product_table(rule) -> np.ndarray:
    """The rule's products as integer rows for the kernel."""
    rows = []
    for sop in rule.sums.values():
        for p in sop.products:
            if len(p.factors) > MAX_FACTORS:
                raise ValueError(f"a product with more than {MAX_FACTORS} factors: {p.text!r}")
            row = [
                TARGET_CODE[sop.variable],
                DEP_CODE[p.dependency],
                p.mantissa,
                p.exponent,
                p.shift,
                len(p.factors),
            ] + [0] * (3 * MAX_FACTORS)
            for k, f in enumerate(p.factors):
                row[6 + 3 * k : 9 + 3 * k] = [VAR_CODE[f.var], f.const, int(f.sgn)]
            rows.append(row)
    return np.array(rows, np.int64).reshape(-1, 6 + 3 * MAX_FACTORS)
