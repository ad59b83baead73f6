"""Every per-core limit and every register range, with the error text users see."""

import re

import numpy as np
import pytest
import scipy.sparse
from neurochip.cores.fixedpoint import REGISTERS

import neurochip as nc

POPULATION_REGISTERS = [
    "du",
    "dv",
    "ds_offset",
    "dm_offset",
    "vth_mant",
    "bias_mant",
    "bias_exp",
    "refractory",
    "vmin_exp",
    "vmax_exp",
    "u_init",
    "v_init",
]


# ---------------------------------------------------------------- registers
@pytest.mark.parametrize("reg", POPULATION_REGISTERS)
@pytest.mark.parametrize("side", ["low", "high"])
def test_population_register_range(reg, side):
    r = REGISTERS[reg]
    bad = r.low - 1 if side == "low" else r.high + 1
    with pytest.raises(nc.ValidationError) as e:
        nc.Population(4, name="exc", **{reg: bad})
    assert str(e.value) == f"Population 'exc'.{reg}: {bad} is out of range [{r.low}, {r.high}] ({r.meaning})"


def test_per_neuron_register_error_names_the_element():
    with pytest.raises(
        nc.ValidationError,
        match=r"Population 'exc'\.vth_mant\[2\]: 140000 is out of range "
        r"\[0, 131071\] \(17-bit threshold mantissa\)",
    ):
        nc.Population(4, name="exc", vth_mant=[1, 2, 140000, 3])


def test_register_set_later_is_checked():
    p = nc.Population(4, name="exc")
    with pytest.raises(nc.ValidationError, match=r"Population 'exc'\.du: 5000 is out of range"):
        p.du = 5000
    with pytest.raises(nc.ValidationError, match=r"Population 'exc'\.dv: expected a scalar or shape \(4,\)"):
        p.dv = [1, 2]
    with pytest.raises(nc.ValidationError, match=r"Population 'exc'\.vmin_exp: must be a scalar"):
        p.vmin_exp = [1, 2, 3, 4]
    with pytest.raises(nc.ValidationError, match=r"Population 'exc'\.bias_mant\[1\]: 2\.5 is not an integer"):
        p.bias_mant = [1, 2.5, 3, 4]


@pytest.mark.parametrize(
    "param,bad,reg",
    [
        ("weight_exp", 8, "weight_exp"),
        ("weight_exp", -9, "weight_exp"),
        ("num_weight_bits", 0, "num_weight_bits"),
        ("num_weight_bits", 9, "num_weight_bits"),
        ("delay", 63, "delay"),
        ("delay", -1, "delay"),
    ],
)
def test_projection_register_range(param, bad, reg):
    a, b = nc.Population(2, name="a"), nc.Population(3, name="b")
    r = REGISTERS[reg]
    with pytest.raises(nc.ValidationError) as e:
        nc.Projection(a, b, np.ones((3, 2), int), name="ab", **{param: bad})
    assert str(e.value) == f"Projection 'ab'.{param}: {bad} is out of range [{r.low}, {r.high}] ({r.meaning})"


def test_per_synapse_delay_error_names_the_synapse():
    a, b = nc.Population(2, name="a"), nc.Population(3, name="b")
    d = np.zeros((3, 2), int)
    d[1, 1] = 70
    with pytest.raises(
        nc.ValidationError, match=r"Projection 'ab'\.delay\[3\]: 70 is out of range \[0, 62\]"
    ):
        nc.Projection(a, b, np.ones((3, 2), int), delay=d, name="ab")


def test_projection_shape_and_sign_mode_errors():
    a, b = nc.Population(2, name="a"), nc.Population(3, name="b")
    with pytest.raises(
        nc.ValidationError, match=r"Projection 'x'\.weights: expected shape \(3, 2\) \(post, pre\)"
    ):
        nc.Projection(a, b, np.ones((2, 3), int), name="x")
    with pytest.raises(nc.ValidationError, match=r"Projection 'x'\.sign_mode: 'positive' is not one of"):
        nc.Projection(a, b, np.ones((3, 2), int), sign_mode="positive", name="x")
    with pytest.raises(nc.ValidationError, match=r"Projection 'x'\.weights\[0\]: 0\.5 is not an integer"):
        nc.Projection(a, b, np.full((3, 2), 0.5), name="x")


