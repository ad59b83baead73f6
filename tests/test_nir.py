"""NIR import and export: exact against the integer reference, close to the float model, lossless
round trips, clear errors."""

import numpy as np
import pytest
from reference import simulate

import neurochip as nc
from neurochip.errors import ValidationError

nir = pytest.importorskip("nir")
from neurochip.nir_io import from_nir, to_nir  # noqa: E402

DT = 1e-3
STEPS = 300


def cuba(n, tau_syn=5e-3, tau_mem=2e-2, threshold=1.0, **kw):
    """A CubaLIF node as snnTorch exports it: r = tau_mem/dt, w_in = tau_syn/dt, seconds."""
    return nir.CubaLIF(
        tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.full(n, tau_mem / DT),
        v_leak=np.zeros(n), v_threshold=np.full(n, threshold), v_reset=np.zeros(n),
        w_in=np.full(n, tau_syn / DT), **kw,
    )  # fmt: skip


def feed_forward(rng):
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([40])}),
            "fc1": nir.Affine(weight=rng.normal(0, 0.12, (50, 40)), bias=np.zeros(50)),
            "lif1": cuba(50),
            "fc2": nir.Linear(weight=rng.normal(0.05, 0.25, (10, 50))),
            "lif2": cuba(10, tau_syn=1e-2),
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
    )


def recurrent(rng):
    n = 30
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([20])}),
            "fc": nir.Linear(weight=rng.normal(0.02, 0.15, (n, 20))),
            "lif": cuba(n),
            "rec": nir.Linear(weight=rng.normal(0, 0.1, (n, n)) * (rng.random((n, n)) < 0.3)),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
    )


def run_against_reference(net):
    """Run ``net`` on the chip with every spike probed; assert the spikes equal the integer
    reference's (bit-exact: the quantised network); returns the results, spikes and reference v."""
    with net:
        for pop in net.populations:
            nc.Probe(pop, "spikes", name=f"{pop.name}.all")
    with nc.Simulator(net, backend="numpy") as sim:
        sim.run(STEPS)
        res = sim.results
    _, v_ref, s_ref = simulate(net, STEPS)
    chip = np.concatenate([res[f"{pop.name}.all"].raster(STEPS) for pop in net.populations], axis=1)
    np.testing.assert_array_equal(chip, s_ref)
    return res, chip, v_ref


def float_model(graph, raster, steps):
    """The unquantised network in floats, with Loihi's timing (one step per synapse), per layer in
    edge order: I <- (1 - dt/tau_syn) I + W s, v <- (1 - dt/tau_mem) v + I, spike if v > v_th, reset 0."""
    nodes, edges = graph.nodes, graph.edges
    neurons = [n for n, v in nodes.items() if isinstance(v, nir.CubaLIF)]
    state = {n: [np.zeros(nodes[n].tau_syn.size)] * 2 for n in neurons}
    spikes = {n: np.zeros(nodes[n].tau_syn.size, bool) for n in neurons}
    counts = {n: np.zeros(nodes[n].tau_syn.size) for n in neurons}
    srcs = {}
    for s, d in edges:  # neuron <- weight node <- source
        if d in neurons:
            srcs.setdefault(d, []).append(s)
    for k in range(steps):
        inp = raster[k - 1] if k >= 1 else np.zeros(raster.shape[1], bool)  # row k-1 acts at step k+1
        new = {}
        for n in neurons:
            node = nodes[n]
            total = 0
            for w_name in srcs[n]:
                src = next(s for s, d in edges if d == w_name)
                s = inp if src == "input" else spikes[src]
                total = total + nodes[w_name].weight @ s
            i, v = state[n]
            i = (1 - DT / node.tau_syn) * i + total
            v = (1 - DT / node.tau_mem) * v + i
            fired = v > node.v_threshold
            v = np.where(fired, 0.0, v)
            state[n], new[n] = [i, v], fired
            counts[n] += fired
        spikes = new
    return counts


@pytest.mark.parametrize("build", [feed_forward, recurrent])
def test_import_is_exact_against_the_reference_and_close_to_floats(build):
    rng = np.random.default_rng(3)
    graph = build(rng)
    raster = rng.random((STEPS, 40 if build is feed_forward else 20)) < 0.25
    imp = from_nir(graph, dt=DT, inputs={"input": raster})
    net = imp.network
    res, chip, _ = run_against_reference(net)
    assert chip.sum() > 50
    floats = float_model(graph, raster, STEPS)
    for p in net.populations:
        got, want = res.spike_counts[p.name], floats[p.name]
        agreement = 1 - np.abs(got - want).sum() / max(want.sum(), 1)
        print(f"{build.__name__} {p.name}: spike-count agreement with the float model {agreement:.3f}")
        assert agreement > 0.8, (p.name, agreement)
        assert np.corrcoef(got, want)[0, 1] > 0.9
    assert imp.report.max_weight_rel_error < 0.02
    assert "v.lif" not in str(imp.outputs) and list(imp.outputs) == ["output"]


