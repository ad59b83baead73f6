"""The recognition demos behind ``neurochip demo``: load, train, run on the chip model, report, save.

``run_demo("digits")`` trains on a stratified training split, classifies the
held-out split on the chip and returns a summary (accuracy, confusion matrix,
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
    hidden: tuple[int, ...]
    steps: int
    batch: int
    epochs: int
    target: float  # the accuracy the demo is expected to reach on its held-out split


DEMOS = {
    "digits": DemoSpec("digits", (128,), 48, 400, 60, 0.95),
    "mnist": DemoSpec("mnist", (128,), 48, 100, 40, 0.90),
}
MODES = ("convert",)


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
    from neurochip.recognition import ConvertedClassifier, confusion_matrix

    if name not in DEMOS:
        raise ValidationError(f"demo: unknown demo {name!r}; choose one of {sorted(DEMOS)}")
    if mode not in MODES:
        raise ValidationError(f"demo: mode {mode!r} is not available; choose one of {list(MODES)}")
    spec = DEMOS[name]
    t0 = time.perf_counter()
    data = load(spec.dataset)
    train, test = data.split(test_fraction, seed=seed)
    if limit is not None:
        test = test.subset(np.arange(min(limit, len(test))), "test")
    clf = ConvertedClassifier(
        hidden or spec.hidden,
        steps=steps or spec.steps,
        epochs=spec.epochs,
        batch=spec.batch,
        board=board,
        backend=backend,
        seed=seed,
        progress=progress,
    )
    clf.fit(train.normalized(), train.y)
    fit_s = time.perf_counter() - t0
    float_acc = float(np.mean(clf.predict_float(test.normalized()) == test.y))
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
        "float_accuracy": float_acc,
        "target_accuracy": spec.target,
        "confusion": cm.tolist(),
        "hidden": list(clf.hidden),
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
    return "\n".join(
        [
            f"demo {s['demo']} ({s['mode']}): accuracy {s['accuracy']:.4f} on {s['test_samples']} held-out "
            f"samples (float network {s['float_accuracy']:.4f}; target {s['target_accuracy']:.2f}); "
            f"trained on {s['train_samples']}",
            f"network {s['hidden']} hidden, {s['steps_per_sample']} steps per sample, "
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
        keep = sp.index < 8 * clf.hidden[0]  # the first eight samples
        ax.scatter(sp.steps[keep], sp.index[keep], s=1, c="k")
        ax.set(xlabel="step", ylabel=f"{sp.target} neuron (samples 0-7)", title="spike raster")
        paths.append(_save(fig, f"{stem}-raster.png"))
    w = clf.layers[0].weights
    n = min(len(w), 32)
    cols = 8
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(cols * 1.2, -(-n // cols) * 1.2))
    for k, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if k < n:
            ax.imshow(w[k].reshape(shape), cmap="RdBu_r", vmin=-256, vmax=256)
    fig.suptitle("first-layer weight mantissas")
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
