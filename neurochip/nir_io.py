"""NIR (Neuromorphic Intermediate Representation) import and export.

:func:`from_nir` turns a NIR graph (a ``nir.NIRGraph`` or a ``.nir`` file, as
snnTorch, Norse, Sinabs, Rockpool, Spyx or Nengo write them) into a
:class:`~neurochip.network.Network`; :func:`to_nir` writes a network as
Loihi-shaped NIR (CubaLIF + Affine/Linear + Delay).

Conventions (the exporters' discrete-time one, snnTorch/SpikingJelly): time
constants are seconds at the given ``dt``. A CubaLIF node follows, per step,
``I <- (1 - dt/tau_syn) I + (w_in dt/tau_syn) W s`` and
``v <- (1 - dt/tau_mem) v + (r dt/tau_mem) I + (dt/tau_mem) v_leak``, spiking
when ``v > v_threshold`` and resetting to ``v_reset``. That is Loihi CUBA with

* ``du = round(4096 dt / tau_syn)``, ``dv = round(4096 dt / tau_mem)``
  (decay offsets 0; a decay of 4096 is register 4095 plus offset 1);
* weights ``W * (w_in dt/tau_syn) * (r dt/tau_mem)`` (1 in the snnTorch
  convention ``w_in = tau_syn/dt``, ``r = tau_mem/dt``), in units of ``1/S``
  of the float voltage, where ``S`` (a power of two per population) puts the
  threshold's mantissa in [1024, 2048); each projection gets the weight
  exponent that keeps the most precision (8-bit mixed-sign mantissas);
* ``v_leak`` becomes a bias, an Affine bias too (exact for LIF/IF inputs; for
  CubaLIF the bias acts on ``v`` at its steady-state value).

LIF and IF nodes have no synaptic current (``du = 4096``); LI and CubaLI
become non-spiking readouts whose voltage is probed. Conv2d and SumPool2d are
unrolled into sparse projections (shared weights), Flatten is the identity on
the C-order flattening, Delay nodes become synaptic delays (``round(delay/dt)``
steps, less the one step every Loihi synapse takes). Nested graphs are
flattened; recurrent edges are allowed. Every approximation made is listed in
the import's :class:`NIRReport`; what cannot be represented raises a
:class:`~neurochip.errors.ValidationError` naming the node and the field.

Graphs written by :func:`to_nir` carry the exact registers in node metadata
(``"neurochip"``), so importing them gives the same network back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from neurochip.errors import ValidationError

DECAY_UNITY = 4096
WMAX = 254  # largest even 8-bit mixed-sign mantissa
VTH_TARGET = 1024  # thresholds scaled into [VTH_TARGET, 2 * VTH_TARGET)
NEURONS = ("CubaLIF", "LIF", "IF", "LI", "CubaLI")
META = "neurochip"


def _nir():
    try:
        import nir
    except ImportError:
        raise ValidationError("NIR support needs the nir package: pip install 'neurochip[nir]'") from None
    return nir


@dataclass
class NIRReport:
    """What the import changed: one line per approximation, and the largest weight error."""

    notes: list[str] = field(default_factory=list)
    max_weight_rel_error: float = 0.0
    clipped: int = 0

    def __str__(self) -> str:
        head = (
            f"NIR import: max relative weight error {self.max_weight_rel_error:.3g}, "
            f"{self.clipped} value(s) clipped"
        )
        return "\n".join([head, *(f"  {n}" for n in self.notes)])


@dataclass
class NIRImport:
    """The result of :func:`from_nir`: the network, its inputs and output probes, the report."""

    network: object
    inputs: dict
    outputs: dict
    populations: dict
    report: NIRReport


# ------------------------------------------------------------------ graph flattening
def _flatten(graph, prefix=""):
    """(nodes, edges) of a graph with nested graphs expanded: a subgraph's name stands for its
    Input node(s) as a target and its Output node(s) as a source."""
    nir = _nir()
    nodes, edges = {}, []
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_in, sub_out = _flatten(node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[full], exit_[full] = sub_in, sub_out
        else:
            nodes[full] = node
    for src, dst in graph.edges:
        src_names = exit_.get(prefix + src, [prefix + src])
        dst_names = entry.get(prefix + dst, [prefix + dst])
        edges += [(s, d) for s in src_names for d in dst_names]
    ins = [n for n, v in nodes.items() if n.startswith(prefix) and n.count(".") == prefix.count(".")]
    sub_in = [n for n in ins if isinstance(nodes[n], nir.Input)]
    sub_out = [n for n in ins if isinstance(nodes[n], nir.Output)]
    return nodes, edges, sub_in, sub_out


def _shape_of(value) -> tuple:
    return tuple(int(v) for v in np.atleast_1d(np.asarray(value)))


# ------------------------------------------------------------------ linear maps
def _conv2d(node, in_shape, name):
    w = np.asarray(node.weight, np.float64)
    if w.ndim != 4:
        raise ValidationError(f"NIR node {name!r}.weight: expected (out, in/groups, kh, kw), got {w.shape}")
    c_out, c_in_g, kh, kw = w.shape
    if len(in_shape) != 3:
        raise ValidationError(f"NIR node {name!r}: needs a (C, H, W) input, got shape {in_shape}")
    c_in, h, wd = in_shape
    groups = int(node.groups)
    sh, sw = np.broadcast_to(np.asarray(node.stride, np.int64), 2)
    dh, dw = np.broadcast_to(np.asarray(node.dilation, np.int64), 2)
    if isinstance(node.padding, str):
        if node.padding == "valid":
            ph = pw = 0
        elif node.padding == "same":
            ph, pw = (dh * (kh - 1)) // 2, (dw * (kw - 1)) // 2
        else:
            raise ValidationError(f"NIR node {name!r}.padding: {node.padding!r} is not 'same' or 'valid'")
    else:
        ph, pw = np.broadcast_to(np.asarray(node.padding, np.int64), 2)
    if c_in != c_in_g * groups:
        raise ValidationError(
            f"NIR node {name!r}.groups: {groups} groups of {c_in_g} != {c_in} input channels"
        )
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    oc, oy, ox, ic, ky, kx = np.meshgrid(
        np.arange(c_out), np.arange(ho), np.arange(wo), np.arange(c_in_g), np.arange(kh), np.arange(kw),
        indexing="ij",
    )  # fmt: skip
    iy, ix = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
    cin = (oc // (c_out // groups)) * c_in_g + ic
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
    rows = ((oc * ho + oy) * wo + ox)[ok]
    cols = ((cin * h + iy) * wd + ix)[ok]
    vals = w[oc[ok], ic[ok], ky[ok], kx[ok]]
    m = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(c_out * ho * wo, c_in * h * wd))
    bias = np.asarray(node.bias, np.float64) if node.bias is not None else np.zeros(c_out)
    bias = np.repeat(np.broadcast_to(bias, (c_out,)), ho * wo)
    return m, bias, (c_out, ho, wo)


def _sumpool2d(node, in_shape, name):
    if len(in_shape) != 3:
        raise ValidationError(f"NIR node {name!r}: needs a (C, H, W) input, got shape {in_shape}")
    c, h, wd = in_shape
    kh, kw = np.broadcast_to(np.asarray(node.kernel_size, np.int64), 2)
    sh, sw = np.broadcast_to(np.asarray(node.stride, np.int64), 2)
    ph, pw = np.broadcast_to(np.asarray(node.padding, np.int64), 2)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    ch, oy, ox, ky, kx = np.meshgrid(
        np.arange(c), np.arange(ho), np.arange(wo), np.arange(kh), np.arange(kw), indexing="ij"
    )
    iy, ix = oy * sh - ph + ky, ox * sw - pw + kx
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
    rows = ((ch * ho + oy) * wo + ox)[ok]
    cols = ((ch * h + iy) * wd + ix)[ok]
    m = scipy.sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(c * ho * wo, c * h * wd))
    return m, np.zeros(c * ho * wo), (c, ho, wo)


# ------------------------------------------------------------------ import
def _decay(tau, dt, name, fld) -> tuple[np.ndarray, np.ndarray]:
    """Decay registers and offsets for time constants ``tau`` (seconds) at ``dt``."""
    tau = np.asarray(tau, np.float64)
    if np.any(~(tau > 0)):
        raise ValidationError(f"NIR node {name!r}.{fld}: time constants must be > 0 (inf: no decay)")
    eff = np.where(np.isinf(tau), 0, np.rint(DECAY_UNITY * dt / np.where(np.isinf(tau), 1, tau)))
    eff = np.clip(eff, 0, DECAY_UNITY).astype(np.int64)
    return np.minimum(eff, DECAY_UNITY - 1), (eff == DECAY_UNITY).astype(np.int64)


def _gain(r, tau, dt) -> np.ndarray:
    """r * dt / tau, exactly 1 in the ``r = tau / dt`` convention (also for tau = inf)."""
    r, tau = np.asarray(r, np.float64), np.asarray(tau, np.float64)
    conv = np.isclose(r * dt, tau, rtol=1e-9) | (np.isinf(r) & np.isinf(tau))
    with np.errstate(invalid="ignore"):
        return np.where(conv, 1.0, r * dt / tau)


def _uniform(values, n, name, fld):
    a = np.asarray(values, np.float64)
    if a.size not in (1, n):
        raise ValidationError(f"NIR node {name!r}.{fld}: {a.size} values for {n} neurons")
    return np.broadcast_to(a.ravel() if a.size > 1 else a.reshape(()), (n,))


class _Neuron:
    """A neuron node's registers (before the scale S) and its input gains."""

    def __init__(self, name, node, dt, report):
        nir = _nir()
        self.name, self.node = name, node
        kind = type(node).__name__
        self.spiking = kind in ("CubaLIF", "LIF", "IF")
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            n = np.asarray(node.tau_mem).size
            tau_syn = _uniform(node.tau_syn, n, name, "tau_syn")
            tau_mem = _uniform(node.tau_mem, n, name, "tau_mem")
            w_in = _uniform(node.w_in, n, name, "w_in")
        elif isinstance(node, (nir.LIF, nir.LI)):
            n = np.asarray(node.tau).size
            tau_mem = _uniform(node.tau, n, name, "tau")
            tau_syn, w_in = np.full(n, dt), np.ones(n)
        elif isinstance(node, nir.IF):
            n = np.asarray(node.r).size
            tau_mem, tau_syn, w_in = np.full(n, np.inf), np.full(n, dt), np.ones(n)
        else:
            raise ValidationError(f"NIR node {name!r}: {kind} is not a neuron")
        self.n = n
        r = _uniform(node.r, n, name, "r")
        self.du, self.ds = _decay(tau_syn, dt, name, "tau_syn")
        self.dv, self.dm = _decay(tau_mem, dt, name, "tau_mem")
        g_in = np.where(np.isinf(tau_syn) & np.isinf(w_in), 1.0, _gain(w_in, tau_syn, dt))
        # IF (no leak): v grows by r times its input per step, as Sinabs and Norse use it
        g_v = r.copy() if isinstance(node, nir.IF) else _gain(r, tau_mem, dt)
        self.gain = g_in * g_v
        self.tau_mem = tau_mem
        v_leak = _uniform(getattr(node, "v_leak", 0.0), n, name, "v_leak")
        with np.errstate(invalid="ignore", divide="ignore"):
            self.leak = np.where(np.isinf(tau_mem), 0.0, v_leak * dt / tau_mem)  # per step, on v
        if np.any(v_leak != 0):
            report.notes.append(f"{name}: v_leak != 0 becomes a bias of v_leak*dt/tau_mem per step")
        if self.spiking:
            self.v_th = _uniform(node.v_threshold, n, name, "v_threshold")
            if np.any(self.v_th <= 0):
                raise ValidationError(f"NIR node {name!r}.v_threshold: must be > 0 (Loihi spikes at v > vth)")
            v_reset = getattr(node, "v_reset", None)
            if v_reset is not None and np.any(np.asarray(v_reset) != 0):
                raise ValidationError(f"NIR node {name!r}.v_reset: Loihi resets to 0; got {v_reset}")
        else:
            self.v_th = None
        self.bias = np.zeros(n)  # from Affine biases, added later