def test_nir_round_trips_are_lossless(tmp_path):
    rng = np.random.default_rng(8)
    first = from_nir(feed_forward(rng), dt=DT).network
    path = tmp_path / "net.nir"
    nir.write(str(path), to_nir(first, dt=DT))
    second = from_nir(path, dt=DT).network
    assert canonical(second) == canonical(first)
    # a network made in neurochip, with per-synapse delays and non-default registers
    with nc.Network("native") as net:
        inp = nc.SpikeInput(6, name="in")
        a = nc.Population(8, du=300, dv=0, vth_mant=np.arange(100, 108), bias_mant=5, bias_exp=2, name="a")
        b = nc.Population(4, du=4095, ds_offset=1, dv=100, v_init=np.arange(4) * 64, refractory=3, name="b")
        nc.Projection(inp, a, rng.integers(-100, 100, (8, 6)), weight_exp=2, name="in_a")
        nc.Projection(a, b, rng.integers(1, 60, (4, 8)), delay=rng.integers(0, 5, (4, 8)), name="a_b")
        nc.Projection(
            b, a, -rng.integers(1, 60, (8, 4)), sign_mode="inhibitory", num_weight_bits=6, name="b_a"
        )
        nc.Probe(b, "spikes", name="out")
    nir.write(str(tmp_path / "native.nir"), to_nir(net, dt=DT))
    back = from_nir(tmp_path / "native.nir", dt=DT).network
    assert canonical(back, probes=False) == canonical(net, probes=False)


def canonical(net, probes=True):
    """A network as comparable values; synapses as sorted (post, pre, weight, delay) tuples."""
    out = {}
    for p in net.populations:
        out[p.name] = (p.n, {r: p.register_array(r).tolist() for r in p.REGISTER_NAMES})
    for p in net.projections:
        d = np.broadcast_to(np.asarray(p.delays), p.weights.shape)
        syn = sorted(
            zip(p.post_idx.tolist(), p.pre_idx.tolist(), p.weights.tolist(), d.tolist(), strict=True)
        )
        out[p.name] = (p.pre.name, p.post.name, syn, p.weight_exp, p.sign_mode or "mixed", p.num_weight_bits)
    out["inputs"] = sorted((i.name, i.n) for i in net.inputs)
    if probes:
        out["probes"] = sorted((pr.target.name, pr.variable) for pr in net.probes)
    return out


def test_unrepresentable_graphs_name_the_node_and_field():
    rng = np.random.default_rng(0)
    g = feed_forward(rng)
    g.nodes["lif1"] = cuba(50)
    g.nodes["lif1"].v_reset = np.full(50, 0.5)
    with pytest.raises(ValidationError, match=r"'lif1'\.v_reset"):
        from_nir(g, dt=DT)
    g = feed_forward(rng)
    g.nodes["fc2"] = nir.Threshold(threshold=np.ones(50))
    with pytest.raises(ValidationError, match=r"'fc2': Threshold nodes are not supported"):
        from_nir(g, dt=DT)


def naive_conv(x, w, stride, pad):
    """Cross-correlation as torch.nn.Conv2d computes it (groups 1), by loops."""
    c_out, c_in, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho, wo = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    out = np.zeros((c_out, ho, wo))
    for o in range(c_out):
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
                out[o, i, j] = (patch * w[o]).sum()
    return out


def conv_graph(rng):
    conv_w = rng.normal(0.1, 0.4, (3, 2, 3, 3))
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([48])}),
            "fc": nir.Affine(weight=rng.normal(0.05, 0.3, (10, 48)), bias=np.full(10, 0.01)),
            "scale": nir.Scale(scale=np.full(10, 0.5)),
            "readout": nir.CubaLI(
                tau_syn=np.full(10, 5e-3),
                tau_mem=np.full(10, 2e-2),
                r=np.full(10, 20.0),
                v_leak=np.zeros(10),
                w_in=np.full(10, 5.0),
            ),  # fmt: skip
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[("input", "fc"), ("fc", "scale"), ("scale", "readout"), ("readout", "output")],
    )
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
            "conv": nir.Conv2d(
                input_shape=(8, 8), weight=conv_w, stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3)
            ),
            "lif": cuba((3, 8, 8), threshold=1.5),
            "delay": nir.Delay(delay=np.full((3, 8, 8), 3e-3)),
            "pool": nir.SumPool2d(
                kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
            ),
            "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=0),
            "head": inner,
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[
            ("input", "conv"),
            ("conv", "delay"),
            ("delay", "lif"),
            ("lif", "pool"),
            ("pool", "flat"),
            ("flat", "head"),
            ("head", "output"),
        ],  # fmt: skip
    )


