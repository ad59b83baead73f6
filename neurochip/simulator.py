"""The simulator facade: compile if needed, build a backend, run, collect results."""

from __future__ import annotations

import pickle
import platform
import time

import numpy as np

from neurochip.errors import BackendError, FileFormatError, ValidationError
from neurochip.network import Network, Projection
from neurochip.program import ChipProgram
from neurochip.results import Results, SpikeData, StateData, positions_in


def _brian2_backend(target):
    def make(program, seed=None, record_spikes=False, comm=None):
        from neurochip.cores.brian2_backend import Brian2Backend

        return Brian2Backend(program, target=target, seed=seed, record_spikes=record_spikes, comm=comm)

    return make


# Backends by name. "auto" is Brian2 with the cython target when a C compiler
# works, and the numpy target (with a warning) when none does. "cpp_standalone"
# compiles the whole run into a C++ binary (fastest for long runs; continuing
# a run re-simulates from step 1).
BACKENDS = {
    "auto": _brian2_backend("auto"),
    "cython": _brian2_backend("cython"),
    "numpy": _brian2_backend("numpy"),
    "cpp_standalone": _brian2_backend("cpp_standalone"),
}


def register_backend(name: str, factory) -> None:
    """Add a backend: ``factory(program, seed=None, record_spikes=False, comm=None)`` returns an
    object with the Brian2Backend methods."""
    BACKENDS[name] = factory


CHECKPOINT_KIND = "checkpoint"