def test_spike_input_errors():
    with pytest.raises(
        nc.ValidationError, match=r"SpikeInput 'in'\.indices\[1\]: 5 is out of range \[0, 3\]"
    ):
        nc.SpikeInput(4, indices=[0, 5], steps=[1, 2], name="in")
    with pytest.raises(nc.ValidationError, match=r"SpikeInput 'in'\.steps\[0\]: 0 is out of range \[1, "):
        nc.SpikeInput(4, indices=[0], steps=[0], name="in")
    with pytest.raises(nc.ValidationError, match=r"SpikeInput 'in': channel 1 spikes twice in step 3"):
        nc.SpikeInput(4, indices=[1, 1], steps=[3, 3], name="in")


# ------------------------------------------------------------------- limits
def input_to(n_sources, n_targets, synapses_per_pair=1, name="in"):
    """An input of n_sources channels, every channel to every target."""
    inp = nc.SpikeInput(n_sources, name=name)
    rows = np.repeat(np.arange(n_targets), n_sources * synapses_per_pair)
    cols = np.tile(np.repeat(np.arange(n_sources), synapses_per_pair), n_targets)
    return inp, scipy.sparse.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n_targets, n_sources))


def test_limit_compartments_and_chips():
    with nc.Network() as net:
        nc.Population(128 * 1024 + 1, name="big")
    with pytest.raises(nc.ResourceError) as e:
        nc.compile_network(net, chips=1)
    assert str(e.value) == (
        "placement: the network needs 129 cores (2 chips of 128 cores); 1 chip(s) provide 128 cores "
        "('big' is split into 129 blocks by compartments (limit 1024 per core))"
    )
    assert nc.compile_network(net, chips=2).n_cores == 129


def test_limit_in_axons_single_compartment():
    with nc.Network() as net:
        post = nc.Population(1, name="post")
        inp, w = input_to(5000, 1)
        nc.Projection(inp, post, w)
    with pytest.raises(nc.ResourceError) as e:
        nc.compile_network(net)
    assert str(e.value) == (
        "Population 'post': a single compartment needs 5000 in axons on its core; the limit is 4096"
    )