def from_nir(graph, *, dt: float = 1e-3, inputs: dict | None = None, name: str = "nir") -> NIRImport:
    """A Network from a NIR graph (or a path to a ``.nir`` file); see the module docstring.

    ``inputs`` maps Input node names to spike rasters (steps, n) for the network's SpikeInputs.
    """
    nir = _nir()
    from neurochip.network import Network, Population, Probe, Projection, SpikeInput

    if not isinstance(graph, nir.NIRGraph):
        graph = read_nir(graph)
    if not dt > 0:
        raise ValidationError(f"from_nir.dt: {dt} must be > 0 seconds")
    report = NIRReport()
    nodes, edges, _, _ = _flatten(graph)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for s, d in edges:
        if s not in nodes or d not in nodes:
            raise ValidationError(f"NIR edge ({s!r}, {d!r}): no node named {s if s not in nodes else d!r}")
        preds[d].append(s)
        succs[s].append(d)
    top_inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input) and not preds[n]]
    top_outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output) and not succs[n]]

    neurons = {n: _Neuron(n, v, dt, report) for n, v in nodes.items() if type(v).__name__ in NEURONS}
    # output shape of every node (C-order flattening), from the inputs along the edges; the
    # unrolled matrices of Conv2d and SumPool2d nodes (they give the shape)
    shapes: dict[str, tuple] = {}
    unrolled: dict[str, tuple] = {}

    def shape(n, seen=()):
        if n in shapes:
            return shapes[n]
        node = nodes[n]
        kind = type(node).__name__
        if isinstance(node, nir.Input):
            if preds[n]:  # the Input of a nested graph passes its input on
                shapes[n] = shape(preds[n][0], (*seen, n))
            else:
                shapes[n] = _shape_of(node.input_type["input"])
        elif n in neurons:
            size = neurons[n].n
            shapes[n] = (size,)  # (so far: a cycle through the neuron comes back to it)
            if preds[n] and n not in seen:  # keep a (C, H, W) shape flowing through the neuron
                prev = shape(preds[n][0], (*seen, n))
                if int(np.prod(prev)) == size:
                    shapes[n] = prev
        elif isinstance(node, (nir.Affine, nir.Linear)):
            shapes[n] = (np.asarray(node.weight).shape[0],)
        elif isinstance(node, (nir.Conv2d, nir.SumPool2d)):
            unroll = _conv2d if isinstance(node, nir.Conv2d) else _sumpool2d
            unrolled[n] = unroll(node, _in_shape(n, seen), n)
            shapes[n] = unrolled[n][2]
        elif isinstance(node, nir.Flatten):
            shapes[n] = (int(np.prod(_in_shape(n, seen))),)
        elif isinstance(node, (nir.Scale, nir.Delay, nir.Output)) or kind == "Identity":
            shapes[n] = _in_shape(n, seen)
        else:
            raise ValidationError(f"NIR node {n!r}: {kind} nodes are not supported")
        return shapes[n]

    def _in_shape(n, seen):
        if not preds[n]:
            raise ValidationError(f"NIR node {n!r}: has no input")
        if n in seen:
            raise ValidationError(f"NIR node {n!r}: a cycle without a neuron node")
        return shape(preds[n][0], (*seen, n))

    for n in nodes:
        shape(n)

    net = Network(name)
    objs: dict[str, object] = {}
    projections = []  # (source name, target name, matrix, delays (per synapse or one), metadata)
    with net:
        for n in top_inputs:
            size = int(np.prod(shapes[n]))
            raster = (inputs or {}).get(n)
            objs[n] = SpikeInput(size, raster=raster, name=_safe(n))

        # every path from a source (input or neuron) through linear nodes to a neuron
        def paths_into(n, acc_m, acc_b, delays, meta, depth=0):
            """Walk back from node n: acc_m maps n's output to the target's input."""
            if depth > 64:
                raise ValidationError(f"NIR node {n!r}: a cycle without a neuron node")
            node = nodes[n]
            if n in objs or n in neurons:
                yield n, acc_m, acc_b, delays, meta
                return
            kind = type(node).__name__
            size = int(np.prod(shapes[n]))
            m, b = None, None
            if isinstance(node, (nir.Affine, nir.Linear)):
                w = np.asarray(node.weight, np.float64)
                if w.ndim != 2:
                    raise ValidationError(f"NIR node {n!r}.weight: expected a matrix, got shape {w.shape}")
                m = scipy.sparse.csr_matrix(w)
                b = np.asarray(node.bias, np.float64) if isinstance(node, nir.Affine) else None
                if META in (node.metadata or {}):
                    meta = {**node.metadata[META], **meta}
            elif isinstance(node, nir.Scale):
                m = scipy.sparse.diags(
                    np.broadcast_to(np.ravel(node.scale).astype(np.float64), (size,))
                ).tocsr()
            elif n in unrolled:
                m, b, _ = unrolled[n]
            elif isinstance(node, nir.Delay):
                delay = np.broadcast_to(np.ravel(node.delay).astype(np.float64), (size,))
                steps = np.rint(delay / dt).astype(np.int64)
                if np.any(np.abs(steps * dt - delay) > 1e-9 * max(dt, 1)):
                    report.notes.append(f"{n}: delays rounded to whole steps of dt")
                if acc_m is not None and acc_m.shape[1] != size:
                    raise ValidationError(
                        f"NIR node {n!r}: delay of {size} values where {acc_m.shape[1]} flow"
                    )
                # a delay per channel here: per synapse once the path reaches its source
                delays = [*delays, (acc_m, steps, n)]
            elif not (isinstance(node, (nir.Flatten, nir.Input, nir.Output)) or kind == "Identity"):
                raise ValidationError(f"NIR node {n!r}: {kind} nodes are not supported")
            if m is not None:
                if b is not None and np.any(b != 0):
                    acc_b = acc_b + (acc_m @ b if acc_m is not None else b)
                acc_m = m if acc_m is None else acc_m @ m
            for p in preds[n]:
                yield from paths_into(p, acc_m, acc_b, delays, meta, depth + 1)

        for t, neuron in neurons.items():
            for p in preds[t]:
                for src, m, b, delays, meta in paths_into(p, None, np.zeros(neuron.n), [], {}):
                    if m is None:  # a neuron or input feeding the neuron directly: identity
                        m = scipy.sparse.identity(neuron.n, format="csr")
                    neuron.bias = neuron.bias + b
                    projections.append((src, t, scipy.sparse.csr_matrix(m), _path_delays(m, delays), meta))
        # populations: scale S per population, registers
        scale = {}
        for t, neuron in neurons.items():
            meta = (neuron.node.metadata or {}).get(META)
            if meta is not None:
                regs = {k: np.asarray(v, np.int64) for k, v in meta["registers"].items()}
                scale[t] = float(meta.get("scale", 1.0))
                objs[t] = Population(neuron.n, name=_safe(t), **regs)
                continue
            if neuron.spiking:
                s = 2.0 ** (np.floor(np.log2(VTH_TARGET / neuron.v_th.max())))
                vth = np.rint(neuron.v_th * s).astype(np.int64)
            else:
                s = 2.0 ** np.floor(np.log2(VTH_TARGET / _largest_input(projections, t, neuron)))
                vth = np.full(neuron.n, 2**17 - 1)
            scale[t] = s
            # a constant input to the current acts on v as its steady state, gain / (dt/tau_syn)
            syn_decay = (neuron.du + neuron.ds) / DECAY_UNITY
            if np.any((neuron.bias != 0) & (syn_decay == 0)):
                raise ValidationError(
                    f"NIR node {t!r}.tau_syn: an Affine bias into a current that never decays"
                )
            if np.any(neuron.bias != 0) and np.any(syn_decay < 1):
                report.notes.append(f"{t}: Affine bias acts on v at its steady state through the current")
            bias = (neuron.bias * neuron.gain / np.maximum(syn_decay, 1e-12) + neuron.leak) * s * 64
            bias_mant, bias_exp = _bias_registers(bias, t, report)
            objs[t] = Population(
                neuron.n,
                du=neuron.du,
                ds_offset=neuron.ds,
                dv=neuron.dv,
                dm_offset=neuron.dm,
                vth_mant=vth,
                bias_mant=bias_mant,
                bias_exp=bias_exp,
                vmax_exp=7,
                vmin_exp=23,
                name=_safe(t),
            )
        # one Projection per source, target and exported projection (its parts by delay merge)
        groups: dict[tuple, list] = {}
        for k, (src, t, m, delays, meta) in enumerate(projections):
            groups.setdefault((src, t, meta.get("projection", k)), []).append((m, delays, meta))
        for (src, t, _), parts in groups.items():
            neuron, meta = neurons[t], parts[0][2]
            rows, cols, ws, ds = [], [], [], []
            for m, delays, _ in parts:
                coo = scipy.sparse.csr_matrix(m).tocoo()
                rows.append(coo.row)
                cols.append(coo.col)
                ws.append(coo.data * neuron.gain[coo.row] * scale[t])
                ds.append(np.broadcast_to(np.asarray(delays, np.int64), coo.data.shape))
            w, d = np.concatenate(ws), np.concatenate(ds)
            if meta.get("weight_exp") is not None:
                exp = int(meta["weight_exp"])
                mant = np.rint(w / 2.0**exp).astype(np.int64)
            else:
                exp, mant = _weight_registers(w, f"{src}->{t}", report)
            if np.any(d > 62):
                raise ValidationError(f"NIR path {src}->{t}: delays beyond 62 steps of dt")
            keep = mant != 0  # weights that round to zero are no synapse
            rows, cols = np.concatenate(rows)[keep], np.concatenate(cols)[keep]
            mant, d = mant[keep], d[keep]
            shape = (neuron.n, parts[0][0].shape[1])
            weights = scipy.sparse.coo_matrix((mant, (rows, cols)), shape=shape)
            pname = _safe(meta.get("projection") or f"{src}.to.{t}")
            while any(p.name == pname for p in net.all_objects):
                pname += "_"
            Projection(
                objs[src],
                objs[t],
                weights,
                weight_exp=exp,
                sign_mode=meta.get("sign_mode", "mixed"),
                num_weight_bits=int(meta.get("num_weight_bits", 8)),
                delay=d if np.any(d != d[0]) else int(d[0]) if d.size else 0,
                name=pname,
            )
        outputs = {}

        def through(n):  # past pass-through nodes (a nested graph's Output, Flatten, Identity)
            node = nodes[n]
            if n in neurons or not (isinstance(node, (nir.Output, nir.Input, nir.Flatten))) or not preds[n]:
                return n
            return through(preds[n][0])

        for o in top_outputs:
            for src in map(through, preds[o]):
                target = objs.get(src)
                if src in neurons:
                    var = "spikes" if neurons[src].spiking else "v"
                    outputs[o] = Probe(target, var, name=_safe(f"{o}.{var}"))
                else:
                    raise ValidationError(f"NIR node {o!r}: an Output must follow a neuron node, not {src!r}")
    if projections:
        report.notes.append(
            "every synapse takes one step on Loihi: a path through L weight layers lags L steps "
            "behind a simulator that updates all layers in the same step"
        )
    return NIRImport(net, {n: objs[n] for n in top_inputs}, outputs, {n: objs[n] for n in neurons}, report)


