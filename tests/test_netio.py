"""Networks saved to HDF5 and loaded back: lossless, bit-identical runs, clear errors on bad files."""

import h5py
import numpy as np
import pytest
from netgen import random_network
from neurochip.learning import pair_stdp, reward_stdp

import neurochip as nc
from neurochip.errors import FileFormatError

STEPS = 60


def rich_network(rng):
    """Random populations, inputs and projections (dense, sparse, delays), plastic projections with
    a modulator, and probes of spikes, voltages and weights."""
    net = random_network(rng, n_pops=2, size=(15, 30), steps=STEPS)
    a, b = net.populations
    with net:
        reward = nc.SpikeInput(1, raster=rng.random((STEPS, 1)) < 0.3, name="reward")
        w = rng.integers(-60, 90, (b.n, a.n)) * (rng.random((b.n, a.n)) < 0.4)
        nc.Projection(
            a, b, w, learning_rule=pair_stdp(t_epoch=2), delay=rng.integers(0, 4, (b.n, a.n)), name="ab"
        )
        nc.Projection(
            net.inputs[0],
            a,
            rng.integers(1, 120, (a.n, net.inputs[0].n)),
            learning_rule=reward_stdp(),
            modulators={"y2": reward},
            sign_mode="excitatory",
            num_weight_bits=6,
            name="in_a",
        )
        nc.Probe(net.projections[-1], "weights", sample_every=7, name="w_in_a")
        nc.Probe(b, "v", indices=[0, 3, 5], name="v_b")
    return net


def describe(net):
    """Everything a network is made of, as comparable values."""
    out = {"name": net.name}
    for p in net.populations:
        out[p.name] = (p.n, p.block_size, {r: np.asarray(getattr(p, r)).tolist() for r in p.REGISTER_NAMES})
    for i in net.inputs:
        out[i.name] = (i.n, i.indices.tolist(), i.steps.tolist())
    for p in net.projections:
        rule = None if p.learning_rule is None else p.learning_rule.to_registers()
        out[p.name] = (
            p.pre.name, p.post.name, p.pre_idx.tolist(), p.post_idx.tolist(), p.weights.tolist(),
            np.asarray(p.delays).tolist(), p.weight_exp, p.sign_mode, p.num_weight_bits, rule,
            {t: s.name for t, s in p.modulators.items()},
        )  # fmt: skip
    for p in net.probes:
        out[p.name] = (p.target.name, p.variable, p.indices.tolist(), p.sample_every)
    out["order"] = [o.name for o in net.all_objects]
    return out


def test_network_round_trip_is_lossless_and_runs_bit_identically(tmp_path):
    net = rich_network(np.random.default_rng(11))
    net.save(tmp_path / "net.h5")
    with nc.Network("elsewhere") as outer:  # loading must not add objects to an open network
        back = nc.Network.load(tmp_path / "net.h5")
    assert not outer.all_objects
    assert describe(back) == describe(net)
    back.save(tmp_path / "again.h5")
    assert describe(nc.Network.load(tmp_path / "again.h5")) == describe(net)
    runs = []
    for n in (net, back):
        with nc.Simulator(n, backend="numpy", seed=4) as sim:
            sim.run(STEPS)
            runs.append(sim.results)
    for name in runs[0].probes:
        a, b = runs[0][name], runs[1][name]
        for field in ("steps", "index", "data"):
            if hasattr(a, field):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert runs[0].total_spikes == runs[1].total_spikes > 0


def test_bad_network_files_give_clear_errors(tmp_path):
    net = rich_network(np.random.default_rng(2))
    good = tmp_path / "net.h5"
    net.save(good)
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.h5").write_bytes(np.random.default_rng(0).bytes(4096))
    for bad in ("cut.h5", "noise.h5"):
        with pytest.raises(FileFormatError, match="not a readable HDF5 file|corrupt"):
            nc.Network.load(tmp_path / bad)
    old = tmp_path / "old.h5"
    old.write_bytes(data)
    with h5py.File(old, "r+") as f:
        f.attrs["format_version"] = 0
    with pytest.raises(FileFormatError, match="format version 0; this neurochip reads version 1"):
        nc.Network.load(old)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(data)
    with h5py.File(broken, "r+") as f:
        del f["projections"]["ab"]["weights"]
    with pytest.raises(FileFormatError, match="incomplete or corrupt network file"):
        nc.Network.load(broken)
    invalid = tmp_path / "invalid.h5"
    invalid.write_bytes(data)
    with h5py.File(invalid, "r+") as f:  # a register value no network can hold
        pop = next(iter(f["populations"].values()))
        del pop["du"]
        pop["du"] = 5000
    with pytest.raises(FileFormatError, match="the saved network is invalid .*du"):
        nc.Network.load(invalid)
    prog = nc.compile_network(net)
    prog.save(tmp_path / "prog.h5")
    with pytest.raises(FileFormatError, match="expected a neurochip network file"):
        nc.Network.load(tmp_path / "prog.h5")
