"""Run a :class:`ChipProgram` on Brian2, bit-exactly.

Every core's compartments live in one ``NeuronGroup`` and every synapse in one
``Synapses`` object per kind of source (compartments, external inputs), so the
number of Brian2 objects does not grow with the number of cores or chips.

Step semantics (DESIGN.md section 4) map onto Brian2's default schedule
``start, groups, thresholds, synapses, resets, end`` with dt = 1 step:

* ``groups``: the compartment update of section 5 consumes q (the
  synaptic input that arrived in the previous step's ``synapses`` slot);
* ``thresholds``: strict threshold; external input spikes of step t are emitted here;
* ``synapses``: a spike of step t with synaptic delay d is delivered into q
  in the ``synapses`` slot of step t + d, and so acts on u at step t + 1 + d;
* ``resets``: v <- 0 and the refractory counter is loaded.

DESIGN step t (t = 1, 2, ...) is Brian2 time step index t - 1.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import logging
import os
import pickle
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from neurochip.cores import compartment as cm
from neurochip.cores.brian2_mpi import gather_concat, rank_range
from neurochip.cores.spike_queue import fast_spike_queues

from neurochip.errors import BackendError

TARGETS = ("cython", "numpy", "cpp_standalone")
logger = logging.getLogger("neurochip")


def cython_available() -> bool:
    from brian2.codegen.runtime.cython_rt import CythonCodeObject

    return bool(CythonCodeObject.is_available())


def choose_target(target: str) -> str:
    """Resolve ``"auto"``: cython when a compiler works, else numpy (and say so)."""
    if target == "auto":
        if cython_available():
            return "cython"
        logger.warning("neurochip: no working C compiler for Cython; using Brian2's numpy target")
        return "numpy"
    if target not in TARGETS:
        raise BackendError(f"Brian2 target {target!r} is not one of {TARGETS + ('auto',)}")
    if target == "cython" and not cython_available():
        raise BackendError("Brian2's cython target was requested but a test compilation failed")
    return target


def standalone_cache_dir() -> Path:
    """Where cpp_standalone projects are built and kept (``NEUROCHIP_CACHE`` overrides)."""
    root = os.environ.get("NEUROCHIP_CACHE") or Path.home() / ".cache" / "neurochip"
    return Path(root) / "standalone"


def _all_code_objects(net):
    def walk(obj):
        yield obj
        for c in obj.contained_objects:
            yield from walk(c)

    for top in net.objects:
        for obj in walk(top):
            yield from obj._code_objects


def check_compiled(net) -> None:
    """Raise if Brian2 skipped a code object whose Cython compilation failed.

    Brian2's runtime prints a Cython compile error and then silently runs
    without that code object; DESIGN.md section 10 forbids that.
    """
    from brian2.codegen.runtime.cython_rt import CythonCodeObject

    for co in _all_code_objects(net):
        if not isinstance(co, CythonCodeObject):
            continue
        for block in ("before_run", "run", "after_run"):
            code = getattr(co.code, block, "").strip()
            if code and "EMPTY_CODE_BLOCK" not in code and co.compiled_code.get(block) is None:
                raise BackendError(
                    f"Brian2 could not compile the {block} code of {co.name!r} with Cython "
                    "(the compiler's message is printed above); refusing to run without it"
                )


def prepare_queue_once(pathway):
    """Prepare a synaptic pathway's spike queue on the first run only.

    Brian2 re-prepares every queue at the start of every ``run()`` (rebuilding
    the per-source synapse lists: 0.1 s per call for a chip's 8.4 M synapses).
    A program's synapses and dt never change after the build, and preparing
    does not touch queued spikes, so once is enough. Returns Brian2's own
    preparation, for when learning changes the delays.
    """
    prepare = pathway.initialise_queue
    done = []

    def initialise_queue():
        if not done:
            prepare()
            done.append(True)

    pathway.initialise_queue = initialise_queue
    return prepare


def uniform(values: np.ndarray) -> bool:
    return values.size > 0 and bool((values == values.flat[0]).all())


class Brian2Backend:
    """The Brian2 objects for one program; created by :class:`neurochip.Simulator`.

    Runtime targets (cython, numpy) keep their objects and continue from where
    the last run stopped. The cpp_standalone target builds a C++ project (kept in
    :func:`standalone_cache_dir`, recompiled only where the generated code
    changed), runs the binary and reads the results back; since Brian2's device
    is global, the runtime device is restored afterwards. Continuing a
    standalone run re-simulates from step 1 for the new total number of steps,
    which gives the same results because the dynamics are deterministic.
    """

    def __init__(
        self, program, target: str = "auto", seed: int | None = None, record_spikes: bool = False, comm=None
    ):
        self.program = program
        self.seed = seed
        self.record_spikes = record_spikes
        # distributed runs: this rank steps a contiguous range of chips, i.e. of compartments
        self.comm = comm if comm is not None and comm.Get_size() > 1 else None
        self.rank, self.size = (comm.Get_rank(), comm.Get_size()) if self.comm else (0, 1)
        self.cx_lo, self.cx_hi, self.core_rank = rank_range(program, self.rank, self.size)
        self.target = choose_target(target)
        if self.comm is not None and self.target == "cpp_standalone":
            raise BackendError(
                "cpp_standalone cannot exchange spikes between MPI ranks; use the cython target"
            )
        self.steps = 0
        self.net = None
        self._snapshot = None
        self.timings: dict[str, float] = {}
        if self.target != "cpp_standalone":
            with self._prefs():
                self._create()
                self.net.run(0 * _ms(), namespace={})  # generate and compile all code now
            if self.target == "cython":
                check_compiled(self.net)

    # ------------------------------------------------------------------ build
    @contextmanager
    def _prefs(self):
        """Brian2's code generation target for our objects, restored afterwards."""
        import brian2

        prefs = brian2.prefs
        saved = prefs["codegen.target"], prefs["codegen.string_expression_target"]
        prefs.codegen.target = self.target
        prefs.codegen.string_expression_target = "numpy"
        try:
            yield
        finally:
            prefs.codegen.target, prefs.codegen.string_expression_target = saved

    def _create(self):
        """Create every Brian2 object of the program on the current device."""
        import brian2 as b2

        p = self.program
        ms = b2.ms
        self.clock = b2.Clock(dt=1 * ms, name="nc_clock")
        lo, hi = self.cx_lo, self.cx_hi
        regs = {k: v[lo:hi] for k, v in cm.register_values(p.compartment_registers()).items()}
        n_cx = p.n_compartments
        # with every refractory register at 1, the counter c stays 0: leave it out
        refractory = bool((regs["ref"] > 1).any())
        if not refractory:
            regs.pop("ref")
        lines = [f"{v} : integer" for v in cm.STATE_VARIABLES if refractory or v != "c"]
        for name in regs:
            flag = ", shared" if uniform(regs[name]) else ""
            lines.append(f"{name} : integer (constant{flag})")
        cx = b2.NeuronGroup(
            max(hi - lo, 1),
            "\n".join(lines),
            threshold=cm.THRESHOLD,
            reset=cm.reset_code(refractory),
            namespace=cm.brian2_functions(),
            dtype={"q": np.int64},
            clock=self.clock,
            name="cx",
        )
        cx.run_regularly(cm.update_code(refractory), when="groups", name="cx_update")
        for name, val in regs.items():
            setattr(cx, name, int(val.flat[0]) if uniform(val) else val)
        if hi > lo:
            cx.u = np.asarray(p.arrays["cx_u_init"][lo:hi], np.int64)
            cx.v = np.asarray(p.arrays["cx_v_init"][lo:hi], np.int64)
        self.cx = cx
        objects = [cx]

        src, tgt, w_eff, delay, slot = self._expand_synapses()
        local = (tgt >= lo) & (tgt < hi)  # this rank's synapses: those onto its compartments
        src, tgt, w_eff, delay, slot = src[local], tgt[local] - lo, w_eff[local], delay[local], slot[local]
        self.inp = None
        if p.n_inputs:
            self.inp = self._input_group()
            objects.append(self.inp)
        want_mant = any(pr.variable == "weights" for pr in p.probes)
        learns_delay = any("dd" in lm.learning_rule().sums for lm in p.learning)
        model = "w : integer (constant)" + ("\nwm : integer (constant)" if want_mant else "")
        self.prepare_queue = []
        if want_mant or p.learning:
            mant = np.asarray(p.arrays["syn_weight"], np.int64)[slot]
            # where each synapse slot lives: (index into self.syn, Brian2 synapse index)
            self.slot_kind = np.full(p.n_synapses, -1, np.int64)
            self.slot_b2 = np.zeros(p.n_synapses, np.int64)
        self.syn = []
        is_input = src >= n_cx
        is_local = (src >= lo) & (src < hi)
        is_remote = ~is_input & ~is_local
        self.ghosts = None
        # other ranks' compartments with synapses here, or modulating a plastic projection
        self.ghost_ids = np.unique(np.r_[src[is_remote], self.remote_modulators()])
        if self.ghost_ids.size:
            # spikes of other ranks' compartments: the exchange writes their spike space
            self.ghosts = b2.NeuronGroup(
                self.ghost_ids.size, "", threshold="False", reset="", clock=self.clock, name="ghosts"
            )
            self.ghosts.thresholder["spike"].active = False
            self.ghosts.resetter["spike"].active = False
            objects.append(self.ghosts)
        kinds = (
            ("syn", is_local, cx, lambda i: i - lo),
            ("syn_in", is_input, self.inp, lambda i: i - n_cx),
            ("syn_ghost", is_remote, self.ghosts, lambda i: np.searchsorted(self.ghost_ids, i)),
        )
        for name, mask, source, index in kinds:
            if not mask.any():
                continue
            d = delay[mask]
            kw = {"delay": int(d[0]) * ms} if uniform(d) and not learns_delay else {}
            with fast_spike_queues():
                s = b2.Synapses(
                    source, cx, model, on_pre=cm.ON_PRE, clock=self.clock, name=name, namespace={}, **kw
                )
            s.connect(i=index(src[mask]), j=tgt[mask])
            s.w = w_eff[mask]
            if want_mant:
                s.wm = mant[mask]
            if want_mant or p.learning:
                self.slot_kind[slot[mask]] = len(self.syn)
                self.slot_b2[slot[mask]] = np.arange(int(mask.sum()))
            if not kw:
                s.delay = d * ms
            _warm_up(s)
            self.prepare_queue.append(prepare_queue_once(s.pre))
            self.syn.append(s)
            objects.append(s)

        # spikes are counted by the reset; a monitor only records them for spike probes
        self.spike_mon = None
        if self.record_spikes or any(pr.variable == "spikes" for pr in p.probes):
            self.spike_mon = b2.SpikeMonitor(cx, record=True, name="spikes")
            objects.append(self.spike_mon)
        self.state_mons = self._state_monitors()
        objects += [m for m, _ in self.state_mons.values()]
        if self.comm is not None:
            from neurochip.cores.brian2_mpi import SpikeExchange

            # send after the thresholds, receive once local synapses and resets are done;
            # the ghosts' synapses deliver after that, in the same step
            self.exchange = x = SpikeExchange(self)
            objects.append(b2.NetworkOperation(x.start, clock=self.clock, when="thresholds", order=1))
            objects.append(b2.NetworkOperation(x.finish, clock=self.clock, when="resets", order=1))
            for s in self.syn:
                if s.source is self.ghosts:
                    s.pre.when, s.pre.order = "resets", 2
        self.learning = None
        if p.learning:
            from neurochip.cores.brian2_learning import LearningHook

            self.learning = LearningHook(self, want_mant)
            objects.append(
                b2.NetworkOperation(self.learning, clock=self.clock, when="end", order=-1, name="learning")
            )
        self.net = b2.Network(*objects, name="neurochip")
        # Groups standalone builds whose generated code is alike, so that a rebuild
        # recompiles little. Any key is correct: Brian2 rewrites the sources that
        # changed and make recompiles exactly those.
        self.code_key = repr(
            (
                cx.equations,
                refractory,
                [(s.name, str(s.equations), "delay" in s.variables) for s in self.syn],
                self.inp is not None,
                self.spike_mon is not None,
                sorted(self.state_mons),
            )
        )

    def modulator_compartments(self) -> np.ndarray:
        """Compartments that modulate plastic projections (their spikes drive post traces)."""
        p = self.program
        ids = [src for lm in p.learning for src in lm.modulator_sources().values()]
        ids = np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)
        return ids[ids < p.n_compartments]

    def remote_modulators(self) -> np.ndarray:
        """Modulating compartments of other ranks: every rank sees their spikes (as ghosts)."""
        ids = self.modulator_compartments()
        return ids[(ids < self.cx_lo) | (ids >= self.cx_hi)]

    def learning_updates(self) -> dict[int, int] | None:
        """Step -> synapse updates of the plastic projections, over all ranks."""
        if self.learning is None:
            return None
        if self.comm is None:
            return self.learning.updates_at
        total: dict[int, int] = {}
        for part in self.comm.allgather(self.learning.updates_at):
            for t, n in part.items():
                total[t] = total.get(t, 0) + n
        return total

    def _expand_synapses(self):
        """Per synapse: (source, target compartment, effective weight, delay, slot).

        Follows the hardware path: a source's routing table names destination
        cores and input axons; each input axon's synapse list names targets.
        """
        p, a = self.program, self.program.arrays
        n_routes = np.diff(a["route_start"])
        route_src = np.repeat(np.arange(p.n_sources), n_routes)
        axon = a["core_axon_start"][a["route_core"]] + a["route_axon"]
        first, last = a["axon_syn_start"][axon], a["axon_syn_start"][axon + 1]
        count = last - first
        slot = np.repeat(first - np.cumsum(np.r_[0, count[:-1]]), count) + np.arange(count.sum())
        src = np.repeat(route_src, count)
        if not np.array_equal(p.synapse_sources()[slot], src):
            raise BackendError("routing tables and input axons of the program disagree")
        w_eff = p.effective_weights()
        tgt = p.synapse_targets()
        return src, tgt[slot], w_eff[slot], np.asarray(a["syn_delay"], np.int64)[slot], slot

    def _input_group(self):
        import brian2 as b2

        p = self.program
        n_cx = p.n_compartments
        idx = np.concatenate([i.source_start - n_cx + np.asarray(i.indices, np.int64) for i in p.inputs])
        steps = np.concatenate([np.asarray(i.steps, np.int64) for i in p.inputs])
        return b2.SpikeGeneratorGroup(
            p.n_inputs, idx, (steps - 1) * b2.ms, clock=self.clock, name="inputs", sorted=False
        )

    def _state_monitors(self):
        """One StateMonitor per (Brian2 object, sample period) for the probes."""
        import brian2 as b2

        wanted: dict[tuple, list] = {}
        for pr in self.program.probes:
            if pr.variable in ("u", "v"):
                index = np.asarray(pr.index)
                mine = index[(index >= self.cx_lo) & (index < self.cx_hi)] - self.cx_lo
                if mine.size:
                    wanted.setdefault((-1, pr.sample_every), []).append(mine)
            elif pr.variable == "weights":
                kind = self.slot_kind[pr.index]
                for k in np.unique(kind[kind >= 0]):
                    wanted.setdefault((int(k), pr.sample_every), []).append(self.slot_b2[pr.index[kind == k]])
        mons = {}
        for n, ((k, every), idx) in enumerate(sorted(wanted.items())):
            record = np.unique(np.concatenate(idx))
            obj, variables = (self.cx, ["u", "v"]) if k < 0 else (self.syn[k], ["wm"])
            mon = b2.StateMonitor(
                obj, variables, record=record, when="end", dt=every * b2.ms, name=f"state_{n}"
            )
            mons[(k, every)] = (mon, record)
        return mons

    # -------------------------------------------------------------------- run
    def run(self, steps: int) -> None:
        if self.target == "cpp_standalone":
            self._run_standalone(self.steps + int(steps))
        else:
            with self._prefs(), _without_brian2_gc():
                self.net.run(int(steps) * _ms(), namespace={})
        self.steps += int(steps)

    def _run_standalone(self, total: int) -> None:
        import brian2 as b2

        if self.program.learning:
            raise BackendError(
                "learning runs once per step beside Brian2 and needs a runtime target (cython or numpy); "
                "Brian2's cpp_standalone device cannot call it"
            )
        b2.set_device("cpp_standalone", build_on_run=False)
        try:
            self._create()
            self.net.run(total * _ms(), namespace={})
            key = hashlib.sha256(self.code_key.encode()).hexdigest()[:16]
            directory = standalone_cache_dir() / key
            directory.mkdir(parents=True, exist_ok=True)
            with open(directory / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one build per directory at a time
                t0 = time.perf_counter()
                try:
                    b2.device.build(directory=str(directory), compile=True, run=False, with_output=False)
                except Exception as exc:
                    raise BackendError(f"Brian2 could not build the cpp_standalone project: {exc}") from exc
                t1 = time.perf_counter()
                b2.device.run(directory=str(directory), with_output=False)
                t2 = time.perf_counter()
                self.timings = {
                    "compile_s": t1 - t0,
                    "binary_s": t2 - t1,
                    "net_run_s": float(b2.device._last_run_time),
                }
                self._snapshot = self._read_all()
        finally:
            self._release()
            from brian2.devices.device import reset_device

            b2.device.reinit()  # Brian2's recipe for several standalone runs in one process
            b2.device.activate()
            reset_device()  # back to the device that was active before

    def _read_all(self) -> dict:
        return {
            "counts": self._live_spike_counts(),
            "spikes": self._live_spikes(),
            "probes": {
                spec.name: self._live_probe(spec) for spec in self.program.probes if spec.variable != "spikes"
            },
        }

    # ---------------------------------------------------------------- results
    def spike_counts(self) -> np.ndarray:
        if self.target == "cpp_standalone":
            if self._snapshot is None:
                return np.zeros(self.program.n_compartments, np.int64)
            return self._snapshot["counts"]
        counts = self._live_spike_counts()
        return gather_concat(self.comm, counts) if self.comm is not None else counts

    def spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(step, compartment) of every spike, steps from 1."""
        if self.target == "cpp_standalone":
            return self._snapshot["spikes"] if self._snapshot else (np.zeros(0, np.int64),) * 2
        t, i = self._live_spikes()
        if self.comm is None:
            return t, i
        t, i = gather_concat(self.comm, t), gather_concat(self.comm, i + self.cx_lo)
        order = np.lexsort((i, t))  # as one process records them: by step, then compartment
        return t[order], i[order]

    # ------------------------------------------------------------- checkpoints
    def state(self) -> bytes:
        """Everything a run has changed, as bytes: Brian2's state of every object (with the spikes
        still queued in delays and the monitors' records), the learners' state and the step."""
        self._checkpointable()
        self.net.store(_CHECKPOINT)
        brian = self.net._stored_state.pop(_CHECKPOINT)
        learning = self.learning.state() if self.learning is not None else None
        return pickle.dumps(
            {"steps": self.steps, "brian2": brian, "learning": learning}, protocol=pickle.HIGHEST_PROTOCOL
        )

    def set_state(self, blob: bytes) -> None:
        """Back to a :meth:`state` of a backend built from the same program."""
        self._checkpointable()
        state = pickle.loads(blob)
        self.net._stored_state[_CHECKPOINT] = state["brian2"]
        try:
            self.net.restore(_CHECKPOINT, restore_random_state=True)
        finally:
            del self.net._stored_state[_CHECKPOINT]
        self.steps = int(state["steps"])
        for s in self.syn:  # the arrays the queues read ahead may be new ones now
            _warm_up(s)
        if self.learning is not None:
            self.learning.set_state(state["learning"])

    def _checkpointable(self) -> None:
        if self.target == "cpp_standalone":
            raise BackendError("checkpoints need a runtime target (cython or numpy), not cpp_standalone")
        if self.comm is not None:
            raise BackendError("checkpoints of runs over MPI ranks are not supported yet; run in one process")

    def weights(self, name: str) -> np.ndarray:
        """Current weight mantissas of projection ``name``, one per synapse in the projection's order."""
        p = self.program
        if self.learning is not None:
            for entry, lm in zip(self.learning.learners, p.learning, strict=True):
                if lm.projection == name:
                    learner = entry["learner"]
                    parts = [(learner.sid, learner.w)]
                    if self.comm is not None:  # each rank learns the synapses onto its compartments
                        parts = self.comm.allgather(parts[0])
                    out = np.empty(lm.pre_idx.size, np.int64)
                    for sid, w in parts:
                        out[sid] = w
                    return out
        return np.asarray(p.arrays["syn_weight"], np.int64)[p.projection(name).slot]

    def probe(self, spec) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values[n_samples, n_indices]) of a u, v or weights probe.

        Weights are the stored mantissas, one column per probed synapse.
        """
        if self.target == "cpp_standalone":
            if self._snapshot is None:
                return np.zeros(0, np.int64), np.zeros((0, np.asarray(spec.index).size), np.int64)
            return self._snapshot["probes"][spec.name]
        return self._live_probe(spec)

    def _live_spike_counts(self) -> np.ndarray:
        return np.asarray(self.cx.nspk[:], np.int64)[: self.cx_hi - self.cx_lo]

    def _live_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        if self.spike_mon is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        i = np.asarray(self.spike_mon.i[:], np.int64)
        t = np.rint(np.asarray(self.spike_mon.t_[:]) / 1e-3).astype(np.int64) + 1
        return t, i

    def _live_probe(self, spec) -> tuple[np.ndarray, np.ndarray]:
        index = np.asarray(spec.index)
        if spec.variable in ("u", "v"):
            mine = (index >= self.cx_lo) & (index < self.cx_hi)
            parts = [(-1, np.flatnonzero(mine), index[mine] - self.cx_lo)] if mine.any() else []
        else:
            kind = self.slot_kind[index]
            parts = [
                (int(k), np.flatnonzero(kind == k), self.slot_b2[index[kind == k]])
                for k in np.unique(kind[kind >= 0])
            ]
        steps, columns = None, []
        for k, cols, b2_index in parts:
            mon, record = self.state_mons[(k, spec.sample_every)]
            var = spec.variable if k < 0 else "wm"
            vals = np.asarray(getattr(mon, var)[np.searchsorted(record, b2_index)], np.int64).T
            steps = np.rint(np.asarray(mon.t_[:]) / 1e-3).astype(np.int64) + 1
            columns.append((cols, vals))
        if self.comm is not None:  # every rank sampled its own compartments and synapses
            gathered = self.comm.allgather((steps, columns))
            steps = next((st for st, _ in gathered if st is not None), None)
            columns = [c for _, cs in gathered for c in cs]
        if steps is None:
            steps = np.zeros(0, np.int64)
        data = np.zeros((steps.size, index.size), np.int64)
        for cols, vals in columns:
            data[:, cols] = vals
        return steps, data

    def _release(self) -> None:
        self.net = None
        self.cx = self.syn = self.inp = self.spike_mon = self.state_mons = self.clock = None
        self.learning = None

    def close(self) -> None:
        self._release()
        self._snapshot = None
        gc.collect()


_CHECKPOINT = "neurochip-checkpoint"


def _warm_up(synapses) -> None:
    """Tell a fast spike queue the arrays its pathway reads per synapse (targets and weights)."""
    queue = synapses.pre.queue
    if hasattr(queue, "warm_up"):
        queue.warm_up(synapses.variables["_synaptic_post"].get_value(), synapses.variables["w"].get_value())


@contextmanager
def _without_brian2_gc():
    """Skip the ``gc.collect()`` Brian2's ``Network.run`` starts with.

    It only serves warnings about objects left out of a network (none are: the
    backend builds its network explicitly) and costs 0.04 s per call once a
    chip's worth of objects is alive.
    """
    import brian2.core.network as network_module

    real = network_module.gc
    network_module.gc = SimpleNamespace(collect=lambda *a: 0)
    try:
        yield
    finally:
        network_module.gc = real


def _ms():
    from brian2 import ms

    return ms
