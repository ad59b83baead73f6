"""Recognition on the chip: a fit/predict API behind the demos.

:class:`OnChipClassifier` (``demo --mode learn``) learns on the chip with the
teacher rule (see its docstring). :class:`ConvertedClassifier`
(``demo --mode convert``) trains a ReLU multilayer perceptron offline with
numpy (softmax cross-entropy, Adam, no biases), then converts it to a spiking
network the way Rueckauer et al. (2017) do:

* data-based normalisation: each layer's weights are scaled by
  ``lambda_{l-1} / lambda_l``, where ``lambda_l`` is a high percentile of the
  layer's ReLU activations on the training data, so that the largest rates
  stay below one spike per step;
* hidden units become integrate-and-fire compartments (the current is cleared
  every step, ``du = 4095``; no voltage leak, ``dv = 0``; reset to zero), with
  the threshold and 8-bit mixed-sign weight mantissas chosen so that
  ``mantissa / vth_mant`` equals the normalised weight;
* the output layer never spikes: its voltage integrates the input over the
  presentation and the class is the largest voltage (membrane readout), scaled
  so that it cannot reach the voltage bound.

Inputs are rate coded (:func:`neurochip.datasets.rate`, integer generator,
seeded per sample). A batch of samples runs as that many copies of the network
side by side on the chip (block-diagonal projections), so the Brian2 objects
stay few and every copy is mapped onto cores like any other network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import numpy as np
import scipy.sparse

from neurochip.errors import ResourceError, ValidationError

WMAX = 254  # largest even 8-bit mixed-sign mantissa (mixed mode drops the lowest bit)
V_HEADROOM = 2**22  # the readout voltage stays below this (vmax is 2**23 - 1)


# ---------------------------------------------------------------- float model
def relu_forward(weights: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Activations of every layer (ReLU on hidden layers, linear output); ``x`` is (n, in)."""
    acts = [x]
    for k, w in enumerate(weights):
        a = acts[-1] @ w.T
        acts.append(np.maximum(a, 0) if k < len(weights) - 1 else a)
    return acts


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    hidden=(64,),
    *,
    epochs: int = 60,
    batch: int = 32,
    lr: float = 2e-3,
    l2: float = 1e-4,
    seed: int = 0,
) -> list[np.ndarray]:
    """Weights (out, in) of a bias-free ReLU MLP trained with softmax cross-entropy and Adam."""
    rng = np.random.default_rng(seed)
    n_cls = int(y.max()) + 1
    sizes = [x.shape[1], *hidden, n_cls]
    ws = [rng.normal(0, np.sqrt(2 / a), (b, a)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    onehot = np.eye(n_cls)[y]
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            idx = order[s : s + batch]
            acts = relu_forward(ws, x[idx])
            z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            delta = (p - onehot[idx]) / len(idx)
            t += 1
            for k in range(len(ws) - 1, -1, -1):
                grad = delta.T @ acts[k] + l2 * ws[k]
                if k:
                    delta = (delta @ ws[k]) * (acts[k] > 0)
                m[k] = 0.9 * m[k] + 0.1 * grad
                v[k] = 0.999 * v[k] + 0.001 * grad**2
                mh, vh = m[k] / (1 - 0.9**t), v[k] / (1 - 0.999**t)
                ws[k] -= lr * mh / (np.sqrt(vh) + 1e-8)
    return ws


# ---------------------------------------------------------------- conversion
def _even_mantissas(w: np.ndarray) -> np.ndarray:
    return np.clip(2 * np.rint(w / 2), -256, WMAX).astype(np.int64)


@dataclass
class Inhibition:
    """Lateral inhibition of a layer through a pool of ``n`` inhibitory interneurons.

    Every layer neuron excites every interneuron by ``w_exc`` (mantissa); every
    interneuron inhibits every layer neuron by ``w_inh`` (negative mantissa). The
    interneurons are integrate-and-fire compartments with threshold ``vth_mant``.
    """

    n: int = 10
    w_exc: int = 16
    w_inh: int = -16
    vth_mant: int = 64


@dataclass
class SpikingLayer:
    """One layer on the chip: integer weight mantissas (out, in) at weight exponent 0, a threshold,
    decays, optional lateral inhibition.

    The output layer (``readout=True``) is read as "most spikes, then highest voltage" at the end of
    the presentation: a converted readout never spikes and is read by its voltage alone.
    """

    weights: np.ndarray
    vth_mant: int
    readout: bool
    du: int = 4095
    dv: int = 0
    bias_mant: int = 0
    inhibition: Inhibition | None = None


def convert(weights: list[np.ndarray], x_train: np.ndarray, steps: int, percentile: float = 99.9):
    """Integer spiking layers for ``weights`` (see the module docstring)."""
    acts = relu_forward(weights, x_train)
    layers = []
    lam_prev = 1.0  # input rates are the pixel values
    for k, w in enumerate(weights):
        if k < len(weights) - 1:
            a = acts[k + 1]
            lam = float(np.percentile(a[a > 0], percentile)) if np.any(a > 0) else 1.0
            wn = w * lam_prev / lam
            vth = int(np.clip(np.rint(WMAX / np.abs(wn).max()), 1, 2**17 - 1))
            layers.append(SpikingLayer(_even_mantissas(wn * vth), vth, False))
            lam_prev = lam
        else:
            wn = w * lam_prev
            # every input spiking every step of the presentation (and the pipeline's extra steps),
            # with room for rounding the mantissas up
            # (each mantissa rounds by at most 1): (steps + L) * 64 * (scale * sum|w| + n_in) <= 2**22
            per_step = V_HEADROOM / ((steps + len(weights)) * 64) - wn.shape[1]
            if per_step <= 0:
                raise ValidationError(
                    f"convert: a readout of {wn.shape[1]} inputs over {steps} steps could reach the "
                    "voltage bound; use fewer steps or a smaller last hidden layer"
                )
            scale = min(WMAX / np.abs(wn).max(), per_step / np.abs(wn).sum(axis=1).max())
            layers.append(SpikingLayer(_even_mantissas(wn * scale), 2**17 - 1, True))
    return layers


# ---------------------------------------------------------------- on the chip
@dataclass
class ChipReport:
    """What the last :meth:`ConvertedClassifier.predict` cost on the chip model."""

    samples: int = 0
    batches: int = 0
    steps_per_sample: int = 0
    cores: int = 0
    chips: int = 0
    compartments: int = 0
    synapses: int = 0
    spikes: int = 0
    chip_time_us: float = 0.0  # modeled, all batches (copies in a batch run in parallel)
    latency_us: float = 0.0  # modeled time of one presentation (mean over batches)
    wall_s: float = 0.0
    results: object = None  # Results of the first batch
    energy_by_category_uj: dict = field(default_factory=dict)  # modeled, all batches

    @property
    def energy_uj(self) -> float:
        return sum(self.energy_by_category_uj.values())

    @property
    def energy_per_inference_uj(self) -> float:
        return self.energy_uj / max(self.samples, 1)

    @property
    def time_per_inference_us(self) -> float:
        return self.chip_time_us / max(self.samples, 1)

    def to_dict(self) -> dict:
        """Every field but ``results``, and the derived energy and time figures."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "results"}
        for name in ("energy_uj", "energy_per_inference_uj", "time_per_inference_us"):
            out[name] = getattr(self, name)
        return out


def _blocks(b: int, w: np.ndarray):
    """``b`` copies of ``w`` along the diagonal (sparse; zeros are no synapse)."""
    m = scipy.sparse.kron(
        scipy.sparse.identity(b, dtype=np.int64, format="csr"), scipy.sparse.csr_matrix(w), format="csr"
    )
    m.eliminate_zeros()
    return m


def build_batch_network(
    layers: list[SpikingLayer],
    raster: np.ndarray,
    *,
    probe_spikes: bool = False,
    learning_rule=None,
    teacher: np.ndarray | None = None,
):
    """A Network holding ``raster.shape[1]`` copies of ``layers`` driven by ``raster`` (steps, B, in).

    With ``learning_rule`` (one copy, B = 1) the output layer's projection is plastic: every entry of
    its weight matrix is a synapse, zeros included, and the spikes of ``teacher`` (steps, n_out), one
    teacher per output neuron, drive the rule's y2 trace.
    """
    from neurochip.network import Network, Population, Probe, Projection, SpikeInput

    steps, b, n_in = raster.shape
    if learning_rule is not None and b != 1:
        raise ValidationError(
            "build_batch_network: a plastic network holds one copy (raster of shape (steps, 1, in))"
        )
    with Network("recognition") as net:
        prev = SpikeInput(b * n_in, raster=raster.reshape(steps, b * n_in), name="input")
        probes = {}
        for k, layer in enumerate(layers):
            n_out = layer.weights.shape[0]
            name = "output" if layer.readout else f"hidden{k}"
            pop = Population(
                b * n_out,
                du=layer.du,
                dv=layer.dv,
                vth_mant=layer.vth_mant,
                bias_mant=layer.bias_mant,
                vmax_exp=7,
                name=name,
            )
            if learning_rule is not None and layer.readout:
                post, pre = np.indices(layer.weights.shape).reshape(2, -1)
                w = scipy.sparse.coo_matrix((layer.weights.ravel(), (post, pre)), shape=layer.weights.shape)
                tutor = SpikeInput(n_out, raster=teacher, name="teacher")
                Projection(
                    prev,
                    pop,
                    w,
                    sign_mode="mixed",
                    learning_rule=learning_rule,
                    modulators={"y2": tutor},
                    name=f"w{k}",
                )
            else:
                Projection(
                    prev, pop, _blocks(b, layer.weights), weight_exp=0, sign_mode="mixed", name=f"w{k}"
                )
            inh = layer.inhibition
            if inh is not None:
                pool = Population(
                    b * inh.n, du=4095, dv=layer.dv, vth_mant=inh.vth_mant, name=f"inhibitory{k}"
                )
                to_pool = np.full((inh.n, n_out), inh.w_exc)
                Projection(pop, pool, _blocks(b, to_pool), sign_mode="excitatory", name=f"excite{k}")
                from_pool = np.full((n_out, inh.n), inh.w_inh)
                Projection(pool, pop, _blocks(b, from_pool), sign_mode="inhibitory", name=f"inhibit{k}")
            if probe_spikes and not layer.readout:
                probes[name] = Probe(pop, "spikes", name=f"{name}_spikes")
            prev = pop
        if learning_rule is not None:
            probes["spikes"] = Probe(prev, "spikes", name="output_spikes")
        else:
            probes["v"] = Probe(prev, "v", name="output_v")
    return net, probes


def readout_scores(spike_counts: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Class scores of output neurons: most spikes first, then the highest voltage (|v| < 2**23)."""
    return np.asarray(spike_counts, np.int64) * 2**25 + np.asarray(v, np.int64)


_SHARED = ("steps", "max_prob", "batch", "board", "allocator", "backend", "router", "seed", "progress")


def _shared(args: dict) -> dict:
    """The constructor arguments a classifier passes on to :class:`_ChipClassifier`."""
    return {k: args[k] for k in _SHARED}


class _ChipClassifier:
    """What the classifiers share: batched classification on the chip and its cost report."""

    layers: list[SpikingLayer] | None

    def __init__(self, *, steps, max_prob, batch, board, allocator, backend, router, seed, progress):
        self.steps = int(steps)
        self.max_prob = float(max_prob)
        self.batch = int(batch)
        self.board = board
        self.allocator = allocator
        self.backend = backend
        self.router = router
        self.seed = seed
        self.progress = progress
        self.layers = None
        self.report = ChipReport()

    @staticmethod
    def _check_xy(x, y=None):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or np.isnan(x).any() or x.min(initial=0) < 0 or x.max(initial=0) > 1:
            raise ValidationError("X must be a 2-D array of values in [0, 1] (samples, features)")
        if y is None:
            return x
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or y.min(initial=0) < 0:
            raise ValidationError("y must hold one non-negative integer label per sample")
        return x, y.astype(np.int64)

    def _need_fit(self):
        if self.layers is None:
            raise ValidationError("the classifier is not fitted; call fit(X, y) first")

    def _simulate(self, net, steps: int, rep: ChipReport, read_weights: str | None = None, router=None):
        """Compile and run ``net`` for ``steps``, account its costs in ``rep``; returns its results and
        the final weight mantissas of projection ``read_weights`` (or None)."""
        from neurochip.compiler import compile_network
        from neurochip.simulator import Simulator

        program = compile_network(net, board=self.board, allocator=self.allocator)
        router = self.router if router is None else router
        with Simulator(program, backend=self.backend, seed=self.seed, router=router) as sim:
            sim.run(steps)
            res = sim.results
            learned = sim.weights(read_weights) if read_weights is not None else None
        rep.batches += 1
        rep.cores = max(rep.cores, program.n_cores)
        rep.chips = max(rep.chips, program.n_chips_used)
        rep.compartments = max(rep.compartments, program.n_compartments)
        rep.synapses = max(rep.synapses, program.n_synapses)
        rep.spikes += res.total_spikes
        if res.router is not None:
            t = res.router.totals()
            for k, e in t["energy_uj"].items():
                rep.energy_by_category_uj[k] = rep.energy_by_category_uj.get(k, 0.0) + e
            rep.chip_time_us += t["step_time_us_total"]
        if rep.results is None:
            rep.results = res
        return res, learned

    def predict(self, x) -> np.ndarray:
        """Classify every row of ``x`` on the chip; the costs are in :attr:`report`."""
        from neurochip.datasets import rate

        self._need_fit()
        x = self._check_xy(x)
        t_wall = time.perf_counter()
        rep = ChipReport(samples=len(x), steps_per_sample=self.steps + len(self.layers))
        out = np.zeros(len(x), np.int64)
        batch, start = self.batch, 0
        while start < len(x):
            part = slice(start, min(start + batch, len(x)))
            ids = np.arange(part.start, part.stop)
            raster = rate(x[part], self.steps, max_prob=self.max_prob, seed=self.seed, sample_ids=ids)
            net, probes = build_batch_network(self.layers, raster, probe_spikes=start == 0)
            try:
                res, _ = self._simulate(net, rep.steps_per_sample, rep)
            except ResourceError as e:
                if not hasattr(e, "cores_needed") or batch == 1:
                    raise
                # fewer copies side by side: as many as the board's cores hold, with a margin
                batch = max(1, min(batch - 1, int(batch * e.cores_available / e.cores_needed * 0.95)))
                continue
            scores = readout_scores(res.spike_counts["output"], res[probes["v"]].data[-1])
            out[part] = scores.reshape(len(ids), -1).argmax(axis=1)
            if self.progress is not None:
                self.progress(part.stop, len(x))
            start = part.stop
        rep.latency_us = rep.chip_time_us / max(rep.batches, 1)
        rep.wall_s = time.perf_counter() - t_wall
        self.report = rep
        return out

    def score(self, x, y) -> float:
        x, y = self._check_xy(x, y)
        return float(np.mean(self.predict(x) == y))


class ConvertedClassifier(_ChipClassifier):
    """Train offline, convert to integer spiking layers, classify on the chip (rate-coded inputs).

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes of the MLP.
    steps : int
        Steps each sample is presented for.
    max_prob : float
        Spike probability per step of a pixel of value 1.
    batch : int
        Samples run side by side in one simulation (fewer when they do not fit the board).
    board, allocator, backend : passed to the compiler and simulator
    router : bool
        Model what each run costs on the board (energy, time).
    seed : int
        Seeds training and the input spikes.
    """

    def __init__(
        self,
        hidden=(64,),
        *,
        steps: int = 48,
        max_prob: float = 1.0,
        epochs: int = 60,
        batch: int = 400,
        board: str = "loihi1",
        allocator: str = "greedy",
        backend: str = "auto",
        router: bool = True,
        seed: int = 0,
        progress=None,
    ):
        super().__init__(**_shared(locals()))
        self.hidden = tuple(int(h) for h in hidden)
        self.epochs = int(epochs)
        self.weights: list[np.ndarray] | None = None

    def fit(self, x, y) -> ConvertedClassifier:
        """Train the float MLP on (x, y) and convert it to integer spiking layers."""
        x, y = self._check_xy(x, y)
        self.weights = train_mlp(x, y, self.hidden, epochs=self.epochs, seed=self.seed)
        self.layers = convert(self.weights, x * self.max_prob, self.steps)
        return self

    def predict_float(self, x) -> np.ndarray:
        """Predictions of the float MLP (before conversion), for comparison."""
        self._need_fit()
        return relu_forward(self.weights, self._check_xy(x))[-1].argmax(axis=1)


class OnChipClassifier(_ChipClassifier):
    """Learn on the chip: input -> excitatory layer with lateral inhibition -> readout taught by a teacher.

    The excitatory layer has fixed random mixed-sign weights (a random feature layer, as in
    reservoir and extreme-learning-machine readouts) and a pool of inhibitory interneurons that
    keeps its activity sparse. The readout's synapses start at zero and are learned on the chip
    with :func:`neurochip.learning.teacher_rule` while the training samples are presented one
    after another (``steps`` steps each, then ``blank`` silent steps): during a sample of class c,
    teacher neuron c spikes with probability ``teacher_prob`` per step and drives the y2 trace of
    readout neuron c. On every presynaptic spike the weight moves by
    ``rate * y2 - anti_rate * y1`` (y1: the readout neuron's own activity), a delta rule in
    spikes: inputs that are active while the neuron should fire but does not grow, inputs active
    while it fires without being taught shrink. The teacher never injects current, so the
    readout's spikes during training are its own predictions (:attr:`online_accuracy`).

    Classification (:meth:`predict`) runs the learned network, frozen, on batches of samples side
    by side; the class is the readout neuron with most spikes (then the highest voltage).

    Parameters
    ----------
    n_exc : int
        Excitatory neurons.
    steps, blank : int
        Steps a training sample is shown, then silent steps before the next one (state and
        traces decay); test samples are shown ``steps`` steps each.
    learning_rates : sequence of float
        One training run (an epoch) per entry, each with the teacher rule at that rate
        (``m * 2**e``; decreasing rates anneal the weights).
    teacher_prob : float
        Spike probability per step of the teacher of the sample's class.
    impulse, trace_tau : float
        Impulse and time constant (steps) of the teacher and readout traces.
    exc_vth, out_vth : int
        Threshold mantissas of the excitatory and readout neurons (a larger readout threshold
        gives the learned mantissas more resolution).
    dv : int
        Voltage decay of both layers; ``out_bias`` is the readout's bias mantissa.
    weight_scale, density : float
        Standard deviation and density of the random input weight mantissas.
    inhibition : Inhibition
        The excitatory layer's inhibitory pool.
    router, router_training : bool
        Model the costs of classification, and of training too (slow: one router step per
        training step).
    """

    def __init__(
        self,
        n_exc: int = 200,
        *,
        steps: int = 30,
        blank: int = 10,
        learning_rates=(2**-5, 2**-5, 2**-6, 2**-7),
        max_prob: float = 1.0,
        teacher_prob: float = 0.5,
        impulse: float = 16,
        trace_tau: float = 4,
        exc_vth: int = 60,
        out_vth: int = 600,
        dv: int = 256,
        out_bias: int = 0,
        weight_scale: float = 30.0,
        density: float = 0.5,
        inhibition: Inhibition | None = None,
        batch: int = 400,
        board: str = "loihi1",
        allocator: str = "greedy",
        backend: str = "auto",
        router: bool = True,
        router_training: bool = False,
        seed: int = 0,
        progress=None,
    ):
        super().__init__(**_shared(locals()))
        self.router_training = bool(router_training)
        self.n_exc = int(n_exc)
        self.blank = int(blank)
        self.learning_rates = tuple(float(r) for r in learning_rates)
        self.teacher_prob = float(teacher_prob)
        self.impulse, self.trace_tau = float(impulse), float(trace_tau)
        self.exc_vth, self.out_vth, self.dv, self.out_bias = (
            int(exc_vth),
            int(out_vth),
            int(dv),
            int(out_bias),
        )
        self.weight_scale, self.density = float(weight_scale), float(density)
        self.inhibition = inhibition if inhibition is not None else Inhibition(10, 8, -8, 256)
        for r in self.learning_rates:
            self.rule(r)  # a clear error now for a rate the rule language cannot hold
        self.training = ChipReport()
        self.online_accuracy: float | None = None

    def rule(self, rate: float):
        """The teacher rule of an epoch with learning rate ``rate``."""
        from neurochip.learning import teacher_rule

        return teacher_rule(
            rate=rate,
            anti_rate=rate,
            teacher_impulse=self.impulse,
            teacher_tau=self.trace_tau,
            post_impulse=self.impulse,
            post_tau=self.trace_tau,
        )

    def fit(self, x, y) -> OnChipClassifier:
        """Learn on the chip from (x, y): one run per entry of ``learning_rates``, each presenting every
        sample once in a seeded random order and starting from the weights the previous run learned."""
        from neurochip.datasets import rate

        x, y = self._check_xy(x, y)
        t_wall = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        n_cls = int(y.max()) + 1
        w_in = rng.normal(0, self.weight_scale, (self.n_exc, x.shape[1])) * (
            rng.random((self.n_exc, x.shape[1])) < self.density
        )
        exc = SpikingLayer(_even_mantissas(w_in), self.exc_vth, False, dv=self.dv, inhibition=self.inhibition)
        out = SpikingLayer(
            np.zeros((n_cls, self.n_exc), np.int64), self.out_vth, True, dv=self.dv, bias_mant=self.out_bias
        )
        self.layers = [exc, out]
        period = self.steps + self.blank
        rep = ChipReport(steps_per_sample=period)
        for epoch, lr in enumerate(self.learning_rates):
            order = rng.permutation(len(x))
            # training presentations draw their own spikes: ids after any test sample's
            ids = 2**40 + epoch * len(x) + np.arange(len(x))
            shown = np.zeros((len(x), period, x.shape[1]), bool)
            shown[:, : self.steps] = rate(
                x[order], self.steps, max_prob=self.max_prob, seed=self.seed, sample_ids=ids
            ).transpose(1, 0, 2)
            taught = np.zeros((len(x), period, n_cls), bool)
            onehot = np.eye(n_cls)[y[order]]
            taught[:, : self.steps] = rate(
                onehot, self.steps, max_prob=self.teacher_prob, seed=self.seed + 1, sample_ids=ids
            ).transpose(1, 0, 2)
            net, probes = build_batch_network(
                self.layers,
                shown.reshape(-1, 1, x.shape[1]),
                learning_rule=self.rule(lr),
                teacher=taught.reshape(-1, n_cls),
            )
            res, learned = self._simulate(
                net, len(x) * period, rep, read_weights="w1", router=self.router and self.router_training
            )
            out.weights = learned.reshape(n_cls, self.n_exc)  # all-to-all, stored row by row
            sp = res[probes["spikes"]]
            counts = np.zeros((len(x), n_cls), np.int64)
            np.add.at(counts, ((sp.steps - 1) // period, sp.index), 1)
            self.online_accuracy = float(np.mean(counts.argmax(axis=1) == y[order]))
            rep.samples += len(x)
            if self.progress is not None:
                self.progress(epoch + 1, len(self.learning_rates))
        rep.latency_us = rep.chip_time_us / max(rep.samples, 1)
        rep.wall_s = time.perf_counter() - t_wall
        self.training = rep
        return self


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    n = n_classes or int(max(np.max(y_true), np.max(y_pred))) + 1
    return np.bincount(np.asarray(y_true) * n + np.asarray(y_pred), minlength=n * n).reshape(n, n)
