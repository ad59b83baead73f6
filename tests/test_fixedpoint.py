"""Property tests: fixed-point arithmetic against bit-level definitions in Python ints."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from neurochip.cores import compartment as cm
from neurochip.cores import fixedpoint as fp

I64 = st.integers(-(2**40), 2**40)


def twos_complement(x: int, bits: int) -> int:
    """Keep the low `bits` bits and read them as a signed number."""
    low = x & ((1 << bits) - 1)
    return low - (1 << bits) if low >> (bits - 1) else low


def rtz_exact(x: int, decay: int) -> int:
    return int(Fraction(x * (4096 - decay), 4096))  # int() of a Fraction truncates toward zero


@given(I64, st.integers(1, 40))
def test_wrap_signed(x, bits):
    assert int(fp.wrap_signed(x, bits)) == twos_complement(x, bits)


@given(st.integers(-(2**30), 2**30), st.integers(0, 4096))
def test_rtz_decay(x, decay):
    assert int(fp.rtz_decay(x, decay)) == rtz_exact(x, decay)


@given(st.integers(-(2**24), 2**24), st.integers(0, 4096))
def test_rtz_decay_shrinks_toward_zero(x, decay):
    y = int(fp.rtz_decay(x, decay))
    assert abs(y) <= abs(x) and (y == 0 or np.sign(y) == np.sign(x))


@given(I64, st.integers(-100, 100), st.integers(0, 200))
def test_clamp(x, lo, span):
    assert int(fp.clamp(x, lo, lo + span)) == min(max(x, lo), lo + span)


@given(st.integers(0, 23), st.integers(0, 7))
def test_voltage_bounds(kmin, kmax):
    assert int(fp.vmin_from_exp(kmin)) == -(2**kmin) + 1
    assert int(fp.vmax_from_exp(kmax)) == 2 ** (9 + 2 * kmax) - 1


@given(st.integers(-2000, 2000), st.sampled_from(fp.SIGN_MODES), st.integers(1, 8))
def test_representable_weights(w, mode, nbits):
    lo, hi = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[mode]
    clipped = min(max(w, lo), hi)
    n = 8 - nbits + (mode == "mixed")
    want = clipped - (clipped % (1 << n))  # floor to a multiple of 2**n (arithmetic shift)
    got = int(fp.representable_weights(w, mode, nbits))
    assert got == want
    assert lo <= got <= hi or (mode == "inhibitory" and got >= lo - (1 << n) + 1)


@given(st.integers(-256, 255), st.integers(-8, 7))
def test_effective_weight(w, e):
    want = (Fraction(w) * Fraction(2) ** e).__floor__() * 64
    assert int(fp.effective_weight(w, e)) == want


@given(st.lists(st.integers(-300, 300), min_size=1, max_size=50))
def test_sign_mode_resolution(ws):
    w = np.array(ws)
    mode = fp.resolve_sign_mode(w)
    if w.min() >= 0:
        assert mode == "excitatory"
    elif w.max() <= 0:
        assert mode == "inhibitory"
    else:
        assert mode == "mixed"


@settings(max_examples=30)
@given(st.integers(-(2**23), 2**23 - 1), st.integers(0, 4096), st.integers(-(2**40), 2**40))
def test_brian2_numpy_functions_match_definitions(x, kept, big):
    assert int(cm.NUMPY[cm.DECAY](x, kept)) == rtz_exact(x, 4096 - kept)
    assert int(cm.NUMPY[cm.WRAP](big, 22)) == twos_complement(big, 22)


def test_cython_functions_match_definitions():
    """The branch-free C the cython target runs, on random and edge values, through Brian2."""
    brian2 = pytest.importorskip("brian2")
    from neurochip.cores.brian2_backend import cython_available

    if not cython_available():
        pytest.skip("no C compiler")
    rng = np.random.default_rng(0)
    edges = np.array([0, 1, -1, 2**23 - 1, -(2**23), 2**21, -(2**21) - 1, 4095, -4097, 2**30, -(2**30)])
    x = np.r_[edges, rng.integers(-(2**23), 2**23, 3000)]
    kept = np.r_[np.resize([0, 1, 4095, 4096, 3277], edges.size), rng.integers(0, 4097, 3000)]
    big = np.r_[edges * 977, rng.integers(-(2**40), 2**40, 3000)]
    brian2.prefs.codegen.target = "cython"
    g = brian2.NeuronGroup(
        x.size,
        "x : integer\nk : integer\nbig : integer\nd : integer\nwq : integer\nwu : integer\ncl : integer",
        namespace=cm.brian2_functions(),
        dtype={"big": np.int64},
    )
    g.x, g.k, g.big = x, kept, big
    g.run_regularly(
        f"d = {cm.DECAY}(x, k)\nwq = {cm.WRAP}(big, 22)\nwu = {cm.WRAP}(big, 24)\n"
        f"cl = {cm.CLAMP}(x, -5000, 7000)"
    )
    net = brian2.Network(g)
    net.run(brian2.defaultclock.dt, namespace={})
    want = [rtz_exact(int(a), 4096 - int(k)) for a, k in zip(x, kept, strict=True)]
    assert [int(v) for v in g.d[:]] == want
    assert [int(v) for v in g.wq[:]] == [twos_complement(int(b), 22) for b in big]
    assert [int(v) for v in g.wu[:]] == [twos_complement(int(b), 24) for b in big]
    assert [int(v) for v in g.cl[:]] == [min(max(int(a), -5000), 7000) for a in x]


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(1, 300)), min_size=1, max_size=60)
)
def test_synapse_bits_per_core_equals_sum_of_lists(lists):
    from neurochip.cores.resources import synapse_bits_per_core, synapse_list_bits

    core, fmt, n = (np.array(c) for c in zip(*lists, strict=True))
    fmt_bits = np.array([18, 11, 26])
    want = np.zeros(4, np.int64)
    for c, f, k in lists:
        want[c] += int(synapse_list_bits(k, fmt_bits[f]))
    np.testing.assert_array_equal(synapse_bits_per_core(core, fmt, n, fmt_bits, 4), want)
