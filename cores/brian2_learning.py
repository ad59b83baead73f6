"""Coupling of the integer learning engine to the Brian2 runtime backend.

A ``NetworkOperation`` at the end of every step hands the step's spikes
(compartments, external inputs, modulators) to one
:class:`~neurochip.learning.engine.ProjectionLearner` per plastic projection.
At epoch ends the updated synapses' effective weights (and stored mantissas,
and learned delays) are written straight into the Brian2 synapse arrays; they
act on every delivery from the next step on.
"""

from __future__ import annotations

import numpy as np
from neurochip.cores import fixedpoint as fp
from neurochip.learning.engine import ProjectionLearner


def learning_threads(mpi: bool) -> int:
    """Threads for the compiled learning kernel: the CPUs this process may use (1 under MPI,
    where each rank has its own core), or ``NEUROCHIP_LEARNING_THREADS``."""
    import os

    env = os.environ.get("NEUROCHIP_LEARNING_THREADS")
    if env:
        return max(1, int(env))
    if mpi:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _local_map(universe_size: int, ids: np.ndarray) -> np.ndarray:
    """Array mapping a global id to its position in ``ids`` (-1 where absent)."""
    m = np.full(universe_size, -1, np.int64)
    m[ids] = np.arange(ids.size)
    return m


