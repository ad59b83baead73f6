"""The recognition demos behind ``neurochip demo``: load, train, run on the chip model, report, save.

``run_demo("digits")`` trains on a stratified training split, classifies the
held-out split on the chip and returns a summary. Mode ``convert`` trains a
network offline and converts it (:class:`~neurochip.recognition.ConvertedClassifier`);
mode ``learn`` learns on the chip with the teacher rule
(:class:`~neurochip.recognition.OnChipClassifier`). The summary holds the accuracy, confusion matrix,
cores and chips used, modeled energy and time per inference from the router
model, wall-clock times); the results file holds the first batch's run
(spikes, probes, router statistics) with the summary in ``results.extras``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class DemoSpec:
    dataset: str
    hidden: tuple[int, ...]  # convert: hidden layer sizes; learn: excitatory neurons
    steps: int
    batch: int
    epochs: int  # convert: offline training epochs (learn: see OnChipClassifier.learning_rates)
    target: float  # the accuracy the demo is expected to reach on its held-out split


DEMOS = {
    ("digits", "convert"): DemoSpec("digits", (128,), 48, 400, 60, 0.95),
    ("mnist", "convert"): DemoSpec("mnist", (128,), 48, 100, 40, 0.90),
    ("digits", "learn"): DemoSpec("digits", (200,), 30, 400, 0, 0.90),
}
NAMES = ("digits", "mnist")
MODES = ("convert", "learn")


def _classifier(mode: str, spec: DemoSpec, hidden, steps, **common):
    from neurochip.recognition import ConvertedClassifier, OnChipClassifier

    if mode == "learn":
        return OnChipClassifier(
            (hidden or spec.hidden)[0], steps=steps or spec.steps, batch=spec.batch, **common
        )
    return ConvertedClassifier(
        hidden or spec.hidden, steps=steps or spec.steps, epochs=spec.epochs, batch=spec.batch, **common
    )


def run_demo(
    name: str,
    mode: str = "convert",
    *,
    steps: int | None = None,
    hidden=None,
    test_fraction: float = 0.2,
    limit: int | None = None,
    seed: int = 0,
    board: str = "loihi1",
    backend: str = "auto",
    out=None,
    plot: bool = False,
    progress=None,
) -> dict:
    """Run one demo; returns its summary (see the module docstring)."""
    from neurochip.datasets import load
    from neurochip.errors import ValidationError
    from neurochip.recognition import confusion_matrix

    if name not in NAMES:
        raise ValidationError(f"demo: unknown demo {name!r}; choose one of {list(NAMES)}")
    if (name, mode) not in DEMOS:
        modes = [m for n, m in DEMOS if n == name]
        raise ValidationError(f"demo {name}: mode {mode!r} is not available; choose one of {modes}")
    spec = DEMOS[name, mode]
    t0 = time.perf_counter()
    data = load(spec.dataset)
    train, test = data.split(test_fraction, seed=seed)
    if limit is not None:
        test = test.subset(np.arange(min(limit, len(test))), "test")
    clf = _classifier(mode, spec, hidden, steps, board=board, backend=backend, seed=seed, progress=progress)
    clf.fit(train.normalized(), train.y)
    fit_s = time.perf_counter() - t0
    extra = {}
    if mode == "convert":
        extra["float_accuracy"] = float(np.mean(clf.predict_float(test.normalized()) == test.y))
    else:
        extra["online_accuracy"] = clf.online_accuracy
        extra["epochs"] = len(clf.learning_rates)
        extra["training_steps"] = clf.training.samples * clf.training.steps_per_sample
    pred = clf.predict(test.normalized())
    rep = clf.report
    n_cls = data.n_classes
    cm = confusion_matrix(test.y, pred, n_cls)
    summary = {
        "demo": name,
        "mode": mode,
        "dataset": data.name,
        "train_samples": len(train),
        "test_samples": len(test),
        "accuracy": float(np.mean(pred == test.y)),
        **extra,
        "target_accuracy": spec.target,
        "confusion": cm.tolist(),
        "hidden": list(clf.hidden) if mode == "convert" else [clf.n_exc],
        "steps_per_sample": rep.steps_per_sample,
        "board": board,
        "seed": seed,
        "fit_s": round(fit_s, 3),
        **rep.to_dict(),
        "total_s": round(time.perf_counter() - t0, 3),
    }
    results = rep.results
    results.extras = {
        **results.extras,
        "demo": summary,
        "labels": test.y.tolist(),
        "predictions": pred.tolist(),
    }
    path = Path(out) if out is not None else Path("out") / f"demo-{name}-{mode}.h5"
    summary["results_file"] = results.save(path)
    if plot:
        summary["plots"] = write_plots(path.with_suffix(""), clf, results, cm, data.shape)
    return summary


def format_summary(s: dict) -> str:
    """The demo summary as text: accuracy, confusion matrix, resources, modeled costs."""
    cm = np.array(s["confusion"])
    width = max(3, len(str(cm.max())))
    head = "true\\pred " + " ".join(f"{k:>{width}}" for k in range(len(cm)))
    rows = [f"{t:>9} " + " ".join(f"{v:>{width}}" for v in row) for t, row in enumerate(cm)]
    e = s["energy_by_category_uj"]
    if s["mode"] == "convert":
        compare, layer = f"float network {s['float_accuracy']:.4f}", "hidden"
    else:
        compare = (
            f"learned on the chip in {s['epochs']} epochs, {s['training_steps']} steps; "
            f"last epoch's own predictions {s['online_accuracy']:.4f}"
        )
        layer = "excitatory (lateral inhibition), readout taught on chip"
    return "\n".join(
        [
            f"demo {s['demo']} ({s['mode']}): accuracy {s['accuracy']:.4f} on {s['test_samples']} held-out "
            f"samples ({compare}; target {s['target_accuracy']:.2f}); trained on {s['train_samples']}",
            f"network {s['hidden']} {layer}, {s['steps_per_sample']} steps per sample, "
            f"{s['batches']} batch(es): {s['cores']} cores on {s['chips']} chip(s) of {s['board']}, "
            f"{s['compartments']} compartments, {s['synapses']} synapses per batch",
            f"modeled per inference: {s['energy_per_inference_uj']:.3f} uJ, "
            f"{s['time_per_inference_us']:.2f} us of chip time (batch latency {s['latency_us']:.1f} us); "
            "energy by category (uJ, all samples): " + ", ".join(f"{k} {v:.1f}" for k, v in e.items()),
            f"wall clock: {s['total_s']:.1f} s (training {s['fit_s']:.1f} s, chip {s['wall_s']:.1f} s)",
            head,
            *rows,
        ]
    )


def write_plots(stem: Path, clf, results, cm: np.ndarray, shape) -> list[str]:
    """PNGs of a spike raster, the first layer's weights as images and the confusion matrix."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from neurochip.errors import ValidationError

        raise ValidationError("--plot needs matplotlib: pip install 'neurochip[plot]'") from None
    paths = []
    spikes = [p for p in results.probes.values() if p.variable == "spikes"]
    if spikes:
        sp = spikes[0]
        fig, ax = plt.subplots(figsize=(8, 4))
        keep = sp.index < 8 * clf.layers[0].weights.shape[0]  # the first eight samples
        ax.scatter(sp.steps[keep], sp.index[keep], s=1, c="k")
        ax.set(xlabel="step", ylabel=f"{sp.target} neuron (samples 0-7)", title="spike raster")
        paths.append(_save(fig, f"{stem}-raster.png"))
    w = clf.layers[0].weights
    title, scale = "first-layer weight mantissas", 256
    from neurochip.recognition import OnChipClassifier

    if isinstance(clf, OnChipClassifier):
        # learned on the chip: each class's readout weights seen through the random input layer
        w = clf.layers[1].weights @ clf.layers[0].weights
        title, scale = "learned readout weights mapped to the input", np.abs(w).max() or 1
    n = min(len(w), 32)
    cols = min(n, 8)
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(cols * 1.2, -(-n // cols) * 1.2))
    for k, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if k < n:
            ax.imshow(w[k].reshape(shape), cmap="RdBu_r", vmin=-scale, vmax=scale)
    fig.suptitle(title)
    paths.append(_save(fig, f"{stem}-weights.png"))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    paths.append(_save(fig, f"{stem}-confusion.png"))
    return paths


def _save(fig, path: str) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
