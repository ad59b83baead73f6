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


def launched_by_mpiexec() -> bool:
    """True when ``mpiexec`` (MPICH or Open MPI) started this process with more than one rank."""
    import os

    return any(int(os.environ.get(k, "1") or 1) > 1 for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"))


def comm_world():
    """mpi4py's COMM_WORLD when this process was started by ``mpiexec`` with more than one rank."""
    if not launched_by_mpiexec():
        return None
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise BackendError(
            "this process runs under mpiexec but mpi4py is missing: pip install 'neurochip[mpi]'"
        ) from exc
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


class SpikeExchange:
    """The boundary spike exchange of one rank, in two halves per step.

    :meth:`start` runs right after the compartments' thresholds: it sends each
    other rank the global ids of this step's spiking compartments with targets
    there, counts first (``Alltoall``), then the ids (a nonblocking
    ``Ialltoallv``). :meth:`finish` runs once the local synapses and resets have
    had the time to hide the transfer: it waits for the ids and writes the
    ghosts' spike space (their own thresholder is off), ascending as Brian2's
    spike queues expect; the ghosts' synapses deliver right after, in the same
    step, before the next update reads the input.
    """

    def __init__(self, backend):
        p, a = backend.program, backend.program.arrays
        self.comm, self.rank, self.size = backend.comm, backend.rank, backend.size
        self.lo, self.hi = backend.cx_lo, backend.cx_hi
        # which ranks each local compartment's routes reach (besides this one)
        n_routes = np.diff(a["route_start"])
        route_src = np.repeat(np.arange(p.n_sources), n_routes)
        route_rank = backend.core_rank[a["route_core"]]
        keep = (route_src >= self.lo) & (route_src < self.hi) & (route_rank != self.rank)
        needs = np.zeros((self.size, max(self.hi - self.lo, 1)), bool)
        needs[route_rank[keep], route_src[keep] - self.lo] = True
        # modulators of plastic projections go to every rank (each may learn synapses they modulate)
        mods = backend.modulator_compartments()
        mods = mods[(mods >= self.lo) & (mods < self.hi)] - self.lo
        for r in range(self.size):
            if r != self.rank:
                needs[r, mods] = True
        self.needs = [needs[r] if needs[r].any() else None for r in range(self.size)]
        self.cx_space = backend.cx.variables["_spikespace"].get_value()
        self.ghost_space = None
        self.ghost_of = np.full(p.n_compartments, -1, np.int32)  # global compartment -> ghost
        if backend.ghosts is not None:
            self.ghost_space = backend.ghosts.variables["_spikespace"].get_value()
            self.ghost_of[backend.ghost_ids] = np.arange(backend.ghost_ids.size, dtype=np.int32)
        self.empty = np.zeros(0, np.int32)
        self.send_counts = np.zeros(self.size, np.int32)
        self.recv_counts = np.zeros(self.size, np.int32)
        self.send_offsets = np.zeros(self.size, np.int32)
        self.recv_offsets = np.zeros(self.size, np.int32)
        # each ghost arrives at most once per step
        self.recv = np.zeros(max(backend.ghost_ids.size, 1), np.int32)
        self.pending = None
        self.messages = 0  # ids sent by this rank so far

    def start(self):
        from mpi4py import MPI

        spiked = self.cx_space[: self.cx_space[-1]]
        lo = np.int32(self.lo)
        # per destination rank, in rank order: the spiking compartments with targets there
        parts = [spiked[m[spiked]] + lo if m is not None else self.empty for m in self.needs]
        for r, part in enumerate(parts):
            self.send_counts[r] = part.size
        send = np.concatenate(parts)
        self.comm.Alltoall(self.send_counts, self.recv_counts)
        np.cumsum(self.send_counts[:-1], out=self.send_offsets[1:])
        np.cumsum(self.recv_counts[:-1], out=self.recv_offsets[1:])
        request = self.comm.Ialltoallv(
            [send, self.send_counts, self.send_offsets, MPI.INT32_T],
            [self.recv, self.recv_counts, self.recv_offsets, MPI.INT32_T],
        )
        self.messages += send.size
        self.pending = (request, send)

    def finish(self):
        request, _ = self.pending
        request.Wait()
        self.pending = None
        n = int(self.recv_counts.sum())
        if self.ghost_space is None:
            if n:
                raise BackendError(
                    "MPI exchange: a rank received spikes but has no synapses from other ranks"
                )
            return
        # senders are in rank order and own ascending compartment ranges: the ids arrive sorted
        self.ghost_space[:n] = self.ghost_of[self.recv[:n]]
        self.ghost_space[-1] = n


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
        import time
        import traceback

        # one write, not Brian2's own hook (it would call any error a Brian2 bug); then a moment
        # for mpiexec to forward it: an abort drops output it has not forwarded yet
        sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        sys.stderr.flush()
        time.sleep(0.5)
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(1)

    sys.excepthook = hook
    _hook_installed = True
