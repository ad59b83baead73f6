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
import numpy as np
from cython.parallel cimport prange, threadid
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

cdef extern from *:
    # GCC/Clang builtin; memory order 0 is __ATOMIC_RELAXED
    long long atomic_fetch_add "__atomic_fetch_add" (long long *p, long long v, int order) noexcept nogil

DEF MAX_THREADS = 64

# one thread's chunk buffers: candidates (synapse, pre, post, key, Brian2 index), old and new
# w/d/t, dependencies and spike positions, the u products' position, accumulator, scratch
cdef struct Scratch:
    int64_t *bs
    int64_t *bi
    int64_t *bj
    int64_t *bid
    int64_t *bb
    int64_t *ow
    int64_t *od
    int64_t *ot
    int64_t *nw
    int64_t *nd
    int64_t *nt
    int64_t *bx0
    int64_t *by0
    int64_t *bpx
    int64_t *bpy
    int64_t *bte
    int64_t *acc
    int64_t *val
    int64_t *raw
    int64_t *nz

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
    cdef object attached, bound  # the backend's arrays of attach() and bind() (replaced by each call)
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
    cdef int32_t *post_b2
    cdef int16_t *w
    cdef int16_t *d
    cdef int16_t *tag
    cdef uint8_t *act_x
    cdef uint8_t *act_y
    cdef int32_t *b2_w
    cdef int32_t *b2_wm
    cdef int32_t *b2_index
    cdef int64_t nx, ny, nsyn, nprod, row_mask, col_mask, rows_sorted
    # the synapses of an epoch are evaluated in chunks, one pass per product factor over a chunk:
    # tight loops with the rule's branches outside them, and the weight loads issued together
    cdef int64_t chunk, u_on, nthreads, n_rows
    cdef long long ncand
    cdef int64_t *items
    cdef int64_t *pf
    cdef int64_t *qf
    cdef int64_t *clock
    cdef bint list_updates  # fill cand with the updated synapses (else only count them)
    cdef int64_t *pmap
    cdef int64_t *qmap
    cdef int32_t *space[3]
    cdef int64_t space_n[3]
    # sid_ident: the synapse numbers are the positions; b2_off >= 0: Brian2's index is b2_off + position
    cdef int64_t sid_ident, b2_off
    # one_pass: the rule changes only weights, no product reads w, d or t, and the weights are on
    # their sign mode's grid (see triage); rule_one_pass: the rule's part of it
    cdef int64_t one_pass, rule_one_pass
    cdef uint64_t bw, bd, bt
    cdef Scratch scratch[MAX_THREADS]

    def __init__(self, x, y, hx, hy, tx, ty, tpx, tpy, pre, post, sid, w, d, tag, pre_order, pre_start,
                 post_syn, post_pre, post_start, post_sid, prods, widths, prm, cand, act_x, act_y,
                 int64_t row_mask, int64_t col_mask, int64_t rows_sorted, int64_t sid_ident, int64_t chunk,
                 int64_t threads):
        cdef int64_t *b
        cdef int64_t k, f
        cdef Scratch *S
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
        self.chunk = chunk
        self.sid_ident, self.b2_off = sid_ident, -1
        self.nthreads = max(1, min(threads, MAX_THREADS))
        self.list_updates = 1
        self.rule_one_pass = prm[10] == 1 and prm[11] == 0 and prm[12] == 0 and prm[13] == 0 and prm[14] == 0
        for k in range(self.nprod):
            for f in range(prods[k, 5]):
                if prods[k, 6 + 3 * f] >= 7:
                    self.rule_one_pass = 0
        self.one_pass = 0  # until on_grid() says the weights are
        buf = np.zeros((self.nthreads, 20, chunk), np.int64)
        buf[:, 15] = prm[0]  # bte: the u products read the traces at the epoch's end
        fired = np.zeros(max(1, tx.size) + max(1, ty.size), np.int64)
        items = np.zeros(max(1, tx.size + ty.size), np.int64)  # an epoch's spiking rows and columns
        self.keep += [buf, fired, items]
        self.pf = <int64_t*>ptr(fired)
        self.qf = self.pf + (<int64_t>max(1, tx.size))
        self.items = <int64_t*>ptr(items)
        for k in range(self.nthreads):
            b = <int64_t*>ptr(buf) + k * 20 * chunk
            S = &self.scratch[k]
            S.bs, S.bi, S.bj, S.bid = b, b + chunk, b + 2 * chunk, b + 3 * chunk
            S.bb, S.ow, S.od, S.ot = b + 4 * chunk, b + 5 * chunk, b + 6 * chunk, b + 7 * chunk
            S.nw, S.nd, S.nt = b + 8 * chunk, b + 9 * chunk, b + 10 * chunk
            S.bx0, S.by0, S.bpx = b + 11 * chunk, b + 12 * chunk, b + 13 * chunk
            S.bpy, S.bte, S.acc = b + 14 * chunk, b + 15 * chunk, b + 16 * chunk
            S.val, S.raw, S.nz = b + 17 * chunk, b + 18 * chunk, b + 19 * chunk

    def on_grid(self, bint weights_on_grid):
        # whether every weight is on its grid (updates keep them there)
        self.one_pass = self.rule_one_pass and weights_on_grid

    def attach(self, b2_w, b2_wm, b2_index, post_b2, int64_t b2_off):
        self.attached = (b2_w, b2_wm, b2_index, post_b2)
        self.post_b2 = <int32_t*>ptr(post_b2)
        self.b2_off = b2_off
        self.b2_w = <int32_t*>ptr(b2_w)
        self.b2_index = <int32_t*>ptr(b2_index)
        self.b2_wm = <int32_t*>ptr(b2_wm) if b2_wm is not None else NULL

    def bind(self, timestep, cx_space, inp_space, ghost_space, pre_map, post_map, bint list_updates):
        # where step_bound reads the step (Brian2's clock, steps from 0) and the step's spikes:
        # Brian2's spike spaces (the fired indices, their count last; None: no such group);
        # pre_map numbers the sources as the compartments, then the inputs, then the ghosts,
        # post_map the compartments
        cdef int64_t g
        self.bound = (timestep, cx_space, inp_space, ghost_space, pre_map, post_map)
        self.list_updates = list_updates
        self.clock = <int64_t*>ptr(timestep)
        self.pmap = <int64_t*>ptr(pre_map)
        self.qmap = <int64_t*>ptr(post_map)
        for g, space in enumerate((cx_space, inp_space, ghost_space)):
            self.space[g] = <int32_t*>ptr(space) if space is not None else NULL
            self.space_n[g] = space.shape[0] - 1 if space is not None else 0

    def step_bound(self):
        # one step from the bound spike spaces (no modulators): synapses updated, or -1
        cdef int64_t npf = 0, nqf = 0, k, c, r, g, off = 0
        cdef int32_t *sp
        cdef int64_t *pf = self.pf
        cdef int64_t *qf = self.qf
        with nogil:
            for g in range(3):
                sp = self.space[g]
                if sp == NULL:
                    continue
                for k in range(sp[self.space_n[g]]):
                    c = self.pmap[off + sp[k]]
                    if c >= 0:
                        pf[npf] = c
                        npf += 1
                    if g == 0 and self.qmap[sp[k]] >= 0:
                        qf[nqf] = self.qmap[sp[k]]
                        nqf += 1
                off += self.space_n[g]
            r = self.run(pf, npf, qf, nqf, NULL, NULL, NULL, self.clock[0] + 1)
        return r

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
            if tp[k * 5 + 2] != 0:  # (two loops without branches: the compiler vectorises them)
                b = base(seed, 1 + first + k, proj, t)
                p = tp[k * 5 + 1]
                if stochastic:
                    for i in range(n):
                        r = bits_of(b, i, {TRACE_DECAY_BITS})
                        row[i] = round_shift(row[i] * p, {TRACE_DECAY_BITS}, r)
                else:
                    r = {(1 << (TRACE_DECAY_BITS - 1)) - 1}
                    for i in range(n):
                        row[i] = round_shift(row[i] * p, {TRACE_DECAY_BITS}, r)
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

    cdef void product(self, Scratch *S, int64_t *pr, int64_t nb, bint exact) noexcept nogil:
        # adds one product to acc[:nb] for the buffered synapses; a product whose dependency did
        # not fire adds 0 (the accumulator is in range, so that is the same as skipping it).
        # Not exact: acc sums the products without saturating, and nz counts the non-zero ones
        cdef int64_t *val = S.val
        cdef int64_t *raw = S.raw
        cdef int64_t *acc = S.acc
        cdef int64_t *dep
        cdef int64_t *sp
        cdef int64_t *tr
        cdef int64_t *own
        cdef int64_t q, f, vc, c, lo, hi, v, stride, m = pr[2], sh = pr[4], e = pr[3] + {ACC_FRAC_BITS}
        if pr[1] == 0:
            dep, sp = S.bx0, S.bpx
        elif pr[1] == 1:
            dep, sp = S.by0, S.bpy
        else:
            dep = NULL
            sp = S.bte
        for q in range(nb):
            val[q] = m
        for f in range(pr[5]):
            vc, c = pr[6 + 3 * f], pr[7 + 3 * f]
            tr = NULL
            stride = 0
            if vc < 2:
                tr, stride, own = self.hx + vc * self.nx, 2 * self.nx, S.bi
            elif vc < 5:
                tr, stride, own = self.hy + (vc - 2) * self.ny, 3 * self.ny, S.bj
            elif vc == 5:
                own = S.bx0
            elif vc == 6:
                own = S.by0
            elif vc == 7:
                own = S.ow
            elif vc == 8:
                own = S.od
            else:
                own = S.ot
            if tr != NULL:
                for q in range(nb):
                    raw[q] = tr[(sp[q] - 1) * stride + own[q]]
                own = raw
            if pr[8 + 3 * f]:
                for q in range(nb):
                    v = own[q] + c
                    val[q] = val[q] * ((v > 0) - (v < 0))
            else:
                lo = -(<int64_t>1 << self.widths[vc])
                hi = -lo - 1
                for q in range(nb):
                    val[q] = val[q] * clip(own[q] + c, lo, hi)
        if not exact:
            for q in range(nb):
                v = clip(((val[q] >> sh) << sh) << e, {ACC_MIN}, {ACC_MAX})
                if dep != NULL:
                    v = v * dep[q]
                acc[q] += v
                S.nz[q] += v != 0
        elif dep != NULL:
            for q in range(nb):
                v = clip(((val[q] >> sh) << sh) << e, {ACC_MIN}, {ACC_MAX})
                acc[q] = clip(acc[q] + v * dep[q], {ACC_MIN}, {ACC_MAX})
        else:
            for q in range(nb):
                v = clip(((val[q] >> sh) << sh) << e, {ACC_MIN}, {ACC_MAX})
                acc[q] = clip(acc[q] + v, {ACC_MIN}, {ACC_MAX})

    cdef void flush(self, Scratch *S, int64_t nb) noexcept nogil:
        # updates the nb buffered synapses: their keys and Brian2 indices, then (rules whose
        # products read no synaptic variable) the synapses with at most one non-zero product, then
        # the others
        cdef int64_t q
        if nb == 0:
            return
        q = atomic_fetch_add(&self.ncand, nb, 0)
        if self.list_updates:
            memcpy(self.cand + q, S.bs, nb * sizeof(int64_t))
        if self.sid_ident:
            memcpy(S.bid, S.bs, nb * sizeof(int64_t))
        if self.b2_off >= 0:
            for q in range(nb):
                S.bb[q] = self.b2_off + S.bs[q]
        if self.one_pass:
            nb = self.triage(S, nb)
        self.evaluate(S, nb)

    cdef inline void prepare(self, Scratch *S, int64_t nb) noexcept nogil:
        # per synapse: did its pre (post) neuron spike this epoch, and at which step (else 1)
        cdef int64_t q, a
        for q in range(nb):
            a = self.tx[S.bi[q]]
            S.bx0[q] = a > 0
            S.bpx[q] = a if a > 0 else 1
            a = self.ty[S.bj[q]]
            S.by0[q] = a > 0
            S.bpy[q] = a if a > 0 else 1

    cdef inline void store(self, int64_t s, int64_t bidx, int64_t nw) noexcept nogil:
        # a changed weight: the learner's mantissa, and Brian2's effective weight (and mantissa)
        cdef int64_t e = self.prm[9]
        self.w[s] = <int16_t>nw
        if self.b2_w != NULL:
            self.b2_w[bidx] = <int32_t>((nw << (e + 6)) if e >= 0 else ((nw >> (-e)) << 6))
            if self.b2_wm != NULL:
                self.b2_wm[bidx] = <int32_t>nw

    cdef int64_t triage(self, Scratch *S, int64_t nb) noexcept nogil:
        # Synapses with no non-zero product keep their weight. With one, the accumulator
        # saturating (once) and the final clip give the same result as adding the rounded product
        # to the weight and clipping, so a product that rounds to 0 leaves the weight as it is: the
        # weight is read (a cache miss for a column's synapses) only when it may change. The
        # others move to the front of the buffers for the exact evaluation; returns their number.
        cdef int64_t *prm = self.prm
        cdef int64_t *acc = S.acc
        cdef int64_t *nz = S.nz
        cdef int64_t q, k, m = 0, r, s, o, a, nw, stochastic = prm[4], sign = prm[5], drop = prm[6]
        cdef int64_t glo = prm[7], ghi = prm[8], ks = {ACC_FRAC_BITS} + prm[6]
        cdef int64_t half = (<int64_t>1 << (ks - 1)) - 1
        self.prepare(S, nb)
        for q in range(nb):
            acc[q] = 0
            nz[q] = 0
        for k in range(self.nprod):
            if self.prods[k * ROW + 1] != 2 or self.u_on:
                self.product(S, self.prods + k * ROW, nb, 0)
        # the random bits (the same the exact path would draw), then which weights may change
        cdef int64_t *rr = S.val
        cdef int64_t *one = S.raw
        cdef int64_t *ow = S.ow
        cdef int64_t n1 = 0
        if stochastic:
            for q in range(nb):
                rr[q] = bits_of(self.bw, S.bid[q], ks)
        else:
            for q in range(nb):
                rr[q] = half
        for q in range(nb):
            one[n1] = q
            n1 += (nz[q] == 1) & (round_shift(acc[q], ks, rr[q]) != 0)
        for k in range(n1):  # their weights, loaded together
            ow[k] = self.w[S.bs[one[k]]]
        for k in range(n1):
            q = one[k]
            a = clip((ow[k] << {ACC_FRAC_BITS}) + acc[q], {ACC_MIN}, {ACC_MAX})
            if sign == 1 and a < 0:
                a = 0
            elif sign == 2 and a > 0:
                a = 0
            nw = clip(round_shift(a, ks, rr[q]) << drop, glo, ghi)
            if nw != ow[k]:
                self.store(S.bs[q], S.bb[q], nw)
        for q in range(nb):  # two or more products: to the front, for the exact evaluation
            if nz[q] >= 2:
                S.bs[m], S.bi[m], S.bj[m], S.bid[m], S.bb[m] = S.bs[q], S.bi[q], S.bj[q], S.bid[q], S.bb[q]
                m += 1
        return m

    cdef void evaluate(self, Scratch *S, int64_t nb) noexcept nogil:
        # evaluates the rule for the nb buffered synapses and writes the results
        cdef int64_t *prm = self.prm
        cdef int64_t *bs = S.bs
        cdef int64_t *bid = S.bid
        cdef int64_t *ow = S.ow
        cdef int64_t *od = S.od
        cdef int64_t *ot = S.ot
        cdef int64_t *nw = S.nw
        cdef int64_t *acc = S.acc
        cdef int16_t *w = self.w
        cdef int16_t *d = self.d
        cdef int16_t *tag = self.tag
        cdef int64_t *old
        cdef int64_t *new
        cdef int64_t q, k, var, ks, stochastic = prm[4], sign = prm[5], drop = prm[6]
        cdef int64_t glo = prm[7], ghi = prm[8], half, u_on = self.u_on
        cdef uint64_t b
        if nb == 0:
            return
        for q in range(nb):
            ow[q] = w[bs[q]]
        if prm[13]:
            for q in range(nb):
                od[q] = d[bs[q]]
        if prm[14]:
            for q in range(nb):
                ot[q] = tag[bs[q]]
        self.prepare(S, nb)
        for var in range(3):
            if prm[10 + var] == 0:
                continue
            old = ow if var == 0 else (od if var == 1 else ot)
            new = nw if var == 0 else (S.nd if var == 1 else S.nt)
            for q in range(nb):
                acc[q] = old[q] << {ACC_FRAC_BITS}
            for k in range(self.nprod):
                if self.prods[k * ROW] == var and (self.prods[k * ROW + 1] != 2 or u_on):
                    self.product(S, self.prods + k * ROW, nb, 1)
            if var == 0:
                if sign == 1:
                    for q in range(nb):
                        acc[q] = acc[q] if acc[q] > 0 else 0
                elif sign == 2:
                    for q in range(nb):
                        acc[q] = acc[q] if acc[q] < 0 else 0
                ks = {ACC_FRAC_BITS} + drop
                b = self.bw
            else:
                ks = {ACC_FRAC_BITS}
                b = self.bd if var == 1 else self.bt
            half = (<int64_t>1 << (ks - 1)) - 1
            if stochastic:
                for q in range(nb):
                    new[q] = round_shift(acc[q], ks, bits_of(b, bid[q], ks))
            else:
                for q in range(nb):
                    new[q] = round_shift(acc[q], ks, half)
            if var == 0:
                for q in range(nb):
                    new[q] = clip(new[q] << drop, glo, ghi)
            elif var == 1:
                for q in range(nb):
                    new[q] = clip(new[q], {DELAY_MIN}, {DELAY_MAX})
            else:
                for q in range(nb):
                    new[q] = clip(new[q], {TAG_MIN}, {TAG_MAX})
        if prm[11]:
            for q in range(nb):
                d[bs[q]] = <int16_t>S.nd[q]
        if prm[12]:
            for q in range(nb):
                tag[bs[q]] = <int16_t>S.nt[q]
        if prm[10] == 0:
            return
        for q in range(nb):
            if nw[q] != ow[q]:  # often not: the change rounded away; then no (scattered) writes
                self.store(bs[q], S.bb[q], nw[q])

    cdef void item(self, Scratch *S, int64_t it) noexcept nogil:
        # one work item of an epoch: a spiking row (it < n_rows) or column, or, when the u products
        # are due, a block of `chunk` synapses. Its candidates go to the thread's chunk buffers
        # (bs, bi, bj; q of them) branch-free: each is written, and q advances when it needs the
        # update (the act_* flags)
        cdef int64_t i, j, k, s, q = 0, lo, hi, r, m, chunk = self.chunk, nx = self.nx, ny = self.ny
        cdef int64_t rows_sorted = self.rows_sorted
        cdef int64_t *bs = S.bs
        cdef int64_t *bi = S.bi
        cdef int64_t *bj = S.bj
        cdef int64_t *bid = S.bid
        cdef int64_t *bb = S.bb
        cdef bint keys = not self.sid_ident, index = self.b2_off < 0 and self.b2_index != NULL
        cdef int64_t *tx = self.tx
        cdef int64_t *ty = self.ty
        cdef int64_t *pre_start = self.pre_start
        cdef int32_t *post = self.post
        cdef uint8_t *ax
        cdef uint8_t *ay
        if self.u_on:
            lo = it * chunk
            hi = lo + chunk if lo + chunk < self.nsyn else self.nsyn
            r, m = 0, nx  # the row of synapse lo (rows sorted): pre_start[r] <= lo < pre_start[r + 1]
            while r < m:
                k = (r + m) // 2
                if pre_start[k + 1] <= lo:
                    r = k + 1
                else:
                    m = k
            for s in range(lo, hi):
                if rows_sorted:
                    while pre_start[r + 1] <= s:
                        r += 1
                    i = r
                else:
                    i = self.pre[s]
                bs[q], bi[q], bj[q] = s, i, post[s]
                if keys:
                    bid[q] = self.sid[s]
                if index:
                    bb[q] = self.b2_index[s]
                q += 1
        elif it < self.n_rows:
            i = self.items[it]
            ay = self.act_y + (tx[i] - 1) * ny
            ax = self.act_x + i
            for k in range(pre_start[i], pre_start[i + 1]):
                s = k if rows_sorted else self.pre_order[k]
                j = post[s]
                bs[q], bi[q], bj[q] = s, i, j
                if keys:
                    bid[q] = self.sid[s]
                if index:
                    bb[q] = self.b2_index[s]
                q += ay[j] | ax[ty[j] * nx]
                if q == chunk:
                    self.flush(S, q)
                    q = 0
        else:
            # a column, minus the synapses the rows handle
            j = self.items[it]
            ax = self.act_x + ty[j] * nx
            for k in range(self.post_start[j], self.post_start[j + 1]):
                i = self.post_pre[k]
                bs[q], bi[q], bj[q] = self.post_syn[k], i, j
                if keys:
                    bid[q] = self.post_sid[k]
                if index:
                    bb[q] = self.post_b2[k]
                q += (tx[i] == 0) & ax[i]
                if q == chunk:
                    self.flush(S, q)
                    q = 0
        self.flush(S, q)

    cdef int64_t run(self, int64_t *pf, int64_t npf, int64_t *qf, int64_t nqf, int64_t *ymode,
                     int64_t *didx, int64_t *dstart, int64_t t) noexcept nogil:
        # prm: t_epoch, u_exp (-1 none), seed, projection, stochastic, sign mode (0 mixed, 1 exc, 2 inh),
        #      dropped weight bits, grid low, grid high, weight exponent, has w/d/t rules (3 flags),
        #      reads d, reads t (as a factor or for its own rule)
        cdef int64_t *prm = self.prm
        cdef int64_t t_epoch = prm[0], uk = prm[1], proj = prm[3], nx = self.nx, ny = self.ny
        cdef uint64_t seed = <uint64_t>prm[2]
        cdef int64_t pos = (t - 1) % t_epoch + 1, i, j, f, ep, p, n = 0, it, m0, m1, m2
        cdef int64_t row_mask = self.row_mask, col_mask = self.col_mask
        cdef int64_t *tx = self.tx
        cdef int64_t *ty = self.ty
        cdef int64_t *hx = self.hx
        cdef int64_t *hy = self.hy
        cdef uint8_t *act_x = self.act_x
        cdef uint8_t *act_y = self.act_y
        self.traces(self.x, 2, nx, self.tpx, 0, pf, npf, NULL, didx, dstart, t)
        self.traces(self.y, 3, ny, self.tpy, 2, qf, nqf, ymode, didx, dstart, t)
        for j in range(npf):
            tx[pf[j]] = pos
        for j in range(nqf):
            ty[qf[j]] = pos
        for f in range(2):  # the traces in use, kept for the epoch (the others stay zero)
            if self.tpx[f * 5]:
                memcpy(hx + ((pos - 1) * 2 + f) * nx, self.x + f * nx, nx * sizeof(int64_t))
        for f in range(3):
            if self.tpy[f * 5]:
                memcpy(hy + ((pos - 1) * 3 + f) * ny, self.y + f * ny, ny * sizeof(int64_t))
        if pos != t_epoch:
            return -1
        ep = t // t_epoch
        self.u_on = 1 if (uk >= 0 and ep % (<int64_t>1 << uk) == 0) else 0
        self.bw = base(seed, 21, proj, ep)
        self.bd = base(seed, 22, proj, ep)
        self.bt = base(seed, 23, proj, ep)
        self.ncand = 0
        if self.u_on:
            n = (self.nsyn + self.chunk - 1) // self.chunk
        else:
            # act_y[p * ny + j]: do the x0 products of a pre spike at step p + 1 of the epoch need
            # post j (are the post traces they read non-zero then: a product with a plain trace of
            # the other side vanishes while it is zero); act_x[(p + 1) * nx + i] likewise for the y0
            # products and pre i; row 0 of act_x (no post spike) is zero
            for p in range(t_epoch):
                if row_mask > 0:
                    m0, m1, m2 = row_mask & 1, (row_mask >> 1) & 1, (row_mask >> 2) & 1
                    for j in range(ny):
                        act_y[p * ny + j] = ((m0 & (hy[(p * 3) * ny + j] != 0))
                                             | (m1 & (hy[(p * 3 + 1) * ny + j] != 0))
                                             | (m2 & (hy[(p * 3 + 2) * ny + j] != 0)))
                else:
                    memset(act_y + p * ny, row_mask < 0, ny)
                if col_mask > 0:
                    m0, m1 = col_mask & 1, (col_mask >> 1) & 1
                    for i in range(nx):
                        act_x[(p + 1) * nx + i] = ((m0 & (hx[(p * 2) * nx + i] != 0))
                                                   | (m1 & (hx[(p * 2 + 1) * nx + i] != 0)))
                else:
                    memset(act_x + (p + 1) * nx, col_mask < 0, nx)
            for i in range(nx):
                act_x[i] = 0
            # the work: rows of the sources that spiked (memory in order), then columns of the
            # targets that spiked (when y0 products exist)
            for i in range(nx):
                if tx[i] != 0:
                    self.items[n] = i
                    n += 1
            self.n_rows = n
            if col_mask != 0:
                for j in range(ny):
                    if ty[j] != 0:
                        self.items[n] = j
                        n += 1
        # every synapse is in at most one item: the items are independent
        if self.nthreads > 1 and n > 1:
            for it in prange(n, schedule="dynamic", num_threads=self.nthreads):
                self.item(&self.scratch[threadid()], it)
        else:
            for it in range(n):
                self.item(&self.scratch[0], it)
        for i in range(nx):
            tx[i] = 0
        for j in range(ny):
            ty[j] = 0
        return self.ncand
"""


def compiled():
    """The compiled kernel module (compiled once per process, cached on disk by Brian2).

    With OpenMP where the compiler has it: an epoch's rows and columns are then
    updated by several threads (see ``threads`` of the learner).
    """
    from neurochip.native import compile_cython

    return compile_cython(SOURCE, "neurochip_learning", openmp=True)


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
