"""Public surface, network scope, simulator lifecycle, continuation, files."""

import numpy as np
import pytest
from netgen import probed_traces, random_network

import neurochip as nc


def test_public_names_are_pinned():
    assert sorted(nc.__all__) == sorted(
        [
            "Allocator",
            "BACKENDS",
            "BackendError",
            "ChipProgram",
            "FileFormatError",
            "Greedy",
            "LearningRule",
            "Network",
            "NeurochipError",
            "PRESETS",
            "Population",
            "Probe",
            "Projection",
            "ResourceError",
            "Results",
            "RoundRobin",
            "Simulator",
            "SpikeData",
            "SpikeInput",
            "StateData",
            "TrafficAware",
            "ValidationError",
            "__version__",
            "compile_network",
            "from_nir",
            "get_preset",
            "to_nir",
        ]
    )
    for name in nc.__all__:
        assert hasattr(nc, name)


def test_errors_subclass_builtins():
    assert issubclass(nc.ValidationError, ValueError) and issubclass(nc.ValidationError, nc.NeurochipError)
    assert issubclass(nc.ResourceError, ValueError)
    assert issubclass(nc.BackendError, RuntimeError)


def test_network_scope_is_explicit():
    outside = nc.Population(3, name="outside")
    with nc.Network("a") as a:
        p = nc.Population(2, name="p")
        with nc.Network("b") as b:
            q = nc.Population(2, name="q")
        r = nc.Population(2, name="r")
    assert a.populations == [p, r] and b.populations == [q]
    assert outside not in a.populations
    a.add(outside)
    assert a.populations[-1] is outside
    a.add(outside)  # adding twice is a no-op
    assert len(a.populations) == 3
    with pytest.raises(nc.ValidationError, match="a second object is named 'p'"):
        a.add(nc.Population(1, name="p"))


def test_compile_rejects_foreign_objects():
    other = nc.Population(2, name="other")
    with nc.Network("n") as net:
        p = nc.Population(2, name="p")
        nc.Projection(other, p, np.ones((2, 2), int), name="x")
    with pytest.raises(
        nc.ValidationError, match="Projection 'x'.pre: Population 'other' is not in Network 'n'"
    ):
        nc.compile_network(net)


def test_float_constructor_reports_rounding():
    p = nc.Population.from_time_constants(10, tau_u=5, tau_v=20, threshold=2000, bias=110, name="f")
    assert (p.du, p.dv, p.vth_mant) == (818, 205, 2000)
    assert p.bias_mant * 2**p.bias_exp == 7040
    r = p.discretization
    assert [e.quantity for e in r.entries] == ["tau_u", "tau_v", "threshold", "bias"]
    assert r.entries[0].realised == pytest.approx(4096 / 819)
    assert r.entries[1].rel_error == pytest.approx(abs(4096 / 205 - 20) / 20)
    assert r.max_rel_error < 2e-3
    assert "tau_u: requested 5, realised 5.00122" in str(r)
    with pytest.raises(nc.ValidationError, match="threshold: .* out of range"):
        nc.Population.from_time_constants(1, tau_u=1, tau_v=1, threshold=1e9)


def small_net(rng, steps=60):
    return random_network(rng, n_pops=2, size=(10, 30), steps=steps)


def test_continued_runs_equal_one_run(rng, target):
    net = small_net(rng)
    prog = nc.compile_network(net)
    with nc.Simulator(prog, backend=target) as sim:
        sim.run(60)
        one = probed_traces(sim.results, net)
    with nc.Simulator(prog, backend=target) as sim:
        for k in (1, 0, 17, 30, 12):
            sim.run(k)
        assert sim.steps == 60
        parts = probed_traces(sim.results, net)
    for a, b in zip(one, parts, strict=True):
        np.testing.assert_array_equal(a, b)


