"""The `neurochip` entry point, driven as users drive it (a subprocess running the module)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

NETWORK = textwrap.dedent(
    """
    import numpy as np
    import neurochip as nc

    rng = np.random.default_rng(1)
    with nc.Network("cli") as network:
        inp = nc.SpikeInput(20, raster=rng.random((40, 20)) < 0.2, name="in")
        pop = nc.Population(300, du=400, dv=300, vth_mant=60, name="pop", block_size=100)
        nc.Projection(inp, pop, rng.integers(0, 40, (300, 20)), name="w")
        nc.Projection(pop, pop, rng.integers(-10, 12, (300, 300)) * (rng.random((300, 300)) < 0.05), delay=2)
        nc.Probe(pop, "spikes", name="spikes")
    """
)


def cli(*args, cwd=None, check=True):
    p = subprocess.run(
        [sys.executable, "-m", "neurochip", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def netfile(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NETWORK)
    return path


def test_help_does_not_import_brian2_or_the_compiler():
    code = (
        "import sys, contextlib, io\n"
        "from neurochip.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "assert 'demo' in out.getvalue() and 'inspect' in out.getvalue()\n"
        "print(sorted(m for m in ('brian2', 'scipy', 'h5py', 'neurochip.compiler') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_info_lists_boards_and_limits():
    d = json.loads(cli("info", "--json").stdout)
    assert d["boards"]["pohoiki-springs"]["chips"] == 768
    assert d["boards"]["hala-point"]["chips"] == 1152
    assert d["presets"]["loihi1"]["core_limits"]["compartments"] == 1024


def test_compile_run_inspect(netfile, tmp_path):
    d = json.loads(cli("compile", netfile, "--json", "-o", tmp_path / "p.h5").stdout)
    assert d["cores"] == 3 and d["compartments"] == 300
    text = cli("compile", netfile, "--rows", "2").stdout
    assert "ChipProgram" in text and "synapse_bits" in text
    r = json.loads(cli("run", netfile, "--steps", 40, "--router", "--json", "-o", tmp_path / "r.h5").stdout)
    assert r["steps"] == 40 and r["spikes"] > 0 and r["router"]["messages"] > 0
    # the saved program runs to the same spikes as the network file
    r2 = json.loads(cli("run", tmp_path / "p.h5", "--steps", 40, "--json", "-o", tmp_path / "r2.h5").stdout)
    assert r2["spike_counts"] == r["spike_counts"]
    # and as the Python API
    import neurochip as nc

    with nc.Simulator(nc.ChipProgram.load(tmp_path / "p.h5"), backend="numpy") as sim:
        sim.run(40)
        assert int(sim.results.total_spikes) == r["spikes"]
    i = json.loads(cli("inspect", tmp_path / "r.h5", "--json").stdout)
    assert i["spikes"] == r["spikes"] and i["router"]["messages"] == r["router"]["messages"]
    assert "router:" in cli("inspect", tmp_path / "r.h5").stdout
    assert json.loads(cli("inspect", tmp_path / "p.h5", "--json").stdout)["kind"] == "chip_program"


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "missing.py", "--steps", "3"), "missing.py: no such file"),
        (("compile", "{bad}"), "bad.py:3: ZeroDivisionError"),
        (("compile", "{empty}"), "defines no Network"),
        (("compile", "{net}", "--board", "nowhere"), "'nowhere' is not one of"),
        (("compile", "{huge}", "--board", "loihi1"), "needs"),
        (("inspect", "{bad}"), "not a readable HDF5 file"),
        (("demo", "mnist", "--mode", "learn"), "mode 'learn' is not available"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, netfile, args, message):
    files = {"bad": tmp_path / "bad.py", "empty": tmp_path / "empty.py", "net": netfile}
    files["bad"].write_text("import neurochip\n\nx = 1 / 0\n")
    files["empty"].write_text("x = 1\n")
    files["huge"] = tmp_path / "huge.py"
    files["huge"].write_text(
        "import neurochip as nc\nwith nc.Network() as network:\n    nc.Population(200000)\n"
    )
    p = cli(*(a.format(**files) for a in args), check=False)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurochip: error:") and message in lines[0], p.stderr


def test_bad_arguments_exit_2():
    p = cli("run", check=False)
    assert p.returncode == 2 and "required" in p.stderr


def test_demo_json_has_accuracy(tmp_path):
    pytest.importorskip("sklearn")
    d = json.loads(cli("demo", "digits", "--limit", "80", "--json", "-o", tmp_path / "d.h5").stdout)
    assert d["test_samples"] == 80 and d["accuracy"] >= 0.85
    assert np.array(d["confusion"]).sum() == 80
    text = cli("inspect", d["results_file"]).stdout
    assert "demo digits (convert): accuracy" in text


@pytest.mark.mpi
def test_run_over_mpi_from_the_cli(netfile, tmp_path):
    pytest.importorskip("mpi4py")
    cli("compile", netfile, "--chips", "2", "--allocator", "roundrobin", "-o", tmp_path / "p2.h5")
    one = json.loads(cli("run", tmp_path / "p2.h5", "--steps", 40, "--json", "-o", tmp_path / "a.h5").stdout)
    p = cli("run", tmp_path / "p2.h5", "--steps", 40, "--mpi", 2, "--json", "-o", tmp_path / "b.h5")
    two = json.loads(p.stdout)
    assert two["mpi_ranks"] == 2 and two["spike_counts"] == one["spike_counts"]
    import neurochip as nc

    a, b = nc.Results.load(tmp_path / "a.h5"), nc.Results.load(tmp_path / "b.h5")
    np.testing.assert_array_equal(a["spikes"].steps, b["spikes"].steps)
    np.testing.assert_array_equal(a["spikes"].index, b["spikes"].index)


@pytest.mark.mpi
def test_scale_over_mpi_runs_small_points_on_the_ranks_they_can_use(tmp_path):
    pytest.importorskip("mpi4py")
    args = ("scale", "--mode", "strong", "--chips", "1,2", "--compartments", 2048, "--steps", 30, "--json")
    one = json.loads(cli(*args, "-o", tmp_path / "a.json").stdout)["points"]
    two = json.loads(cli(*args, "--mpi", 2, "-o", tmp_path / "b.json").stdout)["points"]
    assert [p["mpi_ranks"] for p in two] == [1, 2] and [p["mpi_ranks"] for p in one] == [1, 1]
    for a, b in zip(one, two, strict=True):  # the same dynamics and router statistics
        for key in ("chips", "spikes", "modeled_step_us", "max_link_load", "inter_chip_share"):
            assert a[key] == b[key], key
    assert json.loads((tmp_path / "b.json").read_text()) == two


def test_scale_weak_and_strong(tmp_path):
    d = json.loads(
        cli(
            "scale", "--chips", "1,2", "--per-chip", 1024, "--steps", 30, "--json", "-o", tmp_path / "w.json"
        ).stdout
    )
    pts = d["points"]
    assert [p["chips"] for p in pts] == [1, 2] and [p["compartments"] for p in pts] == [1024, 2048]
    assert pts[0]["inter_chip_share"] == 0 and 0 < pts[1]["inter_chip_share"] < 1
    assert all(p["steps_per_s"] > 0 and p["modeled_step_us"] > 0 for p in pts)
    assert json.loads((tmp_path / "w.json").read_text()) == pts
    s = json.loads(
        cli("scale", "--mode", "strong", "--chips", "1,2", "--per-chip", 1024, "--steps", 30, "--mesh", "2x2",
            "--json", "-o", tmp_path / "s.json").stdout
    )["points"]  # fmt: skip
    assert [p["compartments"] for p in s] == [2048, 2048] and s[1]["chips"] == 2 and s[0]["board"] == "2x2"
    assert s[0]["spikes"] == s[1]["spikes"]  # placement never changes the dynamics


def test_run_killed_and_resumed_equals_an_uninterrupted_run(tmp_path):
    """SIGKILL a checkpointing run mid-way; --resume finishes it with bit-identical results."""
    import signal
    import time

    import h5py

    netfile = tmp_path / "long.py"
    netfile.write_text(
        "import neurochip as nc\n"
        "from neurochip.scaling import scaling_network\n"
        "network = scaling_network(3000, local=0.0, seed=3)\n"
        "with network:\n"
        "    nc.Probe(network.populations[0], 'spikes', name='spikes')\n"
    )
    steps, every = 4000, 100
    args = ["run", netfile, "--steps", steps, "--seed", 1, "--backend", "cython"]
    whole = json.loads(cli(*args, "--json", "-o", tmp_path / "whole.h5").stdout)
    ckpt = tmp_path / "part.ckpt.h5"
    cmd = [sys.executable, "-m", "neurochip", *map(str, args), "--checkpoint-every", str(every)]
    cmd += ["-o", str(tmp_path / "part.h5")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "part.h5").exists()
    with h5py.File(ckpt) as f:
        at = int(f.attrs["steps"])
    assert 0 < at < steps and at % every == 0
    resumed = json.loads(
        cli(*args, "--checkpoint-every", every, "--resume", "--json", "-o", tmp_path / "part.h5").stdout
    )
    assert resumed["resumed_from"] >= at and resumed["steps"] == steps
    assert resumed["spikes"] == whole["spikes"] > 0
    import neurochip as nc

    a, b = nc.Results.load(tmp_path / "whole.h5"), nc.Results.load(tmp_path / "part.h5")
    np.testing.assert_array_equal(a["spikes"].steps, b["spikes"].steps)
    np.testing.assert_array_equal(a["spikes"].index, b["spikes"].index)


def test_saved_network_files_run_like_python_ones(netfile, tmp_path):
    import runpy

    net = runpy.run_path(str(netfile))["network"]
    net.save(tmp_path / "net.h5")
    a = json.loads(cli("run", netfile, "--steps", 40, "--json", "-o", tmp_path / "a.h5").stdout)
    b = json.loads(cli("run", tmp_path / "net.h5", "--steps", 40, "--json", "-o", tmp_path / "b.h5").stdout)
    assert a["spike_counts"] == b["spike_counts"] and a["spikes"] > 0