def read_nir(path):
    """``nir.read`` with clear errors: a missing file raises FileNotFoundError, anything unreadable
    (truncated, corrupt, not NIR) a FileFormatError."""
    from pathlib import Path

    from neurochip.errors import FileFormatError
    from neurochip.hdf5io import kind_of

    nir = _nir()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    kind_of(path)  # a FileFormatError for what is not HDF5 at all
    try:
        return nir.read(str(path))
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise FileFormatError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from exc


def _safe(name: str) -> str:
    return name.replace("/", "_")


def _path_delays(m, delays):
    """Steps of delay (beyond the one every Loihi synapse takes) of a path: one value, or one per
    synapse in the COO order of ``m``."""
    if not delays:
        return 0
    coo = scipy.sparse.csr_matrix(m).tocoo()
    total = np.zeros(coo.nnz, np.int64)
    for acc_m, steps, name in delays:
        if acc_m is None:  # next to the target: one delay per target neuron
            total += steps[coo.row]
        elif np.all(steps == steps[0]):
            total += steps[0]
        else:
            raise ValidationError(
                f"NIR node {name!r}.delay: per-channel delays between two weight layers cannot be "
                "per-synapse delays; put the Delay next to a neuron node"
            )
    return total


def _largest_input(projections, t, neuron) -> float:
    """The largest input a readout can get in one step (every presynaptic neuron spiking)."""
    big = max((abs(m).sum(axis=1).max() for s, tt, m, _, _ in projections if tt == t), default=1.0)
    return float(max(big * np.abs(neuron.gain).max(), 1e-12))


