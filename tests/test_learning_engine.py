"""The learning engine against the reference, the STDP window, saturation, integer-only runtime."""

import ast
import inspect

import numpy as np
import pytest
from learning_reference import ReferenceLearner
from neurochip.cores.fixedpoint import representable_weights
from neurochip.learning import LearningRule, RuleError, pair_stdp, reward_stdp, teacher_rule
from neurochip.learning import engine as engine_module
from neurochip.learning import rng as rng_module
from neurochip.learning.engine import ProjectionLearner
from neurochip.learning.rules import parse

VARS = ["x0", "y0", "x1", "x2", "y1", "y2", "y3", "w", "d", "t"]


def compiled_kernel():
    from neurochip.cores.brian2_backend import cython_available
    from neurochip.learning.kernel import compiled

    if not cython_available():
        pytest.skip("no C compiler")
    return compiled()


@pytest.fixture(params=["numpy", "compiled"])
def impl(request):
    """Each engine test runs on the numpy implementation and on the compiled kernel."""
    return None if request.param == "numpy" else compiled_kernel()


def random_rule(rng, t_epoch):
    terms = {}
    k = int(rng.integers(0, 3))
    for target in ("dw", "dd", "dt"):
        if target != "dw" and rng.random() < 0.4:
            continue
        parts = []
        for _ in range(int(rng.integers(1, 4))):
            dep = rng.choice(["x0", "y0", f"u{k}"])
            factors = []
            for _ in range(int(rng.integers(0, 3))):
                v = str(rng.choice(VARS))
                kind = rng.random()
                if kind < 0.2 and v in "wdt":
                    factors.append(
                        f"sgn({v} {'+' if rng.random() < 0.5 else '-'} {int(rng.integers(0, 20))})"
                    )
                elif kind < 0.4:
                    factors.append(f"({v} {'+' if rng.random() < 0.5 else '-'} {int(rng.integers(0, 128))})")
                else:
                    factors.append(v)
            m, e = int(rng.integers(-8, 8)), int(rng.integers(-7, 4))
            parts.append("*".join([f"{m}*2^{e}", dep, *factors]))
        terms[target] = " + ".join(parts)
    traces = {f"{n}_impulse": float(rng.integers(0, 128 * 128)) / 128 for n in ("x1", "x2", "y1", "y2", "y3")}
    traces |= {f"{n}_tau": float(rng.choice([2, 5, 20, np.inf])) for n in ("x1", "x2", "y1", "y2", "y3")}
    return LearningRule(**terms, **traces, t_epoch=t_epoch, rounding="nearest")


def make_pair(rule, rng, n_pre, n_post, n_syn, sign_mode, nbits, drivers=None, kernel=None):
    pre = rng.integers(0, n_pre, n_syn)
    post = rng.integers(0, n_post, n_syn)
    w = representable_weights(rng.integers(-256, 256, n_syn), sign_mode, nbits)
    d = rng.integers(0, 63, n_syn)
    eng = ProjectionLearner(
        rule,
        index=3,
        n_pre=n_pre,
        n_post=n_post,
        pre=pre,
        post=post,
        w=w,
        d=d,
        sign_mode=sign_mode,
        num_weight_bits=nbits,
        seed=1,
        drivers=drivers,
        kernel=kernel,
        chunk=7,  # several chunks per epoch: the compiled path's chunk boundaries are exercised
        threads=2,  # ... and its rows and columns shared by two threads
    )
    ref = ReferenceLearner(rule, n_pre, n_post, pre, post, w, d, sign_mode, nbits, drivers or ())
    return eng, ref


def step_both(a, b, rng, rate, compared, steps=120):
    """Two learners through the same random spikes, their ``compared`` arrays equal after each step."""
    for t in range(1, steps + 1):
        pf = np.flatnonzero(rng.random(a.n_pre) < rate)
        qf = np.flatnonzero(rng.random(a.n_post) < rate)
        a.step(t, pf, qf)
        b.step(t, pf, qf)
        for name in compared:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{name}, step {t}")


