"""A faster spike queue for Brian2's synaptic pathways (same semantics as Brian2's own).

Brian2's C++ ``SpikeQueue`` keeps one ``std::vector`` of synapse ids per source
and copies it into the delay slot for every spike: two scattered memory reads
per spike before the first synapse is touched, ~100 ns on this machine, paid
by every pathway a spike reaches. This queue keeps the synapses grouped by
source (CSR: one offset array and, only when the synapses are not already in
source order, one permutation) and, with one delay for the whole pathway,
appends each spike's range of synapse ids. Everything else follows Brian2's
queue exactly: a ring of delay slots, delays rounded to steps as Brian2 rounds
them, spikes already queued kept in place when the queue is prepared again
(learned delays), ``peek`` returning the ids due now in push order.

Brian2 asks its device for a queue when a pathway is created;
:func:`fast_spike_queues` makes it hand out this one.
"""

from __future__ import annotations

from contextlib import contextmanager

from neurochip.native import compile_cython

SOURCE = r"""
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
from libcpp.vector cimport vector
from libc.stdint cimport int32_t
from libc.string cimport memcpy
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from *:
    '''
    #define NC_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 1)
    '''
    void NC_PREFETCH(const void* p) nogil


cdef class RangeQueue:
    cdef public int source_start, source_end
    cdef int offset, scalar_delay, first_delay, identity
    cdef double dt
    cdef vector[vector[int32_t]] slots
    cdef object row_start_arr, order_arr, delays_arr
    cdef int32_t* row_start
    cdef int32_t* order
    cdef int32_t* delays
    cdef object warm_arrs
    cdef char* warm[4]
    cdef int warm_size[4]
    cdef int n_warm
    cdef object __weakref__

    def __cinit__(self, int source_start, int source_end):
        self.source_start = source_start
        self.source_end = source_end
        self.slots.resize(1)
        self.offset = 0
        self.dt = 0.0
        self.scalar_delay = 1
        self.first_delay = 0
        self.identity = 1
        self.n_warm = 0

    def warm_up(self, *arrays):
        # Per-synapse arrays the pathway reads for every queued id: push asks the
        # memory system for the start of each spike's rows in them, so the pathway
        # finds them in cache (the arrays must stay alive and unresized).
        cdef cnp.ndarray arr
        self.warm_arrs = arrays[:4]
        self.n_warm = 0
        for arr in self.warm_arrs:
            self.warm[self.n_warm] = <char*> arr.data
            self.warm_size[self.n_warm] = arr.itemsize
            self.n_warm += 1

    def prepare(self, real_delays, double dt, sources):
        real_delays = np.asarray(real_delays, dtype=np.float64)
        sources = np.asarray(sources, dtype=np.int64) - self.source_start
        n_src = self.source_end - self.source_start
        if self.dt != 0.0 and self.dt != dt and self.pending():
            raise ValueError("RangeQueue: dt changed while spikes were queued")
        self.dt = dt
        steps = (real_delays / dt + 0.5).astype(np.int32)
        self.identity = bool(sources.size == 0 or (np.diff(sources) >= 0).all())
        if self.identity:
            self.order_arr = np.zeros(1, np.int32)
        else:
            self.order_arr = np.argsort(sources, kind="stable").astype(np.int32)
        counts = np.bincount(sources, minlength=n_src) if sources.size else np.zeros(n_src, np.int64)
        self.row_start_arr = np.ascontiguousarray(np.r_[0, np.cumsum(counts)], dtype=np.int32)
        self.delays_arr = np.ascontiguousarray(steps if steps.size else np.zeros(1, np.int32))
        self.scalar_delay = bool(steps.size <= 1 or (steps == steps[0]).all())
        self.first_delay = int(steps[0]) if steps.size else 0
        cdef int32_t[::1] rs = self.row_start_arr
        cdef int32_t[::1] od = self.order_arr
        cdef int32_t[::1] dl = self.delays_arr
        self.row_start = &rs[0]
        self.order = &od[0]
        self.delays = &dl[0]
        self._ensure(int(steps.max()) + 1 if steps.size else 1)

    cdef void _ensure(self, int n):
        cdef int old = self.slots.size()
        cdef vector[vector[int32_t]] rotated
        cdef int i
        if n <= old:
            return
        for i in range(old):  # the ring starts at the current offset again
            rotated.push_back(self.slots[(self.offset + i) % old])
        rotated.resize(n)
        self.slots.swap(rotated)
        self.offset = 0

    def pending(self):
        cdef size_t i, total = 0
        for i in range(self.slots.size()):
            total += self.slots[i].size()
        return total

    def push(self, cnp.ndarray[int32_t, ndim=1, mode="c"] spikes):
        cdef int n = spikes.shape[0], k, s, a, b, i, old, first, nslots = self.slots.size()
        cdef int32_t* sp = <int32_t*> spikes.data
        cdef vector[int32_t]* q
        cdef int32_t* dst
        cdef char* p
        cdef char* end
        cdef int lo = self.source_start, hi = self.source_end
        if self.scalar_delay:
            q = &self.slots[(self.offset + self.first_delay) % nslots]
            for k in range(n):
                s = sp[k]
                if s < lo or s >= hi:
                    continue
                a = self.row_start[s - lo]
                b = self.row_start[s - lo + 1]
                if b == a:
                    continue
                if self.identity:  # every cache line of the spike's rows
                    for i in range(self.n_warm):
                        p = self.warm[i] + <size_t> a * self.warm_size[i]
                        end = self.warm[i] + <size_t> b * self.warm_size[i]
                        while p < end:
                            NC_PREFETCH(p)
                            p += 64
                        NC_PREFETCH(end - 1)
                old = q.size()
                q.resize(old + b - a)
                dst = q.data() + old
                if self.identity:
                    for i in range(b - a):
                        dst[i] = a + i
                else:
                    memcpy(dst, self.order + a, (b - a) * sizeof(int32_t))
        else:
            for k in range(n):
                s = sp[k]
                if s < lo or s >= hi:
                    continue
                for i in range(self.row_start[s - lo], self.row_start[s - lo + 1]):
                    a = i if self.identity else self.order[i]
                    self.slots[(self.offset + self.delays[a]) % nslots].push_back(a)

    def peek(self):
        cdef vector[int32_t]* q = &self.slots[self.offset]
        if q.size() == 0:
            return np.empty(0, dtype=np.int32)
        return np.asarray(<int32_t[:q.size()]> q.data())

    def advance(self):
        self.slots[self.offset].clear()
        self.offset = (self.offset + 1) % self.slots.size()

    def _full_state(self):
        n = self.slots.size()
        return (0, [np.asarray(self.slots[(self.offset + i) % n], dtype=np.int32).copy() for i in range(n)])

    def _restore_from_full_state(self, state):
        cdef int i
        cdef int32_t v
        self.slots.clear()
        self.offset = 0
        if state is None:
            self.slots.resize(1)
            return
        offset, stored = state
        self.slots.resize(max(len(stored), 1))
        for i in range(len(stored)):
            for v in stored[(offset + i) % len(stored)]:
                self.slots[i].push_back(v)
"""


def queue_class():
    return compile_cython(SOURCE, "neurochip_spike_queue").RangeQueue


@contextmanager
def fast_spike_queues():
    """Pathways created inside use :class:`RangeQueue` (Brian2's runtime device only)."""
    from brian2.devices.device import RuntimeDevice, get_device

    device = get_device()
    if not isinstance(device, RuntimeDevice):
        yield
        return
    cls = queue_class()
    device.spike_queue = lambda source_start, source_end: cls(source_start, source_end)
    try:
        yield
    finally:
        del device.spike_queue
