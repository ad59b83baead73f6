"""Dataset loaders and spike encoders for the recognition demos (offline; see :mod:`.loaders`)."""

from neurochip.datasets.encoders import EVENT_DTYPE, events_to_raster, latency, rate, saccades
from neurochip.datasets.loaders import (
    LOADERS,
    Dataset,
    DatasetError,
    load,
    load_digits,
    load_fashion_mnist,
    load_idx,
    load_mnist5k,
    load_npz,
    read_idx,
)

__all__ = [
    "EVENT_DTYPE",
    "LOADERS",
    "Dataset",
    "DatasetError",
    "events_to_raster",
    "latency",
    "load",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist5k",
    "load_npz",
    "rate",
    "read_idx",
    "saccades",
]
