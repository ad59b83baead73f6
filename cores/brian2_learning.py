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
        for lm in p.learning:
            rule = lm.learning_rule()
            slots = p.projection(lm.projection).slot
            # the learner keeps the synapses in Brian2's order (its weight writes then walk
            # memory in order) and their projection numbers for the random streams
            order = np.argsort(backend.slot_b2[slots], kind="stable")
            slots = slots[order]
            mods = lm.modulator_sources()
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
            )
            self.learners.append(
                {
                    "learner": learner,
                    "weight_exp": lm.weight_exp,
                    "slots": slots,
                    "pre": _local_map(p.n_sources, lm.pre_source),
                    "post": _local_map(self.n_cx, lm.post_cx),
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
        self.w_arrays = [s.variables["w"].get_value() for s in b.syn]
        self.wm_arrays = [s.variables["wm"].get_value() for s in b.syn] if self.keep_mantissas else None
        for entry in self.learners:
            learner, slots = entry["learner"], entry["slots"]
            if learner.kernel is None or not slots.size:
                continue
            k = int(b.slot_kind[slots[0]])  # a projection's synapses share one Synapses object
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

    def _fired_sources(self) -> np.ndarray:
        n = int(self.cx_space[-1])
        fired = self.cx_space[:n].astype(np.int64)
        if self.inp_space is not None:
            k = int(self.inp_space[-1])
            if k:
                fired = np.concatenate([fired, self.n_cx + self.inp_space[:k].astype(np.int64)])
        return fired

    def __call__(self):
        t = int(self.timestep[0]) + 1  # DESIGN steps count from 1
        fired = cx_fired = None
        for entry in self.learners:
            learner = entry["learner"]
            if entry["direct"]:
                spaces = (self.cx_space, self.inp_space)
                n = learner.step_spaces(t, *spaces, entry["pre"], entry["post"], self.n_cx)
                if n > 0:
                    self.updates_at[t] = self.updates_at.get(t, 0) + n
                    if entry["learns_delay"]:
                        self._write(entry, learner, learner.cand[:n].copy())
                continue
            if fired is None:
                fired = self._fired_sources()
                cx_fired = fired[fired < self.n_cx]
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
            if changed is not None and (learner.kernel is None or entry["learns_delay"]):
                self._write(entry, learner, changed)

    def _write(self, entry, learner, changed: np.ndarray) -> None:
        b = self.backend
        slots = entry["slots"][changed]
        kind, idx = b.slot_kind[slots], b.slot_b2[slots]
        for k in np.unique(kind):
            sel = kind == k
            if learner.kernel is None:  # the compiled path wrote the weights already
                self.w_arrays[k][idx[sel]] = fp.effective_weight(learner.w[changed][sel], entry["weight_exp"])
                if self.keep_mantissas:
                    self.wm_arrays[k][idx[sel]] = learner.w[changed][sel]
            if entry["learns_delay"]:
                delays = b.syn[k].pre.variables["delay"].get_value()  # the pathway's per-synapse delays
                new = learner.d[changed][sel] * 1e-3  # steps of 1 ms, in seconds
                if not np.array_equal(delays[idx[sel]], new):
                    delays[idx[sel]] = new
                    b.prepare_queue[k]()  # the spike queue reads delays when prepared