def simple_rule(rng, t_epoch, rounding):
    """A random rule of the common form: dw only, each product's factors from one side."""
    k = int(rng.integers(0, 3))
    parts = []
    for _ in range(int(rng.integers(1, 5))):
        dep = str(rng.choice(["x0", "y0", f"u{k}"]))
        side = ["x0", "x1", "x2"] if rng.random() < 0.5 else ["y0", "y1", "y2", "y3"]
        factors = []
        for _ in range(int(rng.integers(0, 3))):
            v = str(rng.choice(side))
            factors.append(f"({v} - {int(rng.integers(0, 40))})" if rng.random() < 0.3 else v)
        m, e = int(rng.integers(-8, 8)), int(rng.integers(-7, 3))
        parts.append("*".join([f"{m}*2^{e}", dep, *factors]))
    traces = {f"{n}_impulse": float(rng.integers(0, 128 * 128)) / 128 for n in ("x1", "x2", "y1", "y2", "y3")}
    traces |= {f"{n}_tau": float(rng.choice([2, 5, 20, np.inf])) for n in ("x1", "x2", "y1", "y2", "y3")}
    return LearningRule(dw=" + ".join(parts), **traces, t_epoch=t_epoch, rounding=rounding)


@pytest.mark.parametrize("seed", range(10))
def test_one_sided_products_match_the_numpy_engine(seed):
    """Rules of the common form (dw only, each product's factors from one side) give the numpy
    engine's weights (itself held to the reference), with nearest and stochastic rounding."""
    kernel = compiled_kernel()
    rng = np.random.default_rng(300 + seed)
    rule = simple_rule(rng, int(rng.integers(1, 5)), "nearest" if seed % 2 else "stochastic")
    mode = str(rng.choice(["mixed", "excitatory", "inhibitory"]))
    nbits = int(rng.integers(1, 9))
    pre, post = rng.integers(0, 9, 80), rng.integers(0, 8, 80)
    common = dict(
        index=4,
        n_pre=9,
        n_post=8,
        pre=pre,
        post=post,
        w=representable_weights(rng.integers(-256, 256, 80), mode, nbits),
        d=np.zeros(80, np.int64),
        sign_mode=mode,
        num_weight_bits=nbits,
        seed=seed,
    )
    a = ProjectionLearner(rule, kernel=None, **common)
    b = ProjectionLearner(rule, kernel=kernel, chunk=6, threads=2, **common)
    step_both(a, b, rng, 0.25, ("w",))
    assert (a.w != common["w"]).any()
    assert a.synapses_updated >= b.synapses_updated > 0  # the compiled path skips vanishing products


# seeds whose rules change weights under round-to-nearest (small products round away)
@pytest.mark.parametrize("seed", [0, 3, 5, 6, 7, 9, 10, 12])
def test_one_sided_rules_match_the_reference(seed):
    """The compiled path's shortcut for these rules (weights read only where a change survives
    rounding) against the independent reference, weight for weight, step by step."""
    rng = np.random.default_rng(400 + seed)
    rule = simple_rule(rng, int(rng.integers(1, 5)), "nearest")
    mode = str(rng.choice(["mixed", "excitatory", "inhibitory"]))
    eng, ref = make_pair(rule, rng, 9, 8, 60, mode, int(rng.integers(1, 9)), kernel=compiled_kernel())
    initial = eng.w.tolist()
    for t in range(1, 121):
        pf, qf = np.flatnonzero(rng.random(9) < 0.25), np.flatnonzero(rng.random(8) < 0.25)
        eng.step(t, pf, qf)
        ref.step(t, pf.tolist(), qf.tolist())
        assert eng.w.tolist() == ref.w, f"weights differ after step {t}"
    assert eng.w.tolist() != initial, "the rule should have changed some weights"


