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

import gc
import logging

import numpy as np
from neurochip.cores import compartment as cm

from neurochip.errors import BackendError

TARGETS = ("cython", "numpy")
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


def uniform(values: np.ndarray) -> bool:
    return values.size > 0 and bool((values == values.flat[0]).all())


class Brian2Backend:
    """The Brian2 objects for one program; created by :class:`neurochip.Simulator`."""

    def __init__(self, program, target: str = "auto"):
        self.program = program
        self.target = choose_target(target)
        self.steps = 0
        self._build()

    # ------------------------------------------------------------------ build
    def _prefs(self):
        import brian2

        brian2.prefs.codegen.target = self.target
        brian2.prefs.codegen.string_expression_target = "numpy"

    def _build(self):
        import brian2 as b2

        self._prefs()
        p = self.program
        ms = b2.ms
        self.clock = b2.Clock(dt=1 * ms, name="nc_clock")
        regs = cm.register_values(p.compartment_registers())
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
            n_cx,
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
        cx.u = np.asarray(p.arrays["cx_u_init"], np.int64)
        cx.v = np.asarray(p.arrays["cx_v_init"], np.int64)
        self.cx = cx
        objects = [cx]

        src, tgt, w_eff, delay, slot = self._expand_synapses()
        self.inp = None
        if p.n_inputs:
            self.inp = self._input_group()
            objects.append(self.inp)
        want_mant = any(pr.variable == "weights" for pr in p.probes)
        model = "w : integer (constant)" + ("\nwm : integer (constant)" if want_mant else "")
        mant = np.asarray(p.arrays["syn_weight"], np.int64)[slot]
        # where each synapse slot lives: (index into self.syn, Brian2 synapse index)
        self.slot_kind = np.full(p.n_synapses, -1, np.int64)
        self.slot_b2 = np.zeros(p.n_synapses, np.int64)
        self.syn = []
        is_input = src >= n_cx
        for name, mask, source, offset in (("syn", ~is_input, cx, 0), ("syn_in", is_input, self.inp, n_cx)):
            if not mask.any():
                continue
            d = delay[mask]
            kw = {"delay": int(d[0]) * ms} if uniform(d) else {}
            s = b2.Synapses(
                source, cx, model, on_pre=cm.ON_PRE, clock=self.clock, name=name, namespace={}, **kw
            )
            s.connect(i=src[mask] - offset, j=tgt[mask])
            s.w = w_eff[mask]
            if want_mant:
                s.wm = mant[mask]
            if not kw:
                s.delay = d * ms
            self.slot_kind[slot[mask]] = len(self.syn)
            self.slot_b2[slot[mask]] = np.arange(int(mask.sum()))
            self.syn.append(s)
            objects.append(s)

        # spikes are counted by the reset; a monitor only records them for spike probes
        self.spike_mon = None
        if any(pr.variable == "spikes" for pr in p.probes):
            self.spike_mon = b2.SpikeMonitor(cx, record=True, name="spikes")
            objects.append(self.spike_mon)
        self.state_mons = self._state_monitors()
        objects += [m for m, _ in self.state_mons.values()]
        self.net = b2.Network(*objects, name="neurochip")
        self.net.run(0 * ms, namespace={})  # generate and compile all code now
        if self.target == "cython":
            check_compiled(self.net)

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
                wanted.setdefault((-1, pr.sample_every), []).append(np.asarray(pr.index))
            elif pr.variable == "weights":
                kind = self.slot_kind[pr.index]
                for k in np.unique(kind):
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
        import brian2 as b2

        self._prefs()
        self.net.run(int(steps) * b2.ms, namespace={})
        self.steps += int(steps)

    # ---------------------------------------------------------------- results
    def spike_counts(self) -> np.ndarray:
        return np.asarray(self.cx.nspk[:], np.int64)

    def spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(step, compartment) of every spike, steps from 1."""
        i = np.asarray(self.spike_mon.i[:], np.int64)
        t = np.rint(np.asarray(self.spike_mon.t_[:]) / 1e-3).astype(np.int64) + 1
        return t, i

    def probe(self, spec) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values[n_samples, n_indices]) of a u, v or weights probe.

        Weights are the stored mantissas, one column per probed synapse.
        """
        index = np.asarray(spec.index)
        if spec.variable in ("u", "v"):
            parts = [(-1, np.arange(index.size), index)]
        else:
            kind = self.slot_kind[index]
            parts = [
                (int(k), np.flatnonzero(kind == k), self.slot_b2[index[kind == k]]) for k in np.unique(kind)
            ]
        data = steps = None
        for k, cols, b2_index in parts:
            mon, record = self.state_mons[(k, spec.sample_every)]
            var = spec.variable if k < 0 else "wm"
            vals = np.asarray(getattr(mon, var)[np.searchsorted(record, b2_index)], np.int64).T
            if data is None:
                steps = np.rint(np.asarray(mon.t_[:]) / 1e-3).astype(np.int64) + 1
                data = np.zeros((vals.shape[0], index.size), np.int64)
            data[:, cols] = vals
        return steps, data

    def close(self) -> None:
        self.net = None
        self.cx = self.syn = self.inp = self.spike_mon = self.state_mons = None
        gc.collect()