def test_conv_pool_flatten_nested_delay_and_readout():
    from neurochip.nir_io import _conv2d, _sumpool2d

    rng = np.random.default_rng(4)
    graph = conv_graph(rng)
    x = rng.random((2, 8, 8))
    m, _, shape = _conv2d(graph.nodes["conv"], (2, 8, 8), "conv")
    assert shape == (3, 8, 8)
    np.testing.assert_allclose(m @ x.ravel(), naive_conv(x, graph.nodes["conv"].weight, 1, 1).ravel())
    p, _, pshape = _sumpool2d(graph.nodes["pool"], (3, 8, 8), "pool")
    y = rng.random((3, 8, 8))
    assert pshape == (3, 4, 4)
    np.testing.assert_allclose(p @ y.ravel(), y.reshape(3, 4, 2, 4, 2).sum(axis=(2, 4)).ravel())

    raster = rng.random((STEPS, 128)) < 0.3
    imp = from_nir(graph, dt=DT, inputs={"input": raster})
    net = imp.network
    conv_proj = net.projections[0]
    assert np.all(np.asarray(conv_proj.delays) == 3)  # the Delay next to the neuron: 3 steps of dt
    readout = imp.populations["head.readout"]
    assert int(np.asarray(readout.vth_mant).max()) == 2**17 - 1  # never spikes
    assert imp.outputs["output"].variable == "v"
    assert any("Affine bias" in n for n in imp.report.notes)
    res, chip, v_ref = run_against_reference(net)
    np.testing.assert_array_equal(res["output.v"].data, v_ref[:, -10:])
    assert chip.sum() > 100 and np.abs(res["output.v"].data).max() > 0


def test_lif_if_and_li_registers():
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([4])}),
            "w1": nir.Linear(weight=np.eye(4)),
            "lif": nir.LIF(
                tau=np.full(4, 1e-2),
                r=np.full(4, 10.0),
                v_leak=np.full(4, 0.5),
                v_threshold=np.ones(4),
                v_reset=np.zeros(4),
            ),  # fmt: skip
            "w2": nir.Linear(weight=np.eye(4)),
            "if": nir.IF(r=np.ones(4), v_threshold=np.full(4, 2.0)),
            "output": nir.Output(output_type={"output": np.array([4])}),
        },
        edges=[("input", "w1"), ("w1", "lif"), ("lif", "w2"), ("w2", "if"), ("if", "output")],
    )
    imp = from_nir(graph, dt=DT)
    lif, iff = imp.populations["lif"], imp.populations["if"]
    # no synaptic current: the current decays fully every step (register 4095 + offset 1)
    assert np.all(np.asarray(lif.du) == 4095) and np.all(np.asarray(lif.ds_offset) == 1)
    assert np.all(np.asarray(lif.dv) == round(4096 * DT / 1e-2)) and np.all(np.asarray(iff.dv) == 0)
    assert np.all(np.asarray(lif.bias_mant) != 0)  # v_leak * dt / tau per step
    assert any("v_leak" in n for n in imp.report.notes)


def test_bad_nir_files_give_clear_errors(tmp_path):
    from neurochip.errors import FileFormatError

    path = tmp_path / "g.nir"
    nir.write(str(path), feed_forward(np.random.default_rng(0)))
    data = path.read_bytes()
    (tmp_path / "cut.nir").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.nir").write_bytes(np.random.default_rng(1).bytes(2048))
    for bad in ("cut.nir", "noise.nir"):
        with pytest.raises(FileFormatError, match="not a readable"):
            from_nir(tmp_path / bad, dt=DT)
    import h5py

    broken = tmp_path / "broken.nir"
    broken.write_bytes(data)
    with h5py.File(broken, "r+") as f:
        del f["node"]["nodes"]["fc1"]["weight"]
    with pytest.raises(FileFormatError, match="not a readable NIR file"):
        from_nir(broken, dt=DT)
    with pytest.raises(FileNotFoundError):
        from_nir(tmp_path / "missing.nir", dt=DT)