@pytest.mark.parametrize("seed", range(12))
def test_engine_matches_reference_on_random_rules(seed, impl):
    rng = np.random.default_rng(seed)
    t_epoch = int(rng.integers(1, 6))
    rule = random_rule(rng, t_epoch)
    mode = str(rng.choice(["mixed", "excitatory", "inhibitory"]))
    eng, ref = make_pair(rule, rng, 7, 6, 40, mode, int(rng.integers(1, 9)), kernel=impl)
    pre_spikes = rng.random((90, 7)) < 0.2
    post_spikes = rng.random((90, 6)) < 0.2
    updated = 0
    for t in range(1, 91):
        pf, qf = np.flatnonzero(pre_spikes[t - 1]), np.flatnonzero(post_spikes[t - 1])
        out = eng.step(t, pf, qf)
        ref.step(t, pf.tolist(), qf.tolist())
        updated += 0 if out is None else out.size
        assert eng.w.tolist() == ref.w, f"weights differ after step {t}"
        assert eng.d.tolist() == ref.d and eng.tag.tolist() == ref.t, f"delay/tag differ after step {t}"
    assert updated > 0


def test_modulated_trace_matches_reference(impl):
    rng = np.random.default_rng(5)
    rule = LearningRule(
        dw="2^-3*x0*y2 - 2^-4*x0*y1 + 2^-2*x1*y0",
        x1_impulse=40,
        x1_tau=6,
        y1_impulse=50,
        y1_tau=8,
        y2_impulse=70.5,
        y2_tau=5,
        t_epoch=2,
        rounding="nearest",
    )
    for drivers in ({"y2": False}, {"y2": True}):  # one-to-one and broadcast modulators
        eng, ref = make_pair(rule, rng, 5, 4, 30, "mixed", 8, drivers=drivers, kernel=impl)
        for t in range(1, 61):
            pf = np.flatnonzero(rng.random(5) < 0.3)
            qf = np.flatnonzero(rng.random(4) < 0.2)
            mod = bool(rng.random() < 0.3) if drivers["y2"] else np.flatnonzero(rng.random(4) < 0.3)
            eng.step(t, pf, qf, {"y2": mod})
            ref.step(t, pf.tolist(), qf.tolist(), {"y2": mod if isinstance(mod, bool) else mod.tolist()})
            assert eng.w.tolist() == ref.w


@pytest.mark.parametrize("t_epoch", [1, 2])
def test_stdp_window(t_epoch, impl):
    """Mean dw per pre/post offset = impulse * decay^|dt| * scale (LTP before, LTD after) within 2 %."""
    a, impulse, tau = 1.0, 127, 8
    rule = pair_stdp(a_plus=a, a_minus=a, tau_plus=tau, tau_minus=tau, impulse=impulse, t_epoch=t_epoch)
    kept = rule.traces["x1"].kept / 4096
    offsets = np.arange(-20, 21)
    per = 600
    n = offsets.size * per
    offset = np.repeat(offsets, per)
    eng = ProjectionLearner(
        rule,
        kernel=impl,
        index=0,
        n_pre=n,
        n_post=n,
        pre=np.arange(n),
        post=np.arange(n),
        w=np.zeros(n),
        d=np.zeros(n),
        sign_mode="mixed",
        num_weight_bits=8,
        seed=7,
    )
    t0 = 30
    pre_t = np.full(n, t0)
    post_t = t0 + offset
    for t in range(1, 60 + t_epoch):
        eng.step(t, np.flatnonzero(pre_t == t), np.flatnonzero(post_t == t))
    mean = np.array([eng.w[offset == o].mean() for o in offsets])
    for o, got in zip(offsets, mean, strict=True):
        want = a * impulse * kept ** abs(o) * (1 if o > 0 else -1)
        if o == 0:
            assert abs(got) < 1.5  # LTP and LTD of a same-step pair cancel
            continue
        assert got == pytest.approx(want, rel=0.02), f"offset {o}: mean dw {got:.3f}, expected {want:.3f}"
        assert np.sign(got) == np.sign(o)  # LTP for pre-before-post, LTD after


