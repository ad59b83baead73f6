"""Distributed runs: the boundary spike exchange between MPI ranks.

Each rank steps a contiguous range of chips (:func:`rank_range`). A compartment
whose routing table names a core on another rank has a *ghost* there: a one
variable neuron group that fires when told to. Once per step, right after the
compartments' thresholds, every rank sends the global ids of its spiking
boundary compartments to the ranks that hold their targets (counts with
``Alltoall``, then the ids with ``Alltoallv``) and fires the matching ghosts,
whose synapses deliver in the same step as local ones would. Synaptic input is
an integer sum, so the order of delivery cannot change a result: a distributed
run is bit-identical to a single-process one.
"""

from __future__ import annotations

import numpy as np

from neurochip.errors import BackendError


def rank_range(program, rank: int, size: int):
    """(first, end) compartment of ``rank`` when the chips the program uses are split
    in ``size`` contiguous parts of equal chip count, and the rank of every program core.

    Cores are numbered in (chip, core) order, so a rank's compartments are contiguous.
    """
    chips = np.asarray(program.arrays["core_chip"], np.int64)
    used, position = np.unique(chips, return_inverse=True)
    if size > max(used.size, 1):
        raise BackendError(
            f"{size} MPI ranks for a program on {used.size} chip(s): ranks step whole chips, "
            f"run with at most {max(used.size, 1)} rank(s)"
        )
    core_rank = position * size // max(used.size, 1)
    starts = program.arrays["core_cx_start"]
    mine = np.flatnonzero(core_rank == rank)
    if mine.size == 0:
        return 0, 0, core_rank
    return int(starts[mine[0]]), int(starts[mine[-1] + 1]), core_rank


def comm_world():
    """mpi4py's COMM_WORLD when this process was started by ``mpiexec`` with more than one rank."""
    import os

    launched = any(int(os.environ.get(k, "1") or 1) > 1 for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"))
    if not launched:
        return None
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise BackendError(
            "this process runs under mpiexec but mpi4py is missing: pip install 'neurochip[mpi]'"
        ) from exc
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


class SpikeExchange:
    """The per-step exchange, called by a Brian2 ``NetworkOperation``."""

    def __init__(self, backend):
        p, a = backend.program, backend.program.arrays
        self.comm, self.rank, self.size = backend.comm, backend.rank, backend.size
        self.lo, self.hi = backend.cx_lo, backend.cx_hi
        # which ranks each local compartment's routes reach (besides this one)
        n_routes = np.diff(a["route_start"])
        route_src = np.repeat(np.arange(p.n_sources), n_routes)
        route_rank = backend.core_rank[a["route_core"]]
        keep = (route_src >= self.lo) & (route_src < self.hi) & (route_rank != self.rank)
        self.needs = np.zeros((max(self.hi - self.lo, 1), self.size), bool)
        self.needs[route_src[keep] - self.lo, route_rank[keep]] = True
        self.boundary = self.needs.any(axis=1)
        self.cx_space = backend.cx.variables["_spikespace"].get_value()
        self.ghost_ids = backend.ghost_ids
        self.fired = backend.ghosts.variables["fired"].get_value() if backend.ghosts is not None else None
        self.send_counts = np.zeros(self.size, np.int64)
        self.recv_counts = np.zeros(self.size, np.int64)
        self.messages = 0  # ids sent by this rank so far

    def __call__(self):
        from mpi4py import MPI

        n = int(self.cx_space[-1])
        spiked = self.cx_space[:n]
        spiked = spiked[self.boundary[spiked]]
        # one id per (spiking boundary compartment, rank that needs it), grouped by rank
        dest, which = np.nonzero(self.needs[spiked].T)
        send = (spiked[which] + self.lo).astype(np.int64)
        self.send_counts[:] = np.bincount(dest, minlength=self.size)
        self.comm.Alltoall(self.send_counts, self.recv_counts)
        recv = np.empty(int(self.recv_counts.sum()), np.int64)
        s_off = np.r_[0, np.cumsum(self.send_counts[:-1])]
        r_off = np.r_[0, np.cumsum(self.recv_counts[:-1])]
        self.comm.Alltoallv(
            [send, self.send_counts, s_off, MPI.INT64_T], [recv, self.recv_counts, r_off, MPI.INT64_T]
        )
        self.messages += send.size
        if recv.size:
            idx = np.searchsorted(self.ghost_ids, recv)
            if not np.array_equal(self.ghost_ids[np.minimum(idx, self.ghost_ids.size - 1)], recv):
                raise BackendError("MPI exchange: a rank received a spike with no synapse on it")
            self.fired[idx] = 1


def gather_concat(comm, array: np.ndarray) -> np.ndarray:
    """Every rank's ``array`` concatenated in rank order (on every rank)."""
    parts = comm.allgather(np.ascontiguousarray(array))
    return np.concatenate(parts) if parts else array


_hook_installed = False


def abort_on_uncaught_exception() -> None:
    """Make an uncaught exception on any rank print its traceback and abort every rank.

    Without this, the other ranks wait forever in the next exchange. (``python -m
    mpi4py script.py`` does the same; this covers ``mpiexec python script.py``.)
    """
    import sys

    global _hook_installed
    if _hook_installed:
        return

    def hook(kind, value, tb):
        sys.__excepthook__(kind, value, tb)  # Brian2's own hook would call any error a Brian2 bug
        sys.stderr.flush()
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(1)

    sys.excepthook = hook
    _hook_installed = True