def test_limit_in_axons_splits_population():
    rng = np.random.default_rng(0)
    with nc.Network() as net:
        post = nc.Population(100, name="post")
        inp = nc.SpikeInput(10000, name="in")
        cols = rng.permutation(10000)
        w = scipy.sparse.coo_matrix((np.ones(10000), (np.arange(10000) // 100, cols)), shape=(100, 10000))
        nc.Projection(inp, post, w)
    prog = nc.compile_network(net)
    use = prog.resources.usage
    assert prog.n_cores >= 3 and use["in_axons"].max() <= 4096 and use["in_axons"].sum() == 10000


def test_limit_out_axons():
    with nc.Network() as net:
        pre = nc.Population(1, name="pre")
        post = nc.Population(4100, block_size=1, name="post")
        nc.Projection(pre, post, np.ones((4100, 1), int))
    with pytest.raises(nc.ResourceError) as e:
        nc.compile_network(net)
    assert str(e.value) == (
        "Population 'pre': a single compartment needs 4100 out axons on its core; the limit is 4096"
    )


def test_limit_out_axons_splits_source_population():
    with nc.Network() as net:
        pre = nc.Population(4, name="pre")
        post = nc.Population(1500, block_size=1, name="post")
        nc.Projection(pre, post, np.ones((1500, 4), int))
    prog = nc.compile_network(net)
    pre_cores = np.unique(prog.compartment_core()[prog.population("pre").cx])
    assert pre_cores.size == 2
    assert prog.resources.usage["out_axons"].max() == 3000


def test_limit_synapse_memory():
    with nc.Network() as net:
        post = nc.Population(1, name="post")
        inp, w = input_to(1, 1, synapses_per_pair=60000)
        nc.Projection(inp, post, w)
    with pytest.raises(nc.ResourceError) as e:
        nc.compile_network(net)
    # 60000 synapses of 8 weight + 10 index bits in runs of 64 with a 10-bit header:
    # 937 full runs of ceil((10 + 64 * 18) / 64) = 19 words, one run of 32: ceil(586 / 64) = 10 words
    bits = (937 * 19 + 10) * 64
    assert str(e.value) == (
        f"Population 'post': a single compartment needs {bits} synapse bits on its core; the limit is 1048576"
    )


def test_limit_synapse_memory_splits_population():
    with nc.Network() as net:
        a = nc.Population(1024, name="a")
        b = nc.Population(1024, name="b")
        nc.Projection(a, b, np.ones((1024, 1024), int))
    prog = nc.compile_network(net)
    bits = prog.resources.usage["synapse_bits"]
    assert bits.max() <= 1048576
    assert np.unique(prog.compartment_core()[prog.population("b").cx]).size >= 19


def test_limit_profiles():
    with nc.Network() as net:
        nc.Population(64, vth_mant=np.arange(64), name="varied")
    prog = nc.compile_network(net)
    assert prog.n_cores == 2 and prog.resources.usage["profiles"].tolist() == [32, 32]
    with pytest.raises(
        nc.ResourceError,
        match=re.escape(
            "placement: the network needs 2 cores (2 chips of 1 cores); 1 chip(s) provide 1 cores "
            "('varied' is split into 2 blocks by profiles (limit 32 per core))"
        ),
    ):
        nc.compile_network(net, chips=1, allocator=nc.Greedy(cores_per_chip=1))


def test_limit_formats():
    with nc.Network() as net:
        post = nc.Population(1, name="post")
        for k in range(17):  # 17 distinct (weight exponent, precision) formats
            src = nc.Population(1, name=f"src{k}")
            nc.Projection(
                src,
                post,
                np.ones((1, 1), int),
                weight_exp=k % 16 - 8,
                num_weight_bits=8 - k // 16,
                name=f"f{k}",
            )
    with pytest.raises(nc.ResourceError) as e:
        nc.compile_network(net)
    assert str(e.value) == (
        "Population 'post': a single compartment needs 17 formats on its core; the limit is 16"
    )


def test_voltage_bounds_are_per_core():
    with nc.Network() as net:
        nc.Population(10, vmax_exp=3, name="a")
        nc.Population(10, vmax_exp=4, name="b")
        nc.Population(10, vmax_exp=3, name="c")
    prog = nc.compile_network(net)
    # Greedy fills cores in order and never goes back: a | b | c
    assert prog.core_vmax_exp.tolist() == [3, 4, 3]
    assert prog.resources.usage["compartments"].tolist() == [10, 10, 10]


def test_report_mode_records_instead_of_failing():
    with nc.Network() as net:
        post = nc.Population(1, name="post")
        inp, w = input_to(5000, 1)
        nc.Projection(inp, post, w)
    prog = nc.compile_network(net, limits="report")
    assert prog.resources.usage["in_axons"].tolist() == [5000]
    assert prog.notes == [
        "limit exceeded (report mode): in axons on 1 of 1 cores, worst 5000 > 4096 (chip 0 core 0); "
        "real Loihi 1 could not hold this placement"
    ]
    assert prog.resources.violations() == [(0, 0, "in_axons", 5000, 4096)]


def test_bad_compile_options():
    with nc.Network() as net:
        nc.Population(3)
    with pytest.raises(nc.ValidationError, match=r"compile_network\.limits: 'loose' is not one of"):
        nc.compile_network(net, limits="loose")
    with pytest.raises(nc.ValidationError, match=r"allocator: 'best' is not an Allocator or one of"):
        nc.compile_network(net, allocator="best")
    with pytest.raises(nc.ValidationError, match=r"preset: 'loihi9' is not one of"):
        nc.compile_network(net, preset="loihi9")
    with pytest.raises(nc.ValidationError, match=r"compile_network\.chips: 0 must be a positive integer"):
        nc.compile_network(net, chips=0)
