import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/reference.py, tests/netgen.py

TARGETS = ["numpy", "cython"]


@pytest.fixture
def rng(request):
    """A Generator seeded from the test's name: reproducible, different per test."""
    seed = sum(map(ord, request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)


@pytest.fixture(params=TARGETS)
def target(request):
    """Every behaviour test runs on each Brian2 target."""
    return request.param
