"""Offline-trained, converted networks on the chip: bit-exact against the reference, and accurate."""

import numpy as np
import pytest
from reference import simulate

from neurochip import datasets as ds
from neurochip.errors import ValidationError
from neurochip.recognition import (
    ConvertedClassifier,
    OnChipClassifier,
    build_batch_network,
    confusion_matrix,
    convert,
    train_mlp,
)


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return ds.load_digits().split(0.2, seed=0)


def test_converted_layers_are_hardware_values(digits):
    train, _ = digits
    w = train_mlp(train.normalized(), train.y, (32,), epochs=5)
    layers = convert(w, train.normalized(), steps=40)
    for layer in layers:
        assert layer.weights.dtype == np.int64
        assert layer.weights.min() >= -256 and layer.weights.max() <= 254
        assert np.all(layer.weights % 2 == 0)  # mixed sign mode keeps 7 bits and the sign
        assert 1 <= layer.vth_mant < 2**17
    assert layers[-1].readout and not layers[0].readout
    # the readout cannot reach the voltage bound, even with every input spiking every step
    assert (40 + 2) * np.abs(layers[-1].weights).sum(axis=1).max() * 64 <= 2**22


def test_chip_run_equals_the_reference_model(digits):
    train, test = digits
    w = train_mlp(train.normalized(), train.y, (24,), epochs=5)
    layers = convert(w, train.normalized(), steps=20)
    raster = ds.rate(test.normalized()[:6], 20, seed=3)
    net, probes = build_batch_network(layers, raster, probe_spikes=True)
    clf = ConvertedClassifier((24,), steps=20, epochs=5, seed=3, backend="numpy", router=False)
    clf.weights, clf.layers = w, layers
    pred = clf.predict(test.normalized()[:6])
    _, v, spikes = simulate(net, 22)
    n_hidden = 6 * 24
    v_out = v[-1, n_hidden:].reshape(6, 10)
    np.testing.assert_array_equal(pred, v_out.argmax(axis=1))
    assert spikes[:, :n_hidden].sum() > 0 and clf.report.spikes == spikes.sum()


def test_digits_demo_reaches_its_target(tmp_path):
    pytest.importorskip("sklearn")
    from neurochip.demos import run_demo

    s = run_demo("digits", out=tmp_path / "d.h5")
    assert s["accuracy"] >= 0.95, s["accuracy"]
    assert s["test_samples"] == 359 and sum(map(sum, s["confusion"])) == 359
    assert s["energy_per_inference_uj"] > 0 and s["time_per_inference_us"] > 0 and s["chips"] == 1
    from neurochip import Results

    r = Results.load(s["results_file"])
    assert r.extras["demo"]["accuracy"] == s["accuracy"] and r.router is not None
    assert len(r.extras["predictions"]) == 359


def test_on_chip_learning_is_deterministic_and_backend_independent(digits):
    """The readout learns on the chip (from zero weights); numpy and cython give the same weights."""
    train, test = digits
    x, y = train.normalized()[:120], train.y[:120]
    learned = []
    for backend in ("numpy", "cython"):
        clf = OnChipClassifier(40, learning_rates=(2**-5,), backend=backend, router=False, seed=5)
        clf.fit(x, y)
        learned.append(clf.layers[1].weights)
        pred = clf.predict(test.normalized()[:20])
    np.testing.assert_array_equal(learned[0], learned[1])
    w = learned[0]
    assert w.shape == (10, 40) and np.count_nonzero(w) > 100
    assert w.min() >= -256 and w.max() <= 254 and np.all(w % 2 == 0)  # 8-bit mixed-sign mantissas
    assert clf.training.samples == 120 and 0 <= clf.online_accuracy <= 1
    assert pred.shape == (20,) and clf.report.samples == 20


def test_on_chip_learning_rejects_rates_the_rule_cannot_hold():
    with pytest.raises(ValidationError, match="not representable"):
        OnChipClassifier(learning_rates=(2**-9,))


def test_learn_demo_reaches_its_target(tmp_path):
    pytest.importorskip("sklearn")
    from neurochip.demos import run_demo

    s = run_demo("digits", "learn", out=tmp_path / "l.h5")
    assert s["accuracy"] >= 0.90, s["accuracy"]
    assert s["mode"] == "learn" and s["epochs"] == 4 and s["test_samples"] == 359
    assert s["training_steps"] == 4 * s["train_samples"] * 40
    assert s["energy_per_inference_uj"] > 0 and s["chips"] == 1


def test_demo_modes_are_checked():
    from neurochip.demos import run_demo

    with pytest.raises(ValidationError, match="mode 'learn' is not available"):
        run_demo("mnist", "learn")


def test_confusion_matrix():
    cm = confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