def test_determinism_and_seed(impl):
    rule = pair_stdp(t_epoch=2)
    spikes = np.random.default_rng(0).random((100, 2, 50)) < 0.1

    def run(seed):
        eng = ProjectionLearner(
            rule,
            kernel=impl,
            index=0,
            n_pre=50,
            n_post=50,
            pre=np.arange(50),
            post=np.arange(50)[::-1],
            w=np.zeros(50),
            d=np.zeros(50),
            sign_mode="mixed",
            num_weight_bits=8,
            seed=seed,
        )
        for t in range(1, 101):
            eng.step(t, np.flatnonzero(spikes[t - 1, 0]), np.flatnonzero(spikes[t - 1, 1]))
        return eng.w.copy()

    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


@pytest.mark.parametrize("mode", ["mixed", "excitatory", "inhibitory"])
@pytest.mark.parametrize("nbits", [8, 5, 1])
def test_weights_saturate_at_their_limits(mode, nbits, impl):
    up = LearningRule(dw="7*2^8*x0", t_epoch=1, rounding="nearest")
    down = LearningRule(dw="-8*2^8*x0", t_epoch=1, rounding="nearest")
    lo, hi = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[mode]
    n = 8 - nbits + (mode == "mixed")
    for rule, want in ((up, (hi >> n) << n), (down, (lo >> n) << n)):
        eng = ProjectionLearner(
            rule,
            kernel=impl,
            index=0,
            n_pre=1,
            n_post=1,
            pre=[0],
            post=[0],
            w=[0],
            d=[0],
            sign_mode=mode,
            num_weight_bits=nbits,
            seed=0,
        )
        for t in range(1, 20):
            eng.step(t, np.array([0]), np.array([], int))
        assert eng.w.tolist() == [want]
        assert want % (1 << n) == 0


def test_delay_and_tag_saturate(impl):
    rule = LearningRule(dd="7*2^8*x0", dt="-8*2^8*x0", t_epoch=1)
    eng = ProjectionLearner(
        rule,
        kernel=impl,
        index=0,
        n_pre=1,
        n_post=1,
        pre=[0],
        post=[0],
        w=[0],
        d=[3],
        sign_mode="mixed",
        num_weight_bits=8,
        seed=0,
    )
    for t in range(1, 5):
        eng.step(t, np.array([0]), np.array([], int))
    assert eng.d.tolist() == [62] and eng.tag.tolist() == [-256]


def test_updates_touch_only_synapses_whose_dependencies_fired(impl):
    rule = pair_stdp(t_epoch=2)
    eng = ProjectionLearner(
        rule,
        kernel=impl,
        index=0,
        n_pre=100,
        n_post=100,
        pre=np.repeat(np.arange(100), 100),
        post=np.tile(np.arange(100), 100),
        w=np.zeros(10000),
        d=np.zeros(10000),
        sign_mode="mixed",
        num_weight_bits=8,
        seed=0,
    )
    eng.step(1, np.array([3]), np.array([], int))
    changed = eng.step(2, np.array([], int), np.array([7]))
    # dependencies fired: source 3 (its row) and target 7 (its column)
    dependent = {*range(300, 400), *range(7, 10000, 100)}
    touched = set(changed.tolist())
    assert touched <= dependent
    assert set(np.flatnonzero(eng.w).tolist()) <= touched
    # the synapse 3 -> 7 (pre before post) potentiates; 3 -> others depress only if their y1 > 0
    assert eng.w[307] > 0 and 307 in touched
    if impl is None:
        assert touched == dependent  # the numpy path visits every dependent synapse
    else:
        assert touched == {307}  # the compiled path skips synapses whose products are all zero
    assert eng.step(3, np.array([], int), np.array([], int)) is None
    assert eng.step(4, np.array([], int), np.array([], int)) is None


def test_runtime_arrays_are_integer(impl):
    rule = reward_stdp()
    eng = ProjectionLearner(
        rule,
        kernel=impl,
        index=0,
        n_pre=20,
        n_post=20,
        pre=np.arange(20),
        post=np.arange(20),
        w=np.zeros(20),
        d=np.zeros(20),
        sign_mode="mixed",
        num_weight_bits=8,
        seed=3,
        drivers={"y2": True},
    )
    rng = np.random.default_rng(0)
    for t in range(1, 41):
        eng.step(
            t, np.flatnonzero(rng.random(20) < 0.3), np.flatnonzero(rng.random(20) < 0.3), {"y2": t % 3 == 0}
        )
    for name, value in vars(eng).items():
        if isinstance(value, np.ndarray):
            assert value.dtype.kind in "iub", f"{name} has dtype {value.dtype}"
    assert rng_module.random_bits(1, 2, 3, np.arange(5), 4, 12).dtype == np.int64