def _weight_registers(w: np.ndarray, label: str, report: NIRReport) -> tuple[int, np.ndarray]:
    """The exponent keeping the most precision and even 8-bit mantissas for weights ``w``."""
    big = np.abs(w).max(initial=0)
    exp = 0 if big == 0 else int(np.clip(np.ceil(np.log2(big / WMAX)), -8, 7))
    mant = 2 * np.rint(w / 2.0**exp / 2)
    clipped = int(np.count_nonzero((mant > WMAX) | (mant < -256)))
    mant = np.clip(mant, -256, WMAX).astype(np.int64)
    if clipped:
        report.clipped += clipped
        report.notes.append(f"{label}: {clipped} weight(s) clipped to the 8-bit range")
    real = np.floor(mant * 2.0**exp)
    if big > 0:  # relative to the projection's largest weight
        err = float(np.max(np.abs(real - w)) / big)
        report.max_weight_rel_error = max(report.max_weight_rel_error, err)
    return exp, mant


def _bias_registers(bias: np.ndarray, label: str, report: NIRReport):
    exp = np.zeros(bias.size, np.int64)
    big = np.abs(bias)
    need = big > 4095
    exp[need] = np.ceil(np.log2(big[need] / 4095)).astype(np.int64)
    if np.any(exp > 7):
        report.clipped += int(np.count_nonzero(exp > 7))
        report.notes.append(f"{label}: bias clipped to the largest Loihi bias")
        exp = np.minimum(exp, 7)
    mant = np.clip(np.rint(bias / 2.0**exp), -4096, 4095).astype(np.int64)
    if np.any(bias != 0):
        report.notes.append(f"{label}: biases (Affine bias, v_leak) rounded to bias_mant * 2**bias_exp")
    return mant, exp