def test_simulator_lifecycle(rng):
    net = small_net(rng)
    sim = nc.Simulator(net, backend="numpy", seed=3)
    with sim:
        sim.run(5)
        assert sim.results.metadata["seed"] == 3
    with pytest.raises(nc.BackendError, match="closed"):
        sim.run(1)
    with pytest.raises(nc.ValidationError, match=r"Simulator.run.steps: -1"):
        nc.Simulator(net, backend="numpy").run(-1)
    with pytest.raises(nc.ValidationError, match=r"Simulator.backend: 'gpu' is not one of"):
        nc.Simulator(net, backend="gpu")


def test_program_and_results_round_trip(rng, tmp_path):
    net = small_net(rng)
    with net:
        nc.Probe(net.projections[0], "weights", indices=[0, 3, 1], sample_every=20, name="w")
    prog = nc.compile_network(net)
    path = prog.save(tmp_path / "prog.h5")
    loaded = nc.ChipProgram.load(path)
    for k, v in prog.arrays.items():
        assert loaded.arrays[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded.arrays[k], v)
    assert loaded.resources.usage.keys() == prog.resources.usage.keys()
    with nc.Simulator(prog, backend="numpy") as a, nc.Simulator(loaded, backend="numpy") as b:
        a.run(50)
        b.run(50)
        ra, rb = a.results, b.results
    for x, y in zip(probed_traces(ra, net), probed_traces(rb, net), strict=True):
        np.testing.assert_array_equal(x, y)
    w = ra["w"]
    assert w.steps.tolist() == [1, 21, 41]
    proj = net.projections[0]
    stored = nc.compile_network(net).arrays["syn_weight"][prog.projection(proj.name).slot[[0, 3, 1]]]
    assert (w.data == stored).all() and w.indices.tolist() == [0, 3, 1]
    out = ra.save(tmp_path / "res.h5")
    back = nc.Results.load(out)
    assert back.steps == 50 and back.metadata == ra.metadata and back.notes == ra.notes
    for name, pr in ra.probes.items():
        for field in ("steps", "data", "index", "indices", "neurons"):
            if hasattr(pr, field):
                np.testing.assert_array_equal(getattr(back[name], field), getattr(pr, field))
    for pop, c in ra.spike_counts.items():
        np.testing.assert_array_equal(back.spike_counts[pop], c)


def test_bad_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(nc.FileFormatError, match="not a readable HDF5 file"):
        nc.Results.load(bad)
    with nc.Network() as net:
        nc.Population(2)
    prog_path = nc.compile_network(net).save(tmp_path / "p.h5")
    with pytest.raises(nc.FileFormatError, match="expected a neurochip results file, found 'chip_program'"):
        nc.Results.load(prog_path)


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    with nc.Network() as net:
        nc.Population(2)
    prog = nc.compile_network(net)
    monkeypatch.setattr(prog.resources, "to_hdf5", lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        prog.save(tmp_path / "p.h5")
    assert list(tmp_path.iterdir()) == []


def test_failed_cython_compile_raises(monkeypatch):
    from neurochip.cores import compartment as cm
    from neurochip.cores.brian2_backend import cython_available

    if not cython_available():
        pytest.skip("no C compiler")
    broken = dict(cm.CYTHON)
    broken[cm.CLAMP] = broken[cm.CLAMP].replace("return lo", "return undefined_name_xyz")
    monkeypatch.setattr(cm, "CYTHON", broken)
    with nc.Network() as net:
        nc.Population(2)
    with pytest.raises(nc.BackendError, match="could not compile .* with Cython"):
        nc.Simulator(net, backend="cython")


def test_brian2_objects_do_not_grow_with_cores():
    with nc.Network() as net:
        a = nc.Population(3000, bias_mant=1)
        nc.Projection(a, a, np.eye(3000, dtype=int)[:, ::-1] * 2)
    many = nc.compile_network(net)
    for p in net.populations:
        p.block_size = 10
    more = nc.compile_network(net)
    assert (many.n_cores, more.n_cores) == (3, 300)
    counts = []
    for prog in (many, more):
        with nc.Simulator(prog, backend="numpy") as sim:
            counts.append(len(sim._backend.net.objects))
    assert counts[0] == counts[1]
