"""Recognition on the chip: a fit/predict API behind the demos.

:class:`ConvertedClassifier` (``demo --mode convert``) trains a ReLU multilayer
perceptron offline with numpy (softmax cross-entropy, Adam, no biases), then
converts it to a spiking network the way Rueckauer et al. (2017) do:

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
class SpikingLayer:
    """One converted layer: integer weight mantissas (out, in) at weight exponent 0 and a threshold."""

    weights: np.ndarray
    vth_mant: int
    readout: bool  # True: never spikes, read by its voltage


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


def build_batch_network(layers: list[SpikingLayer], raster: np.ndarray, *, probe_spikes: bool = False):
    """A Network holding ``raster.shape[1]`` copies of ``layers`` driven by ``raster`` (steps, B, in)."""
    from neurochip.network import Network, Population, Probe, Projection, SpikeInput

    steps, b, n_in = raster.shape
    eye = scipy.sparse.identity(b, dtype=np.int64, format="csr")
    with Network("recognition") as net:
        prev = SpikeInput(b * n_in, raster=raster.reshape(steps, b * n_in), name="input")
        probes = {}
        for k, layer in enumerate(layers):
            n_out = layer.weights.shape[0]
            name = "output" if layer.readout else f"hidden{k}"
            pop = Population(b * n_out, du=4095, dv=0, vth_mant=layer.vth_mant, vmax_exp=7, name=name)
            w = scipy.sparse.kron(eye, scipy.sparse.csr_matrix(layer.weights), format="csr")
            w.eliminate_zeros()
            Projection(prev, pop, w, weight_exp=0, sign_mode="mixed", name=f"w{k}")
            if probe_spikes and not layer.readout:
                probes[name] = Probe(pop, "spikes", name=f"{name}_spikes")
            prev = pop
        probes["v"] = Probe(prev, "v", name="output_v")
    return net, probes


class ConvertedClassifier:
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
        self.hidden = tuple(int(h) for h in hidden)
        self.steps = int(steps)
        self.max_prob = float(max_prob)
        self.epochs = int(epochs)
        self.batch = int(batch)
        self.board = board
        self.allocator = allocator
        self.backend = backend
        self.router = router
        self.seed = seed
        self.progress = progress
        self.weights: list[np.ndarray] | None = None
        self.layers: list[SpikingLayer] | None = None
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

    def _need_fit(self):
        if self.layers is None:
            raise ValidationError("the classifier is not fitted; call fit(X, y) first")

    def predict(self, x) -> np.ndarray:
        """Classify every row of ``x`` on the chip; the costs are in :attr:`report`."""
        from neurochip.compiler import compile_network
        from neurochip.datasets import rate
        from neurochip.simulator import Simulator

        self._need_fit()
        x = self._check_xy(x)
        t_wall = time.perf_counter()
        rep = ChipReport(samples=len(x), steps_per_sample=self.steps + len(self.layers))
        out = np.zeros(len(x), np.int64)
        latencies = []
        batch, start = self.batch, 0
        while start < len(x):
            part = slice(start, min(start + batch, len(x)))
            ids = np.arange(part.start, part.stop)
            raster = rate(x[part], self.steps, max_prob=self.max_prob, seed=self.seed, sample_ids=ids)
            net, probes = build_batch_network(self.layers, raster, probe_spikes=start == 0)
            try:
                program = compile_network(net, board=self.board, allocator=self.allocator)
            except ResourceError as e:
                if not hasattr(e, "cores_needed") or batch == 1:
                    raise
                # fewer copies side by side: as many as the board's cores hold, with a margin
                batch = max(1, min(batch - 1, int(batch * e.cores_available / e.cores_needed * 0.95)))
                continue
            with Simulator(program, backend=self.backend, seed=self.seed, router=self.router) as sim:
                sim.run(rep.steps_per_sample)
                res = sim.results
            v = res[probes["v"]].data[-1].reshape(len(ids), -1)
            out[part] = v.argmax(axis=1)
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
                latencies.append(t["step_time_us_total"])
            if rep.results is None:
                rep.results = res
            if self.progress is not None:
                self.progress(part.stop, len(x))
            start = part.stop
        rep.latency_us = float(np.mean(latencies)) if latencies else 0.0
        rep.wall_s = time.perf_counter() - t_wall
        self.report = rep
        return out

    def score(self, x, y) -> float:
        x, y = self._check_xy(x, y)
        return float(np.mean(self.predict(x) == y))


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    n = n_classes or int(max(np.max(y_true), np.max(y_pred))) + 1
    return np.bincount(np.asarray(y_true) * n + np.asarray(y_pred), minlength=n * n).reshape(n, n)