class LearningHook:
    def __init__(self, backend, keep_mantissas: bool):
        self.backend = backend
        p = backend.program
        self.n_cx = p.n_compartments
        self.keep_mantissas = keep_mantissas
        a = p.arrays
        from neurochip.cores.brian2_backend import cython_available

        kernel = None
        if cython_available():
            from neurochip.learning.kernel import compiled

            kernel = compiled()
        self.updates_at: dict[int, int] = {}  # step -> synapse updates (for the router's energy)
        self.learners = []
        threads = learning_threads(backend.comm is not None)
        lo, hi = backend.cx_lo, backend.cx_hi
        ghosts = backend.ghost_ids if backend.ghosts is not None else np.zeros(0, np.int64)
        n_inputs = p.n_sources - self.n_cx
        for lm in p.learning:
            rule = lm.learning_rule()
            slots = p.projection(lm.projection).slot
            # the synapses onto this rank's compartments (all of them in one process), in Brian2's
            # order (the weight writes then walk memory in order), with their projection numbers
            # for the random streams
            order = np.flatnonzero(backend.slot_kind[slots] >= 0)
            order = order[np.lexsort((backend.slot_b2[slots[order]], backend.slot_kind[slots[order]]))]
            slots = slots[order]
            mods = lm.modulator_sources()
            pre_map = _local_map(p.n_sources, lm.pre_source)
            post_map = _local_map(self.n_cx, lm.post_cx)
            learner = ProjectionLearner(
                rule,
                index=lm.index,
                n_pre=lm.pre_source.size,
                n_post=lm.post_cx.size,
                pre=lm.pre_idx[order],
                post=lm.post_idx[order],
                w=np.asarray(a["syn_weight"], np.int64)[slots],
                d=np.asarray(a["syn_delay"], np.int64)[slots],
                synapse_ids=order,
                sign_mode=lm.sign_mode,
                num_weight_bits=lm.num_weight_bits,
                seed=backend.seed,
                drivers={t: src.size == 1 for t, src in mods.items()},
                kernel=kernel,
                threads=threads,
            )
            self.learners.append(
                {
                    "learner": learner,
                    "weight_exp": lm.weight_exp,
                    "slots": slots,
                    "pre": pre_map,
                    "post": post_map,
                    # the same in the spike spaces' numbering: this rank's compartments, the
                    # inputs, the ghosts (other ranks' compartments)
                    "pre_spaces": np.concatenate(
                        [pre_map[lo:hi], pre_map[self.n_cx : self.n_cx + n_inputs], pre_map[ghosts]]
                    ),
                    "post_spaces": np.ascontiguousarray(post_map[lo:hi]),
                    "mods": {t: _local_map(p.n_sources, src) for t, src in mods.items()},
                    "broadcast": {t: int(src[0]) for t, src in mods.items() if src.size == 1},
                    "learns_delay": "dd" in rule.sums,
                    # no modulators: the compiled kernel reads the spike spaces itself
                    "direct": kernel is not None and not mods,
                }
            )

        self.attach()

    def attach(self) -> None:
        """Give the compiled learners Brian2's current weight arrays (again after a restore)."""
        b = self.backend
        self.timestep = b.clock.variables["timestep"].get_value()
        self.cx_space = b.cx.variables["_spikespace"].get_value()
        self.inp_space = b.inp.variables["_spikespace"].get_value() if b.inp is not None else None
        self.ghost_space = b.ghosts.variables["_spikespace"].get_value() if b.ghosts is not None else None
        self.w_arrays = [s.variables["w"].get_value() for s in b.syn]
        self.wm_arrays = [s.variables["wm"].get_value() for s in b.syn] if self.keep_mantissas else None
        for entry in self.learners:
            learner, slots = entry["learner"], entry["slots"]
            kinds = np.unique(b.slot_kind[slots])
            # the compiled path writes Brian2's weights itself when the synapses share one Synapses
            # object (always in one process; over MPI ranks a projection's synapses from local and
            # from other ranks' compartments are in two); otherwise this hook writes them
            entry["writes_weights"] = learner.kernel is None or kinds.size > 1
            if entry["direct"]:
                learner.bind_spaces(
                    self.timestep,
                    self.cx_space,
                    self.inp_space,
                    self.ghost_space,
                    entry["pre_spaces"],
                    entry["post_spaces"],
                    list_updates=entry["learns_delay"] or entry["writes_weights"],  # (see __call__)
                )
            if entry["writes_weights"] or not slots.size:
                continue
            k = int(kinds[0])
            learner.attach(
                self.w_arrays[k],
                self.wm_arrays[k] if self.keep_mantissas else None,
                b.slot_b2[slots],
                entry["weight_exp"],
            )

    def state(self) -> dict:
        return {
            "learners": [e["learner"].state() for e in self.learners],
            "updates_at": dict(self.updates_at),
        }

    def set_state(self, state: dict) -> None:
        for entry, st in zip(self.learners, state["learners"], strict=True):
            entry["learner"].set_state(st)
        self.updates_at = dict(state["updates_at"])
        self.attach()

    def _fired_sources(self) -> tuple[np.ndarray, np.ndarray]:
        """Global ids of the sources that spiked this step, and of this rank's compartments among them."""
        b = self.backend
        local = self.cx_space[: int(self.cx_space[-1])].astype(np.int64) + b.cx_lo
        parts = [local]
        if self.inp_space is not None:
            parts.append(self.n_cx + self.inp_space[: int(self.inp_space[-1])].astype(np.int64))
        if self.ghost_space is not None:
            parts.append(b.ghost_ids[self.ghost_space[: int(self.ghost_space[-1])]])
        return np.concatenate(parts), local

    def __call__(self):
        t = int(self.timestep[0]) + 1  # DESIGN steps count from 1
        fired = cx_fired = None
        for entry in self.learners:
            learner = entry["learner"]
            if entry["direct"]:  # the kernel reads the step and its spikes itself
                n = learner.step_bound()
                if n > 0:
                    learner.synapses_updated += n
                    self.updates_at[t] = self.updates_at.get(t, 0) + n
                    if entry["learns_delay"] or entry["writes_weights"]:
                        self._write(entry, learner, learner.cand[:n])
                continue
            if fired is None:
                fired, cx_fired = self._fired_sources()
            pre = entry["pre"][fired]
            post = entry["post"][cx_fired]
            drivers = {}
            for trace, local in entry["mods"].items():
                if trace in entry["broadcast"]:
                    drivers[trace] = bool(np.any(fired == entry["broadcast"][trace]))
                else:
                    hit = local[fired]
                    drivers[trace] = hit[hit >= 0]
            changed = learner.step(t, pre[pre >= 0], post[post >= 0], drivers)
            if changed is not None:
                self.updates_at[t] = self.updates_at.get(t, 0) + int(changed.size)
            if changed is not None and (entry["writes_weights"] or entry["learns_delay"]):
                self._write(entry, learner, changed)

    def _write(self, entry, learner, changed: np.ndarray) -> None:
        b = self.backend
        slots = entry["slots"][changed]
        kind, idx = b.slot_kind[slots], b.slot_b2[slots]
        for k in np.unique(kind):
            sel = kind == k
            if entry["writes_weights"]:  # else the compiled path wrote them already
                self.w_arrays[k][idx[sel]] = fp.effective_weight(learner.w[changed][sel], entry["weight_exp"])
                if self.keep_mantissas:
                    self.wm_arrays[k][idx[sel]] = learner.w[changed][sel]
            if entry["learns_delay"]:
                delays = b.syn[k].pre.variables["delay"].get_value()  # the pathway's per-synapse delays
                new = learner.d[changed][sel] * 1e-3  # steps of 1 ms, in seconds
                if not np.array_equal(delays[idx[sel]], new):
                    delays[idx[sel]] = new
                    b.prepare_queue[k]()  # the spike queue reads delays when prepared
