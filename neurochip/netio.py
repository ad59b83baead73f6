"""Networks in HDF5 files: :meth:`Network.save` and :meth:`Network.load`.

The file holds what a :class:`~neurochip.network.Network` is made of, exactly:
every register of every population (one value or one per compartment), the
input spikes, every synapse of every projection in its order (pre, post,
mantissa, delay), projection settings, learning rules as the hardware holds
them (rule texts and integer trace registers) with their modulators, and the
probes. Objects keep their order. A loaded network compiles to the same
program and runs bit-identically. The file carries a kind and format version
(:mod:`neurochip.hdf5io`); another version, another kind, or a truncated or
corrupt file gives a :class:`~neurochip.errors.FileFormatError`.
"""

from __future__ import annotations

import numpy as np

from neurochip.errors import FileFormatError, ValidationError
from neurochip.hdf5io import atomic_write, get_json, open_read, put_json

KIND = "network"
_KINDS = ("populations", "inputs", "projections", "probes")


def _put(group, name: str, value) -> None:
    a = np.asarray(value)
    group.create_dataset(name, data=a, compression="gzip" if a.size > 1024 else None)


def save_network(net, path) -> str:
    """Write ``net`` to ``path`` (atomically); returns the path."""

    def write(f):
        f.attrs["name"] = net.name
        put_json(f, "order", {k: [o.name for o in getattr(net, k)] for k in _KINDS})
        g = f.create_group("populations")
        for p in net.populations:
            h = g.create_group(p.name)
            h.attrs["n"] = p.n
            h.attrs["block_size"] = -1 if p.block_size is None else p.block_size
            for reg in p.REGISTER_NAMES:
                _put(h, reg, np.asarray(getattr(p, reg), np.int64))
        g = f.create_group("inputs")
        for i in net.inputs:
            h = g.create_group(i.name)
            h.attrs["n"] = i.n
            _put(h, "indices", i.indices)
            _put(h, "steps", i.steps)
        g = f.create_group("projections")
        for p in net.projections:
            h = g.create_group(p.name)
            h.attrs["pre"], h.attrs["post"] = p.pre.name, p.post.name
            h.attrs["weight_exp"] = p.weight_exp
            h.attrs["num_weight_bits"] = p.num_weight_bits
            h.attrs["sign_mode"] = "" if p.sign_mode is None else p.sign_mode
            for k in ("pre_idx", "post_idx", "weights"):
                _put(h, k, getattr(p, k))
            _put(h, "delays", p.delays)
            if p.learning_rule is not None:
                put_json(h, "learning_rule", p.learning_rule.to_registers())
                put_json(h, "modulators", {t: src.name for t, src in p.modulators.items()})
        g = f.create_group("probes")
        for p in net.probes:
            h = g.create_group(p.name)
            h.attrs["target"], h.attrs["variable"] = p.target.name, p.variable
            h.attrs["sample_every"] = p.sample_every
            _put(h, "indices", p.indices)

    return str(atomic_write(path, KIND, write))


def load_network(path):
    """The Network saved in ``path``."""
    from neurochip.network import Network

    with open_read(path, KIND) as f:
        order = get_json(f, "order")
        net = Network(str(f.attrs["name"]))
        try:
            with net:  # objects join this network, not one the caller has open
                _build(f, order, net)
        except ValidationError as exc:
            raise FileFormatError(f"{path}: the saved network is invalid ({exc})") from exc
    return net


def _build(f, order, net):
    import scipy.sparse

    from neurochip.learning.rules import LearningRule
    from neurochip.network import Population, Probe, Projection, SpikeInput

    objs = {}
    for name in order["populations"]:
        h = f["populations"][name]
        regs = {reg: h[reg][()] for reg in Population.REGISTER_NAMES}
        block = int(h.attrs["block_size"])
        pop = Population(int(h.attrs["n"]), name=name, block_size=None if block < 0 else block, **regs)
        objs[name] = net.add(pop)
    for name in order["inputs"]:
        h = f["inputs"][name]
        inp = SpikeInput(int(h.attrs["n"]), indices=h["indices"][()], steps=h["steps"][()], name=name)
        objs[name] = net.add(inp)
    for name in order["projections"]:
        h = f["projections"][name]
        pre, post = objs[str(h.attrs["pre"])], objs[str(h.attrs["post"])]
        w = scipy.sparse.coo_matrix(
            (h["weights"][()], (h["post_idx"][()], h["pre_idx"][()])), shape=(post.n, pre.n)
        )
        rule, mods = None, None
        if "learning_rule" in h.attrs:
            rule = LearningRule.from_registers(get_json(h, "learning_rule"))
            mods = {t: objs[src] for t, src in get_json(h, "modulators").items()}
        sign = str(h.attrs["sign_mode"])
        proj = Projection(
            pre,
            post,
            w,
            weight_exp=int(h.attrs["weight_exp"]),
            sign_mode=sign or None,
            num_weight_bits=int(h.attrs["num_weight_bits"]),
            delay=h["delays"][()],
            learning_rule=rule,
            modulators=mods,
            name=name,
        )
        objs[name] = net.add(proj)
    for name in order["probes"]:
        h = f["probes"][name]
        probe = Probe(
            objs[str(h.attrs["target"])],
            str(h.attrs["variable"]),
            indices=h["indices"][()],
            sample_every=int(h.attrs["sample_every"]),
            name=name,
        )
        net.add(probe)