class Simulator:
    """Runs a :class:`ChipProgram` (or compiles a :class:`Network` first).

    Use as a context manager; ``run(steps)`` can be called repeatedly and
    continues where the last call stopped, giving the same results as one
    longer run.

    Parameters
    ----------
    program_or_network : ChipProgram or Network
    backend : str
        One of :data:`BACKENDS`: ``"auto"`` (default), ``"cython"``, ``"numpy"``,
        ``"cpp_standalone"``.
    seed : int, optional
        Fixes every random choice of a run (the compartment and synapse
        dynamics themselves are deterministic).
    router : bool or neurochip.routing.costs.RouterCosts
        Model what every step costs on the hardware (messages, hops, link
        loads, step time, energy; see :mod:`neurochip.routing.stats`); the
        statistics are in ``results.router``. Records every spike.
    comm : mpi4py communicator, optional
        Run over the ranks of ``comm``: each steps a contiguous share of the
        chips and they exchange boundary spikes once per step. By default a
        process started by ``mpiexec -n R`` (R > 1) uses ``COMM_WORLD``. Every
        rank returns the same, complete results, bit-identical to one
        process's; write files from one rank (:attr:`is_root`).
    **compile_options
        Passed to :func:`neurochip.compile_network` when given a Network.
    """

    def __init__(
        self,
        program_or_network,
        *,
        backend: str = "auto",
        seed: int | None = None,
        router=False,
        comm=None,
        **compile_options,
    ):
        from neurochip.compiler import compile_network

        t0 = time.perf_counter()
        if isinstance(program_or_network, Network):
            program = compile_network(program_or_network, **compile_options)
        elif isinstance(program_or_network, ChipProgram):
            if compile_options:
                raise ValidationError(
                    f"Simulator: compile options {sorted(compile_options)} given with a compiled program"
                )
            program = program_or_network
        else:
            raise ValidationError(f"Simulator: expected a Network or ChipProgram, got {program_or_network!r}")
        if backend not in BACKENDS:
            raise ValidationError(f"Simulator.backend: {backend!r} is not one of {sorted(BACKENDS)}")
        self.program = program
        self.backend_name = backend
        self.seed = seed
        self.compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.router = router
        self._router_parts: list = []
        self._router_traffic = None
        if comm is None:
            from neurochip.cores.brian2_mpi import comm_world

            comm = comm_world()
        self.comm = comm if comm is not None and comm.Get_size() > 1 else None
        extra = {"comm": self.comm} if self.comm is not None else {}
        self._backend = BACKENDS[backend](program, seed=seed, record_spikes=bool(router), **extra)
        if self.comm is not None:  # after the backend, whose Brian2 import sets its own hook
            from neurochip.cores.brian2_mpi import abort_on_uncaught_exception

            abort_on_uncaught_exception()
        self.build_s = time.perf_counter() - t0
        self.run_s = 0.0
        self._closed = False

    @property
    def rank(self) -> int:
        """This process's MPI rank (0 without MPI)."""
        return self.comm.Get_rank() if self.comm is not None else 0

    @property
    def ranks(self) -> int:
        """How many MPI ranks run the program (1 without MPI)."""
        return self.comm.Get_size() if self.comm is not None else 1

    @property
    def is_root(self) -> bool:
        """True on the one rank that should write files and print (rank 0)."""
        return self.rank == 0

    @property
    def steps(self) -> int:
        """Steps run so far."""
        return self._backend.steps

    def run(self, steps: int) -> None:
        if self._closed:
            raise BackendError("Simulator.run: the simulator is closed")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValidationError(f"Simulator.run.steps: {steps!r} must be a non-negative integer")
        t0 = time.perf_counter()
        self._backend.run(int(steps))
        self.run_s += time.perf_counter() - t0

    # ------------------------------------------------------------- checkpoints
    def checkpoint(self, path) -> str:
        """Save the run's whole state to ``path`` (atomically): the program, the step, compartment
        state (u, v, refractory counters, spike counts), spikes still in synaptic delays, learning
        traces, weights, delays and tags, the monitors' records and the random state.
        :meth:`restore` continues from it with results bit-identical to an uninterrupted run."""
        from neurochip.hdf5io import atomic_write

        if self._closed:
            raise BackendError("Simulator.checkpoint: the simulator is closed")
        blob = self._backend.state()

        def write(f):
            self.program.to_hdf5(f.create_group("program"))
            f.attrs["steps"] = self.steps
            f.attrs["seed"] = -1 if self.seed is None else int(self.seed)
            f.attrs["router"] = bool(self.router)
            f.attrs["run_s"] = self.run_s
            f.create_dataset("state", data=np.frombuffer(blob, np.uint8), compression="gzip")

        return str(atomic_write(path, CHECKPOINT_KIND, write))

    @classmethod
    def restore(cls, path, *, backend: str = "auto") -> Simulator:
        """A simulator that continues the run saved by :meth:`checkpoint`."""
        from neurochip.hdf5io import open_read

        with open_read(path, CHECKPOINT_KIND) as f:
            program = ChipProgram.from_hdf5(f["program"])
            seed = int(f.attrs["seed"])
            router, run_s = bool(f.attrs["router"]), float(f.attrs["run_s"])
            blob = f["state"][()].tobytes()
        sim = cls(program, backend=backend, seed=None if seed < 0 else seed, router=router)
        try:
            sim._backend.set_state(blob)
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as exc:
            sim.close()
            raise FileFormatError(f"{path}: the checkpoint's state is corrupt ({exc})") from exc
        sim.run_s = run_s
        return sim

    def weights(self, projection) -> np.ndarray:
        """The weight mantissas of ``projection`` (a Projection or its name) now, one per synapse in
        the projection's order (see :attr:`Projection.pre_idx`): learned values on a plastic projection."""
        if self._closed:
            raise BackendError("Simulator.weights: the simulator is closed")
        name = projection.name if isinstance(projection, Projection) else projection
        try:
            self.program.projection(name)
        except KeyError as e:
            raise ValidationError(f"Simulator.weights: {e.args[0]}") from None
        return self._backend.weights(name)

    @property
    def results(self) -> Results:
        """A snapshot of everything recorded so far."""
        if self._closed:
            raise BackendError("Simulator.results: the simulator is closed")
        p, b = self.program, self._backend
        counts = b.spike_counts()
        probes: dict = {}
        spikes = None
        pop_of_probe = {pop.name: pop for pop in p.populations}
        for spec in p.probes:
            if spec.variable == "spikes":
                if spikes is None:
                    spikes = b.spikes()
                pop = pop_of_probe[spec.target]
                neurons = positions_in(pop.cx, spec.index)
                sel = np.isin(spikes[1], spec.index)
                probes[spec.name] = SpikeData(
                    spec.name, spec.target, neurons, spikes[0][sel], positions_in(pop.cx, spikes[1][sel])
                )
            else:
                steps, data = b.probe(spec)
                if spec.variable == "weights":
                    slots = p.projection(spec.target).slot
                    indices = positions_in(slots, spec.index)
                else:
                    indices = positions_in(pop_of_probe[spec.target].cx, spec.index)
                probes[spec.name] = StateData(spec.name, spec.target, spec.variable, indices, steps, data)
        return Results(
            steps=self.steps,
            router=self._router_stats(),
            probes=probes,
            spike_counts={pop.name: counts[pop.cx] for pop in p.populations},
            resources=p.resources,
            metadata=self._metadata(),
            weight_reports=list(p.weight_reports),
            notes=list(p.notes),
        )

    def _router_stats(self):
        """Router statistics up to the current step (computed for the steps not yet done)."""
        if not self.router:
            return None
        from neurochip.routing import stats

        if self._router_traffic is None:
            costs = None if self.router is True else self.router
            self._router_traffic = stats.ProgramTraffic(self.program, costs)
        done = sum(p.steps for p in self._router_parts)
        if done < self.steps:
            steps, cx = self._backend.spikes()
            updates = self._backend.learning_updates() if hasattr(self._backend, "learning_updates") else None
            self._router_parts.append(
                stats.collect(self._router_traffic, steps, cx, range(done + 1, self.steps + 1), updates)
            )
        return stats.concat(self._router_parts, self._router_traffic.model)

    def _metadata(self) -> dict:
        import brian2

        from neurochip import __version__

        p = self.program
        return {
            "neurochip": __version__,
            "brian2": brian2.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "backend": self.backend_name,
            "target": getattr(self._backend, "target", self.backend_name),
            "seed": self.seed,
            "mpi_ranks": self.ranks,
            "steps": self.steps,
            "preset": p.preset,
            "allocator": p.allocator,
            "limit_mode": p.limit_mode,
            "chips": p.n_chips,
            "chips_used": p.n_chips_used,
            "cores": p.n_cores,
            "compartments": p.n_compartments,
            "synapses": p.n_synapses,
            "compile_s": round(self.compile_s, 4),
            "build_s": round(self.build_s, 4),
            "run_s": round(self.run_s, 4),
            **{f"backend_{k}": round(v, 4) for k, v in getattr(self._backend, "timings", {}).items()},
        }

    def close(self) -> None:
        """Free the backend; the simulator cannot run afterwards."""
        if not self._closed:
            self._backend.close()
            self._closed = True

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