def test_runtime_code_has_no_floats():
    """The engine's and the random generator's code: no float literals, true division or float math."""
    float_calls = {"float", "exp", "log", "expm1", "sqrt", "power", "true_divide", "divide", "floor", "ceil"}
    for module in (engine_module, rng_module):
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                raise AssertionError(f"{module.__name__}: float literal {node.value} at line {node.lineno}")
            if isinstance(node, (ast.Div,)):
                raise AssertionError(
                    f"{module.__name__}: true division at line {getattr(node, 'lineno', '?')}"
                )
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                raise AssertionError(f"{module.__name__}: true division at line {node.lineno}")
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                assert name not in float_calls, f"{module.__name__}: call to {name} at line {node.lineno}"


def test_compiled_kernel_source_has_no_floats():
    import re

    from neurochip.learning.kernel import SOURCE

    code = "\n".join(line.split("#")[0] for line in SOURCE.splitlines())  # without comments
    code = re.sub(r"0x[0-9A-Fa-f]+", "0", code)  # hex constants are integers
    assert not re.search(r"\b(double|float|long double)\b", code)
    assert not re.search(r"\d\.\d|\d[eE][-+]?\d", code), "float literal"
    assert not re.search(r"[^/]/[^/=]", code), "true division"
    assert not re.search(r"\b(exp|log|sqrt|pow|floor|ceil|fabs)\s*\(", code), "float function"


def test_ready_made_rules_parse():
    for rule in (pair_stdp(), reward_stdp(), teacher_rule()):
        assert rule.sums
    assert reward_stdp().u_exp == 0


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("x1*y1", "in term 'x1*y1': no dependency"),
        ("2^-2*x1*y0*u1", "in term '2^-2*x1*y0*u1': a second dependency u1"),
        ("9*x1*y0", "in term '9*x1*y0': scale mantissa 9 is outside [-8, 7]"),
        ("2^-9*x1*y0", "in term '2^-9*x1*y0': scale exponent -9 is outside [-7, 8]"),
        ("x0*(y1 + 300)", "constant 300 is outside the 8-bit range"),
        ("x0*sgn(y1)", "sgn() takes w, d or t, not y1"),
        ("x0*z1", "unknown symbol 'z1'"),
        ("x0*3^2", "only powers of 2 are allowed"),
        ("x0 / 2", "cannot read '/ 2'"),
        ("", "expected a non-empty string"),
    ],
)
def test_rule_errors_point_at_the_term(text, fragment):
    with pytest.raises(RuleError) as e:
        parse("dw", text)
    assert fragment in str(e.value)
    if text:
        assert "one dependency (x0, y0 or u<k>)" in str(e.value) or "non-empty" in str(e.value)


def test_rule_parsing_and_scale_normalisation():
    s = parse("dw", "16*x1*y0 - 2^-9*4*y1*x0 + sgn(w - 3)*u2*x2 + x0*y0*(w + 1)")
    (a, b, c, d) = s.products
    assert (a.dependency, a.mantissa, a.exponent, [f.var for f in a.factors]) == ("y0", 4, 2, ["x1"])
    assert (b.dependency, b.mantissa, b.exponent) == ("x0", -1, -7)
    assert (c.dependency, c.u_exp, c.factors[0].sgn, c.factors[0].const) == ("u", 2, True, -3)
    assert (d.dependency, [f.var for f in d.factors], d.factors[1].const) == ("x0", ["y0", "w"], 1)
    assert parse("dw", "x1*x2*y0").products[0].shift == 3  # 7 + 7 + 4 bits > 15
    with pytest.raises(RuleError, match="must share one k"):
        LearningRule(dw="u0*w", dt="u1*t")
    with pytest.raises(Exception, match=r"LearningRule.t_epoch: 64 is out of range \[1, 63\]"):
        LearningRule(dw="x0", t_epoch=64)
    with pytest.raises(Exception, match=r"LearningRule.x1_impulse: 200.0 is out of range"):
        LearningRule(dw="x0*x1", x1_impulse=200)


