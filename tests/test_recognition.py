"""Offline-trained, converted networks on the chip: bit-exact against the reference, and accurate."""

import numpy as np
import pytest
from reference import simulate

from neurochip import datasets as ds
from neurochip.recognition import (
    ConvertedClassifier,
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


def test_confusion_matrix():
    cm = confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