# ------------------------------------------------------------------ export
def to_nir(network, *, dt: float = 1e-3):
    """Loihi-shaped NIR of ``network`` in the snnTorch/Lava-dl convention (see the module docstring).

    Populations become CubaLIF nodes (the float threshold is ``vth_mant``, a weight is
    ``mantissa * 2**weight_exp``, in units of 64 voltage units), projections Affine nodes (one
    per distinct delay, followed by a Delay node when the delay is not zero), SpikeInputs Input
    nodes, and every probed population an Output. Node metadata keep the exact registers, so
    :func:`from_nir` gives the same network back; learning rules and input spikes are not part
    of NIR and are dropped.
    """
    nir = _nir()
    nodes, edges = {}, []
    for inp in network.inputs:
        nodes[inp.name] = nir.Input(input_type={"input": np.array([inp.n])})
    for p in network.populations:
        regs = {r: np.asarray(getattr(p, r), np.int64) for r in p.REGISTER_NAMES}
        n = p.n
        d_u = p.register_array("du") + p.register_array("ds_offset")
        d_v = p.register_array("dv") + p.register_array("dm_offset")
        with np.errstate(divide="ignore"):
            tau_syn = np.where(d_u > 0, DECAY_UNITY * dt / np.maximum(d_u, 1), np.inf)
            tau_mem = np.where(d_v > 0, DECAY_UNITY * dt / np.maximum(d_v, 1), np.inf)
        bias = p.register_array("bias_mant") * 2.0 ** p.register_array("bias_exp") / 64
        with np.errstate(invalid="ignore"):
            v_leak = np.where(np.isinf(tau_mem), 0.0, bias * tau_mem / dt)
        meta = {
            "registers": {k: v.tolist() for k, v in regs.items()},
            "scale": 1.0,
        }
        nodes[p.name] = nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=tau_mem / dt,
            v_leak=v_leak,
            v_threshold=p.register_array("vth_mant").astype(np.float64),
            v_reset=np.zeros(n),
            w_in=tau_syn / dt,
            metadata={META: meta},
        )
    for proj in network.projections:
        delays = np.broadcast_to(np.asarray(proj.delays), proj.weights.shape)
        values = np.unique(delays)
        for k, d in enumerate(values):
            sel = delays == d
            w = np.zeros((proj.post.n, proj.pre.n))
            np.add.at(w, (proj.post_idx[sel], proj.pre_idx[sel]), proj.weights[sel] * 2.0**proj.weight_exp)
            meta = {
                "projection": proj.name,
                "weight_exp": int(proj.weight_exp),
                "sign_mode": proj.sign_mode or "mixed",
                "num_weight_bits": int(proj.num_weight_bits),
            }
            lin = f"{proj.name}.w{k}" if len(values) > 1 else proj.name
            nodes[lin] = nir.Affine(weight=w, bias=np.zeros(proj.post.n), metadata={META: meta})
            edges.append((proj.pre.name, lin))
            if d > 0:
                nodes[lin + ".delay"] = nir.Delay(delay=np.full(proj.post.n, int(d) * dt))
                edges += [(lin, lin + ".delay"), (lin + ".delay", proj.post.name)]
            else:
                edges.append((lin, proj.post.name))
    for probe in network.probes:
        target = probe.target
        if target.kind == "population" and f"{target.name}.out" not in nodes:
            nodes[f"{target.name}.out"] = nir.Output(output_type={"output": np.array([target.n])})
            edges.append((target.name, f"{target.name}.out"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META: {"dt": dt}})