def test_trace_registers():
    rule = LearningRule(dw="x1*y0", x1_impulse=16.3, x1_tau=10)
    c = rule.traces["x1"]
    assert (c.impulse_int, c.impulse_frac) == (16, round(0.3 * 128))
    assert c.decay == round(4096 * (1 - np.exp(-0.1)))
    assert LearningRule.from_registers(rule.to_registers()).traces == rule.traces


@pytest.mark.parametrize("seed", range(6))
def test_compiled_and_numpy_engines_agree_with_stochastic_rounding(seed):
    """Same random streams, same skips of vanishing products: bit-identical weights, delays, tags."""
    kernel = compiled_kernel()
    rng = np.random.default_rng(100 + seed)
    t_epoch = int(rng.integers(1, 5))
    rule = random_rule(rng, t_epoch)
    rule.rounding = "stochastic"
    rule.__post_init__()
    if seed % 2:
        rule = pair_stdp(t_epoch=t_epoch, rounding="stochastic")
    pre = rng.integers(0, 9, 80)
    post = rng.integers(0, 7, 80)
    order = np.argsort(pre, kind="stable") if seed % 3 == 0 else np.arange(80)  # rows sorted or not
    common = dict(
        index=2,
        n_pre=9,
        n_post=7,
        pre=pre[order],
        post=post[order],
        sign_mode="mixed",
        num_weight_bits=7,
        seed=seed,
        synapse_ids=order,
        w=representable_weights(rng.integers(-256, 256, 80), "mixed", 7)[order],
        d=rng.integers(0, 63, 80)[order],
    )
    a = ProjectionLearner(rule, kernel=None, **common)
    b = ProjectionLearner(rule, kernel=kernel, chunk=5, threads=3, **common)
    step_both(a, b, rng, 0.2, ("w", "d", "tag", "x", "y"))


@pytest.mark.parametrize("layout", ["contiguous", "scattered"])
@pytest.mark.parametrize("weight_exp", [2, -3])
def test_compiled_kernel_writes_the_backend_weights(layout, weight_exp):
    """The compiled path writes effective weights and mantissas at each synapse's backend index."""
    from neurochip.cores.fixedpoint import effective_weight

    kernel = compiled_kernel()
    rng = np.random.default_rng(7)
    n = 300
    pre, post = rng.integers(0, 12, n), rng.integers(0, 10, n)
    w = representable_weights(rng.integers(-256, 256, n), "mixed", 8)
    learner = ProjectionLearner(
        pair_stdp(t_epoch=2, rounding="stochastic"),
        index=1,
        n_pre=12,
        n_post=10,
        pre=pre,
        post=post,
        w=w,
        d=np.zeros(n, np.int64),
        sign_mode="mixed",
        num_weight_bits=8,
        seed=3,
        kernel=kernel,
        chunk=16,
    )
    size = n + 40
    index = 25 + np.arange(n) if layout == "contiguous" else rng.permutation(size)[:n]
    w_eff = np.full(size, -1, np.int32)
    mant = np.full(size, -1, np.int32)
    w_eff[index] = effective_weight(learner.w, weight_exp)
    mant[index] = learner.w
    learner.attach(w_eff, mant, index, weight_exp)
    changed = 0
    for t in range(1, 61):
        learner.step(t, np.flatnonzero(rng.random(12) < 0.3), np.flatnonzero(rng.random(10) < 0.3))
        np.testing.assert_array_equal(mant[index], learner.w)
        np.testing.assert_array_equal(w_eff[index], effective_weight(learner.w, weight_exp))
        changed += int((learner.w != w).sum())
    assert changed > 0
    others = np.setdiff1d(np.arange(size), index)
    assert (w_eff[others] == -1).all() and (mant[others] == -1).all()
