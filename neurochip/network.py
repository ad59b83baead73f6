"""Describing a network: what the user wants, in hardware units, with no state.

Objects join a :class:`Network` explicitly: created inside ``with Network() as
net:`` or passed to ``net.add``. There is no global default network.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import scipy.sparse

from neurochip.cores.discretize import (
    DiscretizationReport,
    bias_from_float,
    decay_from_tau,
    threshold_from_float,
)
from neurochip.cores.fixedpoint import REGISTER_DEFAULTS, REGISTERS, SIGN_MODES
from neurochip.errors import ValidationError
from neurochip.params import (
    ChoiceParam,
    CountParam,
    Param,
    RegisterParam,
    as_int_array,
    check_choice,
    check_count,
    check_name,
    check_range,
)

_context = threading.local()
_counters: dict[str, itertools.count] = {}


def _auto_name(kind: str) -> str:
    return f"{kind}_{next(_counters.setdefault(kind, itertools.count()))}"


def _current_networks() -> list:
    if not hasattr(_context, "stack"):
        _context.stack = []
    return _context.stack


class NetworkObject:
    """Base of everything a network holds; joins the network open in a ``with``."""

    kind = "object"

    def __init__(self, name: str | None):
        self.name = check_name(self.kind.capitalize(), name if name is not None else _auto_name(self.kind))
        stack = _current_networks()
        if stack:
            stack[-1].add(self)

    @property
    def label(self) -> str:
        return f"{type(self).__name__} {self.name!r}"

    def __repr__(self) -> str:
        return f"<{self.label}>"


class Population(NetworkObject):
    """``n`` Loihi CUBA LIF compartments, described by their hardware registers.

    Compartment dynamics (DESIGN.md section 5), all integer, once per step::

        u <- wrap24(rtz_decay(u, du + ds_offset) + q)
        v <- clamp(rtz_decay(v, dv + dm_offset) + u + bias_mant * 2**bias_exp, vmin, vmax)
        spike if v > vth_mant * 2**6, then v <- 0 and `refractory - 1` steps with v held at 0

    Parameters
    ----------
    n : int
        Number of compartments.
    du, dv : int or array, [0, 4095]
        12-bit current and voltage decays (decay of 4096 clears in one step).
    ds_offset, dm_offset : int or array, {0, 1}
        Offsets the hardware adds to du and dv (defaults 1 and 0, as Lava).
    vth_mant : int or array, [0, 131071]
        Threshold mantissa; the compartment spikes when v > vth_mant * 2**6.
    bias_mant : int or array, [-4096, 4095]; bias_exp : int or array, [0, 7]
        Constant input added to v every step: bias_mant * 2**bias_exp.
    refractory : int or array, [1, 63]
        Steps from a spike to the next possible spike; v is held at 0 for
        ``refractory - 1`` steps after the spike (1 = no refractoriness).
    vmin_exp : int, [0, 23]; vmax_exp : int, [0, 7]
        Per-core voltage bounds vmin = -2**vmin_exp + 1, vmax = 2**(9 + 2 vmax_exp) - 1.
        Populations with different bounds never share a core.
    u_init, v_init : int or array
        Initial state.
    block_size : int, optional
        Largest number of compartments of this population on one core
        (splitting control, like nengo-loihi's BlockShape).
    """

    kind = "population"

    du = RegisterParam()
    dv = RegisterParam()
    ds_offset = RegisterParam()
    dm_offset = RegisterParam()
    vth_mant = RegisterParam()
    bias_mant = RegisterParam()
    bias_exp = RegisterParam()
    refractory = RegisterParam()
    vmin_exp = RegisterParam(per_neuron=False)
    vmax_exp = RegisterParam(per_neuron=False)
    u_init = RegisterParam()
    v_init = RegisterParam()
    block_size = CountParam(optional=True)

    REGISTER_NAMES = tuple(REGISTER_DEFAULTS)

    def __init__(self, n: int, *, name: str | None = None, block_size: int | None = None, **registers):
        self.n = check_count(f"Population {name!r}", "n", n)
        unknown = set(registers) - set(self.REGISTER_NAMES)
        if unknown:
            raise ValidationError(
                f"Population {name!r}: unknown parameter(s) {sorted(unknown)}; "
                f"registers are {list(self.REGISTER_NAMES)}"
            )
        self.name = check_name("Population", name if name is not None else _auto_name(self.kind))
        for reg in self.REGISTER_NAMES:
            setattr(self, reg, registers.get(reg, REGISTER_DEFAULTS[reg]))
        self.block_size = block_size
        self.discretization: DiscretizationReport | None = None
        NetworkObject.__init__(self, self.name)

    def register_array(self, reg: str) -> np.ndarray:
        """The register as one ``int64`` value per compartment."""
        return np.broadcast_to(np.asarray(getattr(self, reg), dtype=np.int64), (self.n,))

    @classmethod
    def from_time_constants(
        cls,
        n: int,
        *,
        tau_u: float,
        tau_v: float,
        threshold: float,
        bias: float = 0.0,
        refractory: int = 1,
        unit: float = 1 << 6,
        name: str | None = None,
        **registers,
    ) -> Population:
        """A population from time constants (in steps) and a threshold and bias in any scale.

        ``unit`` is the number of voltage units per unit of ``threshold`` and
        ``bias``; the default 64 makes one unit equal to a weight mantissa of 1
        at weight exponent 0. The rounding done is in ``.discretization``.
        """
        report = DiscretizationReport()
        ds = registers.get("ds_offset", REGISTER_DEFAULTS["ds_offset"])
        dm = registers.get("dm_offset", REGISTER_DEFAULTS["dm_offset"])
        du, r = decay_from_tau("tau_u", tau_u, int(ds))
        report.add(r)
        dv, r = decay_from_tau("tau_v", tau_v, int(dm))
        report.add(r)
        vth, r = threshold_from_float(threshold, unit)
        report.add(r)
        bm, be, r = bias_from_float(bias, unit)
        report.add(r)
        pop = cls(
            n,
            name=name,
            du=du,
            dv=dv,
            vth_mant=vth,
            bias_mant=bm,
            bias_exp=be,
            refractory=refractory,
            **registers,
        )
        pop.discretization = report
        return pop


class SpikeInput(NetworkObject):
    """``n`` external spike sources. A spike given for step t acts at step t + 1.

    Give either ``indices`` and ``steps`` (equal-length arrays; steps start at 1)
    or a boolean ``raster`` of shape (steps, n) whose row k holds the spikes of
    step k + 1.
    """

    kind = "input"

    def __init__(self, n: int, *, indices=None, steps=None, raster=None, name: str | None = None):
        label = f"SpikeInput {name!r}"
        self.n = check_count(label, "n", n)
        if raster is not None:
            if indices is not None or steps is not None:
                raise ValidationError(f"{label}: give either raster or indices/steps, not both")
            raster = np.asarray(raster)
            if raster.ndim != 2 or raster.shape[1] != self.n:
                raise ValidationError(f"{label}.raster: expected shape (steps, {self.n}), got {raster.shape}")
            s, i = np.nonzero(raster)
            steps, indices = s + 1, i
        indices = (
            np.zeros(0, np.int64) if indices is None else as_int_array(label, "indices", indices, ndim=1)
        )
        steps = np.zeros(0, np.int64) if steps is None else as_int_array(label, "steps", steps, ndim=1)
        if indices.shape != steps.shape:
            raise ValidationError(
                f"{label}: indices and steps differ in length ({indices.size} vs {steps.size})"
            )
        check_range(label, "indices", indices, 0, self.n - 1, "input channel")
        check_range(label, "steps", steps, 1, np.iinfo(np.int32).max, "step, first step is 1")
        order = np.lexsort((indices, steps))
        indices, steps = indices[order], steps[order]
        dup = np.flatnonzero((np.diff(indices) == 0) & (np.diff(steps) == 0))
        if dup.size:
            raise ValidationError(f"{label}: channel {indices[dup[0]]} spikes twice in step {steps[dup[0]]}")
        self.indices, self.steps = indices, steps
        for a in (self.indices, self.steps):
            a.setflags(write=False)
        super().__init__(name)


class LearningRuleParam(Param):
    def check(self, obj, rule):
        from neurochip.learning.rules import LearningRule

        if rule is not None and not isinstance(rule, LearningRule):
            raise ValidationError(f"{obj.label}.learning_rule: expected a LearningRule, got {rule!r}")
        return rule


class Projection(NetworkObject):
    """Synapses from ``pre`` (a Population or SpikeInput) to ``post`` (a Population).

    Parameters
    ----------
    weights : array (n_post, n_pre) or scipy.sparse matrix of that shape
        Integer weight mantissas. Dense: every non-zero entry is a synapse.
        Sparse: every stored entry is a synapse; duplicate entries stay
        separate synapses (as on the hardware and in brian2-loihi).
    weight_exp : int, [-8, 7]
        Each event adds ``floor(w * 2**weight_exp) * 2**6`` to the target's q.
    sign_mode : {'mixed', 'excitatory', 'inhibitory'} or None
        None picks from the weights' signs, as Lava does.
    num_weight_bits : int, [1, 8]
        Precision; mantissas are clipped to the sign mode's range and lose
        ``8 - num_weight_bits + is_mixed`` low bits. Changes are reported at compile time.
    delay : int or array, [0, 62]
        Synaptic delay in steps: a spike at step t reaches q at step t + 1 + delay.
        One value, or one per synapse (same shape as dense weights, or one per
        stored entry of sparse weights).
    learning_rule : neurochip.learning.LearningRule, optional
        Makes the projection plastic (DESIGN.md section 6).
    modulators : dict, optional
        Third factor: ``{"y2": population}`` lets the spikes of ``population``
        (size 1: broadcast to every post neuron; size ``post.n``: one to one)
        add the y2 impulse to the post traces instead of the post spikes. Keys
        are ``"y1"``, ``"y2"``, ``"y3"``.
    """

    kind = "projection"

    weight_exp = RegisterParam(per_neuron=False)
    learning_rule = LearningRuleParam()
    num_weight_bits = RegisterParam(per_neuron=False)
    sign_mode = ChoiceParam(SIGN_MODES, optional=True)

    def __init__(
        self,
        pre,
        post,
        weights,
        *,
        weight_exp: int = 0,
        sign_mode: str | None = None,
        num_weight_bits: int = 8,
        delay=0,
        learning_rule=None,
        modulators: dict | None = None,
        name: str | None = None,
    ):
        self.name = check_name("Projection", name if name is not None else _auto_name(self.kind))
        label = self.label
        if not isinstance(pre, (Population, SpikeInput)):
            raise ValidationError(f"{label}.pre: expected a Population or SpikeInput, got {pre!r}")
        if not isinstance(post, Population):
            raise ValidationError(f"{label}.post: expected a Population, got {post!r}")
        self.pre, self.post = pre, post
        shape = (post.n, pre.n)
        if scipy.sparse.issparse(weights):
            if weights.shape != shape:
                raise ValidationError(
                    f"{label}.weights: expected shape {shape} (post, pre), got {weights.shape}"
                )
            coo = scipy.sparse.coo_matrix(weights)  # keeps duplicate entries
            post_idx = np.asarray(coo.row, np.int64)
            pre_idx = np.asarray(coo.col, np.int64)
            w = as_int_array(label, "weights", coo.data)
            dense_mask = None
        else:
            wd = as_int_array(label, "weights", weights, ndim=2)
            if wd.shape != shape:
                raise ValidationError(f"{label}.weights: expected shape {shape} (post, pre), got {wd.shape}")
            dense_mask = wd != 0
            post_idx, pre_idx = np.nonzero(dense_mask)
            w = wd[post_idx, pre_idx]
        if np.abs(w).max(initial=0) > np.iinfo(np.int32).max:
            raise ValidationError(f"{label}.weights: mantissas beyond the 32-bit range")
        self.weight_exp = weight_exp
        self.num_weight_bits = num_weight_bits
        self.sign_mode = sign_mode
        d = as_int_array(label, "delay", delay)
        if d.ndim:
            if dense_mask is not None and d.shape == shape:
                d = d[post_idx, pre_idx]
            elif d.shape != w.shape:
                want = shape if dense_mask is not None else (w.size,)
                raise ValidationError(
                    f"{label}.delay: expected a scalar or shape {want} (one per synapse), got {d.shape}"
                )
        reg = REGISTERS["delay"]
        check_range(label, "delay", d, reg.low, reg.high, reg.meaning)
        self.pre_idx, self.post_idx, self.weights = pre_idx, post_idx, w
        self.learning_rule = learning_rule
        self.modulators = _check_modulators(label, modulators, post, self.learning_rule)
        self.delays = np.broadcast_to(d, w.shape).astype(np.int64) if d.ndim else int(d)
        for a in (self.pre_idx, self.post_idx, self.weights):
            a.setflags(write=False)
        super().__init__(self.name)

    @property
    def n_synapses(self) -> int:
        return int(self.weights.size)

    def delay_array(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.delays, np.int64), self.weights.shape)


def _check_modulators(label, modulators, post, rule) -> dict:
    if not modulators:
        return {}
    if rule is None:
        raise ValidationError(f"{label}.modulators: only a projection with a learning_rule has modulators")
    out = {}
    for trace, src in dict(modulators).items():
        if trace not in ("y1", "y2", "y3"):
            raise ValidationError(f"{label}.modulators: {trace!r} is not a post trace (y1, y2, y3)")
        if not isinstance(src, (Population, SpikeInput)):
            raise ValidationError(
                f"{label}.modulators[{trace!r}]: expected a Population or SpikeInput, got {src!r}"
            )
        if src.n not in (1, post.n):
            raise ValidationError(
                f"{label}.modulators[{trace!r}]: {src.label} has {src.n} neurons; "
                f"a modulator has 1 (broadcast) or {post.n} (one per post neuron)"
            )
        out[trace] = src
    return out


PROBE_VARIABLES = {Population: ("spikes", "u", "v"), Projection: ("weights",)}


class Probe(NetworkObject):
    """Records ``variable`` of ``target`` during a run.

    ``'spikes'``, ``'u'`` or ``'v'`` of a Population (``indices`` picks
    compartments, default all), or ``'weights'`` of a Projection (one column per
    synapse, in the projection's synapse order). State is sampled at the end of
    a step, every ``sample_every`` steps.
    """

    kind = "probe"

    sample_every = CountParam()

    def __init__(self, target, variable: str, *, indices=None, sample_every: int = 1, name=None):
        self.name = check_name("Probe", name if name is not None else _auto_name(self.kind))
        label = self.label
        allowed = next((v for t, v in PROBE_VARIABLES.items() if isinstance(target, t)), None)
        if allowed is None:
            raise ValidationError(f"{label}.target: expected a Population or Projection, got {target!r}")
        self.target = target
        self.variable = check_choice(label, "variable", variable, allowed)
        size = target.n if isinstance(target, Population) else target.n_synapses
        if indices is None:
            idx = np.arange(size, dtype=np.int64)
        else:
            idx = as_int_array(label, "indices", indices, ndim=1)
            check_range(label, "indices", idx, 0, size - 1, f"index into {target.label}")
        idx.setflags(write=False)
        self.indices = idx
        self.sample_every = sample_every
        super().__init__(self.name)


class Network:
    """A container of populations, inputs, projections and probes.

    Use ``with Network() as net:`` (objects created inside join it) or ``net.add(obj)``.
    """

    def __init__(self, name: str = "network"):
        self.name = check_name("Network", name)
        self.populations: list[Population] = []
        self.inputs: list[SpikeInput] = []
        self.projections: list[Projection] = []
        self.probes: list[Probe] = []

    def __enter__(self) -> Network:
        _current_networks().append(self)
        return self

    def __exit__(self, *exc) -> None:
        stack = _current_networks()
        if not stack or stack[-1] is not self:
            raise RuntimeError("Network contexts closed out of order")
        stack.pop()

    def _list_for(self, obj) -> list:
        for cls, lst in (
            (Population, self.populations),
            (SpikeInput, self.inputs),
            (Projection, self.projections),
            (Probe, self.probes),
        ):
            if isinstance(obj, cls):
                return lst
        raise ValidationError(f"Network {self.name!r}: cannot add {obj!r}")

    def add(self, *objs):
        """Add objects; returns the last one so ``p = net.add(Population(...))`` works."""
        for obj in objs:
            lst = self._list_for(obj)
            if any(o is obj for o in lst):
                continue
            if any(o.name == obj.name for o in self.all_objects):
                raise ValidationError(f"Network {self.name!r}: a second object is named {obj.name!r}")
            lst.append(obj)
        return objs[-1] if objs else None

    @property
    def all_objects(self) -> list:
        return [*self.populations, *self.inputs, *self.projections, *self.probes]

    @property
    def n_compartments(self) -> int:
        return sum(p.n for p in self.populations)

    def save(self, path) -> str:
        """Write the network to an HDF5 file (see :mod:`neurochip.netio`); returns the path."""
        from neurochip.netio import save_network

        return save_network(self, path)

    @classmethod
    def load(cls, path) -> Network:
        """A network saved with :meth:`save`."""
        from neurochip.netio import load_network

        return load_network(path)

    def __repr__(self) -> str:
        return (
            f"<Network {self.name!r}: {len(self.populations)} populations "
            f"({self.n_compartments} compartments), {len(self.inputs)} inputs, "
            f"{len(self.projections)} projections, {len(self.probes)} probes>"
        )
