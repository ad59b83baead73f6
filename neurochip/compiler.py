"""Compile a :class:`Network` into a :class:`ChipProgram`.

validate -> discretize -> split populations into blocks -> place blocks on
cores and chips -> build compartment, synapse and routing tables -> resource
report. Everything runs as array operations over all synapses at once.

Limits (``limits=``):

``"enforce"`` (default)
    Populations are split until every block fits a core on its own, blocks are
    packed only while the core's figures stay within every limit, and a
    network that cannot be placed fails with an error naming the resource,
    the amount needed and the limit.
``"report"``
    Compartments, profiles, formats and per-core voltage bounds are still
    enforced (they describe what a core can hold at all); input axons, output
    axons and synapse memory are counted and every excess is recorded in the
    program's notes and resource report instead of failing. Use it to simulate
    a network that real Loihi 1 could not hold, and see by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.allocators import Block, CoreFill, TrafficAware, get_allocator
from neurochip.cores.fixedpoint import SIGN_MODES as _SIGN_MODES
from neurochip.cores.fixedpoint import resolve_sign_mode
from neurochip.cores.resources import (
    CAPACITY_RESOURCES,
    CoreLimits,
    ResourceReport,
    bits_per_synapse,
    synapse_bits_per_core,
    synapse_list_bits,
)
from neurochip.cores.synapse import SIGN_MODE_CODE, SynapseFormat, delay_bits, encode_weights
from neurochip.errors import ResourceError, ValidationError
from neurochip.network import Network, Population, SpikeInput
from neurochip.presets import board_spec, get_board, get_preset
from neurochip.program import ChipProgram, InputMap, LearningMap, PopulationMap, ProbeSpec, ProjectionMap
from neurochip.routing.topology import mesh_board

LIMIT_MODES = ("enforce", "report")
PROFILE_REGISTERS = ("du", "dv", "ds_offset", "dm_offset", "refractory", "vth_mant")


def compile_network(
    network: Network,
    *,
    chips: int | None = None,
    board=None,
    allocator="greedy",
    preset="loihi1",
    limits: str = "enforce",
) -> ChipProgram:
    """Compile ``network`` onto a board of ``preset`` chips.

    ``board`` is a board name (``"nahuku"``, ``"pohoiki-springs"``, ...) or a
    :class:`~neurochip.routing.topology.BoardSpec`; ``chips=n`` alone means a
    row of n chips; neither means as many chips as the placement needs.
    """
    if limits not in LIMIT_MODES:
        raise ValidationError(f"compile_network.limits: {limits!r} is not one of {LIMIT_MODES}")
    if chips is not None and (isinstance(chips, bool) or not isinstance(chips, int) or chips < 1):
        raise ValidationError(f"compile_network.chips: {chips!r} must be a positive integer or None")
    if board is not None and preset == "loihi1":  # the default follows the board's chips
        preset = board_spec(board).chip.name
    preset = get_preset(preset)
    board = get_board(board, chips, preset)
    chips = board.n_chips if board is not None else None
    alloc = get_allocator(allocator)
    _validate(network)
    flat = _discretize(network)
    blocks = _split(network, flat, preset.core, limits == "enforce")
    enforce = limits == "enforce"
    traffic = _block_traffic(flat, blocks) if isinstance(alloc, TrafficAware) else None
    placement = alloc.place(
        blocks, chips, preset.cores_per_chip, lambda: CoreFill(preset.core, enforce), traffic
    )
    return _build(network, flat, blocks, placement, preset, alloc, limits, board)


# ------------------------------------------------------------------ validate


def _validate(net: Network) -> None:
    if not isinstance(net, Network):
        raise ValidationError(f"compile_network: expected a Network, got {net!r}")
    if not net.populations:
        raise ValidationError(f"Network {net.name!r}: has no populations")
    members = {id(o) for o in net.all_objects}
    for proj in net.projections:
        for end in ("pre", "post"):
            obj = getattr(proj, end)
            if id(obj) not in members:
                raise ValidationError(f"{proj.label}.{end}: {obj.label} is not in Network {net.name!r}")
    for proj in net.projections:
        for trace, src in proj.modulators.items():
            if id(src) not in members:
                raise ValidationError(
                    f"{proj.label}.modulators[{trace!r}]: {src.label} is not in Network {net.name!r}"
                )
    for probe in net.probes:
        if id(probe.target) not in members:
            raise ValidationError(
                f"{probe.label}.target: {probe.target.label} is not in Network {net.name!r}"
            )


# ---------------------------------------------------------------- discretize


@dataclass
class _Flat:
    """The network as flat integer arrays over neurons ("nid") and synapses."""

    pop_start: np.ndarray  # nid range of each population
    n_neurons: int
    inp_start: np.ndarray  # input channel range of each SpikeInput
    regs: dict[str, np.ndarray]  # per neuron
    profile_id: np.ndarray  # per neuron, network-level profile
    n_profiles: int
    pop_core_regs: list[tuple[int, int]]
    # synapses, in projection order
    src: np.ndarray  # source id: nid, or n_neurons + input channel
    tgt: np.ndarray  # target nid
    weight: np.ndarray  # stored mantissa
    delay: np.ndarray
    fmt: np.ndarray  # network-level format id
    formats: list[SynapseFormat]
    proj_start: np.ndarray
    weight_reports: list


def _discretize(net: Network) -> _Flat:
    pops, inputs = net.populations, net.inputs
    pop_start = np.cumsum([0] + [p.n for p in pops])
    inp_start = np.cumsum([0] + [i.n for i in inputs])
    n = int(pop_start[-1])
    regs = {
        r: np.concatenate([p.register_array(r) for p in pops])
        for r in Population.REGISTER_NAMES
        if r not in ("vmin_exp", "vmax_exp")
    }
    rows = np.stack([regs[r] for r in PROFILE_REGISTERS], axis=1)
    _, profile_id = np.unique(rows, axis=0, return_inverse=True)
    profile_id = profile_id.reshape(-1).astype(np.int64)

    pop_index = {id(p): k for k, p in enumerate(pops)}
    inp_index = {id(i): k for k, i in enumerate(inputs)}
    fmt_ids: dict[tuple, int] = {}
    formats: list[SynapseFormat] = []
    parts = {k: [] for k in ("src", "tgt", "weight", "delay", "fmt")}
    reports = []
    for proj in net.projections:
        mode = proj.sign_mode or resolve_sign_mode(proj.weights)
        stored, rep = encode_weights(proj.name, proj.weights, mode, proj.num_weight_bits)
        reports.append(rep)
        d = proj.delay_array()
        # a delay-learning projection needs the full 6-bit delay field
        dbits = delay_bits(62 if proj.learning_rule and "dd" in proj.learning_rule.sums else d.max(initial=0))
        f = SynapseFormat(mode, proj.num_weight_bits, proj.weight_exp, dbits, proj.learning_rule is not None)
        if f.key() not in fmt_ids:
            fmt_ids[f.key()] = len(formats)
            formats.append(f)
        if isinstance(proj.pre, SpikeInput):
            src = n + inp_start[inp_index[id(proj.pre)]] + proj.pre_idx
        else:
            src = pop_start[pop_index[id(proj.pre)]] + proj.pre_idx
        parts["src"].append(np.asarray(src, np.int64))
        parts["tgt"].append(pop_start[pop_index[id(proj.post)]] + proj.post_idx)
        parts["weight"].append(stored)
        parts["delay"].append(d)
        parts["fmt"].append(np.full(proj.n_synapses, fmt_ids[f.key()], np.int64))
    cat = {
        k: (np.concatenate(v) if v else np.zeros(0)).astype(np.int64, copy=False) for k, v in parts.items()
    }
    return _Flat(
        pop_start=pop_start,
        n_neurons=n,
        inp_start=inp_start,
        regs=regs,
        profile_id=profile_id,
        n_profiles=int(profile_id.max(initial=-1)) + 1,
        pop_core_regs=[(int(p.vmin_exp), int(p.vmax_exp)) for p in pops],
        formats=formats,
        proj_start=np.cumsum([0] + [p.n_synapses for p in net.projections]),
        weight_reports=reports,
        **cat,
    )


# --------------------------------------------------------------------- split


def _format_bits(flat: _Flat) -> np.ndarray:
    return np.array(
        [int(bits_per_synapse(f.num_weight_bits, f.delay_bits, f.learning)) for f in flat.formats] or [0],
        np.int64,
    )


def _per_chunk_distinct(chunk: np.ndarray, key: np.ndarray, n_chunks: int) -> np.ndarray:
    """Number of distinct ``key`` values in each chunk."""
    if chunk.size == 0:
        return np.zeros(n_chunks, np.int64)
    pairs = np.unique(chunk * (int(key.max()) + 1) + key)
    return np.bincount(pairs // (int(key.max()) + 1), minlength=n_chunks)


class _SortedRuns:
    """Synapses sorted by some keys, then target; counts distinct (chunk, keys) pairs in O(n).

    Chunks are ranges of consecutive targets, so in this order a chunk index
    never decreases within a run of equal keys: a new (chunk, keys) pair starts
    wherever the keys or the chunk change. Sorting once makes every trial block
    size of the splitter linear instead of a sort.
    """

    def __init__(self, tgt: np.ndarray, *keys: np.ndarray):
        order = np.lexsort((tgt, *keys[::-1]))
        self.tgt = tgt[order]
        self.new_key = np.zeros(order.size, bool)
        if order.size:
            self.new_key[0] = True
            for key in keys:
                k = key[order]
                self.new_key[1:] |= k[1:] != k[:-1]
        self.keys = [key[order] for key in keys]

    def starts(self, chunk: np.ndarray) -> np.ndarray:
        """Positions where a new (chunk, keys) pair starts, for ``chunk`` of each sorted synapse."""
        new = self.new_key.copy()
        new[1:] |= chunk[1:] != chunk[:-1]
        return np.flatnonzero(new)

    def distinct(self, offset: int, size: int, n_chunks: int) -> np.ndarray:
        """Distinct key values per chunk of ``size`` targets counted from ``offset``."""
        chunk = (self.tgt - offset) // size
        return np.bincount(chunk[self.starts(chunk)], minlength=n_chunks)


def _list_bits(runs: _SortedRuns, offset: int, size: int, fmt_bits, n_chunks) -> np.ndarray:
    """Synapse memory per chunk: synapse lists grouped by (chunk, source axon, format)."""
    if runs.tgt.size == 0:
        return np.zeros(n_chunks, np.int64)
    chunk = (runs.tgt - offset) // size
    first = runs.starts(chunk)
    counts = np.diff(np.r_[first, runs.tgt.size])
    bits = synapse_list_bits(counts, fmt_bits[runs.keys[1][first]])
    return np.bincount(chunk[first], weights=bits, minlength=n_chunks).astype(np.int64)


def _partition(labels: np.ndarray, n: int) -> list[np.ndarray]:
    """Indices of the elements with each label 0..n-1, in their original order."""
    small = np.uint16 if n <= np.iinfo(np.uint16).max else np.int64  # radix sort for 16-bit keys
    order = np.argsort(labels.astype(small), kind="stable")
    return np.split(order, np.cumsum(np.bincount(labels, minlength=n))[:-1])


class _Splitter:
    """Finds, per population, the largest block size that fits a core."""

    def __init__(self, net: Network, flat: _Flat, limits: CoreLimits, enforce: bool):
        self.net, self.flat, self.limits, self.enforce = net, flat, limits, enforce
        self.fmt_bits = _format_bits(flat)
        n_pops = len(net.populations)
        self.pop_of_nid = np.repeat(np.arange(n_pops), np.diff(flat.pop_start))
        # synapses by target population (and, for output axons, by source population)
        self.in_syn = _partition(self.pop_of_nid[flat.tgt], n_pops)
        if enforce:
            from_neuron = flat.src < flat.n_neurons  # inputs are not split
            src_pop = np.where(from_neuron, self.pop_of_nid[np.where(from_neuron, flat.src, 0)], n_pops)
            self.out_syn = _partition(src_pop, n_pops + 1)[:n_pops]
        self._runs: dict = {}
        self.split_by = {
            k: (
                "block_size"
                if p.block_size and p.block_size < min(limits.compartments, p.n)
                else f"compartments (limit {limits.compartments} per core)"
            )
            for k, p in enumerate(net.populations)
        }

    def usage(self, k: int, size: int, sizes: list[int]) -> dict[str, np.ndarray]:
        """Per-chunk resource use of population ``k`` cut into chunks of ``size``."""
        f, start, n = self.flat, int(self.flat.pop_start[k]), self.net.populations[k].n
        n_chunks = -(-n // size)
        local = np.arange(n)
        use = {
            "compartments": np.bincount(local // size, minlength=n_chunks),
            "profiles": _per_chunk_distinct(local // size, f.profile_id[start : start + n], n_chunks),
        }
        use["formats"] = self.runs("fmt", k).distinct(start, size, n_chunks)
        if self.enforce:
            use["in_axons"] = self.runs("src", k).distinct(start, size, n_chunks)
            use["synapse_bits"] = _list_bits(self.runs("src_fmt", k), start, size, self.fmt_bits, n_chunks)
            use["out_axons"] = self._out_axons(k, size, sizes)
        return use

    def runs(self, what: str, k: int) -> _SortedRuns:
        """Population ``k``'s synapses sorted for counting per chunk (built once)."""
        key = (what, k)
        if key not in self._runs:
            f = self.flat
            if what == "out":
                syn = self.out_syn[k]
                self._runs[key] = _SortedRuns(f.tgt[syn], f.src[syn])
            else:
                syn = self.in_syn[k]
                keys = {"fmt": (f.fmt,), "src": (f.src,), "src_fmt": (f.src, f.fmt)}[what]
                self._runs[key] = _SortedRuns(f.tgt[syn], *(a[syn] for a in keys))
        return self._runs[key]

    def _out_axons(self, k: int, size: int, sizes: list[int]) -> np.ndarray:
        """Per chunk: sum over its neurons of distinct target blocks (>= distinct target cores)."""
        f = self.flat
        start, n = int(f.pop_start[k]), self.net.populations[k].n
        n_chunks = -(-n // size)
        if self.out_syn[k].size == 0:
            return np.zeros(n_chunks, np.int64)
        runs = self.runs("out", k)  # by source neuron, then target: target blocks never decrease
        sz = np.array(sizes, np.int64)
        sz[k] = size
        block_start = np.cumsum([0] + [-(-p.n // s) for p, s in zip(self.net.populations, sz, strict=True)])
        tpop = self.pop_of_nid[runs.tgt]
        tblock = block_start[tpop] + (runs.tgt - f.pop_start[tpop]) // sz[tpop]
        first = runs.starts(tblock)
        per_neuron = np.bincount(runs.keys[0][first] - start, minlength=n)
        return np.bincount(np.arange(n) // size, weights=per_neuron, minlength=n_chunks).astype(np.int64)

    def excess(self, k: int, size: int, sizes: list[int]):
        """The first (resource, amount, limit) a chunk exceeds, or None."""
        for r, use in self.usage(k, size, sizes).items():
            lim = getattr(self.limits, r)
            if use.max(initial=0) > lim:
                return r, int(use.max()), lim
        return None

    def largest_fit(self, k: int, cap: int, sizes: list[int]) -> int:
        """Largest block size <= cap whose blocks all fit a core; notes what bound it."""
        first = self.excess(k, cap, sizes)
        if first is None:
            return cap
        self.split_by[k] = f"{first[0].replace('_', ' ')} (limit {first[2]} per core)"
        bad = self.excess(k, 1, sizes)
        if bad is not None:
            pop = self.net.populations[k]
            r, amount, lim = bad
            raise ResourceError(
                f"{pop.label}: a single compartment needs {amount} {r.replace('_', ' ')} "
                f"on its core; the limit is {lim}"
            )
        lo, hi = 1, cap  # lo fits, hi does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.excess(k, mid, sizes) is None:
                lo = mid
            else:
                hi = mid
        return lo


def _split(net: Network, flat: _Flat, limits: CoreLimits, enforce: bool) -> list[Block]:
    sp = _Splitter(net, flat, limits, enforce)
    caps = [min(limits.compartments, p.block_size or limits.compartments, p.n) for p in net.populations]
    sizes = list(caps)
    for _ in range(64):  # sizes only shrink, so this settles
        changed = False
        for k in range(len(sizes)):
            s = sp.largest_fit(k, sizes[k], sizes)
            # equal chunks balance the cores when they fit as well
            even = -(-net.populations[k].n // -(-net.populations[k].n // s))
            if even != s and sp.excess(k, even, sizes) is None:
                s = even
            if s != sizes[k]:
                sizes[k], changed = s, True
        if not changed:
            break
    return _blocks(net, flat, sp, sizes)


def _blocks(net, flat, sp: _Splitter, sizes) -> list[Block]:
    blocks = []
    for k, (pop, size) in enumerate(zip(net.populations, sizes, strict=True)):
        start = int(flat.pop_start[k])
        use = sp.usage(k, size, sizes) if sp.enforce else None
        syn = sp.in_syn[k]
        chunk_of_syn = (flat.tgt[syn] - start) // size
        order = np.argsort(chunk_of_syn, kind="stable")
        bounds = np.searchsorted(chunk_of_syn[order], np.arange(-(-pop.n // size) + 1))
        for c, a in enumerate(range(0, pop.n, size)):
            b = min(a + size, pop.n)
            s = syn[order[bounds[c] : bounds[c + 1]]]
            blocks.append(
                Block(
                    population=pop.name,
                    pop_index=k,
                    start=a,
                    stop=b,
                    core_regs=flat.pop_core_regs[k],
                    profiles=np.unique(flat.profile_id[start + a : start + b]),
                    formats=np.unique(flat.fmt[s]),
                    in_sources=np.unique(flat.src[s]) if sp.enforce else None,
                    synapse_bits=int(use["synapse_bits"][c]) if use else 0,
                    out_axons=int(use["out_axons"][c]) if use else 0,
                    split_by=sp.split_by[k],
                )
            )
    return blocks


def _block_traffic(flat: _Flat, blocks):
    """Messages per step between blocks if every neuron spiked: distinct (source, target block) pairs."""
    import scipy.sparse

    block_of = np.full(flat.n_neurons, -1, np.int64)
    for k, b in enumerate(blocks):
        s = int(flat.pop_start[b.pop_index])
        block_of[s + b.start : s + b.stop] = k
    from_neuron = flat.src < flat.n_neurons
    src, tgt = flat.src[from_neuron], flat.tgt[from_neuron]
    n = len(blocks)
    pairs = np.unique(src * n + block_of[tgt])
    sb, tb = block_of[pairs // n], pairs % n
    return scipy.sparse.csr_matrix((np.ones(pairs.size), (sb, tb)), shape=(n, n))


# --------------------------------------------------------------------- build


def _group_ranks(sorted_keys: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Rank of each element within its group (keys sorted, groups contiguous)."""
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, group.size]))
    return np.arange(group.size) - starts


def _build(net, flat: _Flat, blocks, placement, preset, alloc, limit_mode, board) -> ChipProgram:
    limits = preset.core
    # cores in (chip, core) order; compartments in block order within a core
    chip_core = np.array(placement, np.int64).reshape(-1, 2)
    core_key = chip_core[:, 0] * preset.cores_per_chip + chip_core[:, 1]
    used_keys, block_core = np.unique(core_key, return_inverse=True)
    n_cores = used_keys.size
    order = np.lexsort((np.arange(len(blocks)), block_core))
    sizes = np.array([b.n for b in blocks], np.int64)
    cx_of_nid = np.empty(flat.n_neurons, np.int64)
    pos = 0
    for bi in order:
        b = blocks[bi]
        s = int(flat.pop_start[b.pop_index])
        cx_of_nid[s + b.start : s + b.stop] = np.arange(pos, pos + b.n)
        pos += b.n
    core_cx_start = np.r_[0, np.cumsum(np.bincount(block_core, weights=sizes, minlength=n_cores))].astype(
        np.int64
    )
    n_cx = int(core_cx_start[-1])
    nid_of_cx = np.empty(n_cx, np.int64)
    nid_of_cx[cx_of_nid] = np.arange(flat.n_neurons)
    cx_core = np.repeat(np.arange(n_cores), np.diff(core_cx_start))
    core_regs = np.zeros((n_cores, 2), np.int64)
    for bi, b in enumerate(blocks):
        core_regs[block_core[bi]] = b.core_regs

    # profiles: (core, network profile) -> row
    prof_key = cx_core * max(flat.n_profiles, 1) + flat.profile_id[nid_of_cx]
    prof_rows, cx_profile = np.unique(prof_key, return_inverse=True)
    prof_core = prof_rows // max(flat.n_profiles, 1)
    prof_nid = np.zeros(prof_rows.size, np.int64)
    prof_nid[cx_profile] = nid_of_cx  # any neuron with that profile
    # sources: compartments by global cx id, then input channels
    gsrc = np.where(
        flat.src < flat.n_neurons,
        cx_of_nid[np.minimum(flat.src, max(flat.n_neurons - 1, 0))],
        n_cx + flat.src - flat.n_neurons,
    )
    n_src = n_cx + int(flat.inp_start[-1])
    tgt_cx = cx_of_nid[flat.tgt]
    dcore = cx_core[tgt_cx]
    # One sort orders the synapses by (destination core, source, format, target):
    # input axons (one per destination core and source), their synapse lists,
    # the per-format runs of each list and the target order all follow from it.
    nf = max(len(flat.formats), 1)
    cx_bits = int(max(limits.compartments - 1, 1)).bit_length()
    axon_key = dcore * n_src + gsrc
    local_cx = tgt_cx - core_cx_start[dcore]
    if n_cores * n_src * nf < 2 ** (62 - cx_bits):
        syn_order = np.argsort(((axon_key * nf + flat.fmt) << cx_bits) | local_cx, kind="stable")
    else:  # a key this wide would overflow int64
        syn_order = np.lexsort((local_cx, flat.fmt, axon_key))
    skey = axon_key[syn_order]
    sfmt = flat.fmt[syn_order]
    n_syn = skey.size
    new_axon = np.r_[True, skey[1:] != skey[:-1]] if n_syn else np.zeros(0, bool)
    axon_first = np.flatnonzero(new_axon)
    axon_keys = skey[axon_first]
    axon_core = axon_keys // n_src
    axon_source = axon_keys % n_src
    axon_syn_start = np.r_[axon_first, n_syn].astype(np.int64)
    core_axon_start = np.searchsorted(axon_core, np.arange(n_cores + 1)).astype(np.int64)
    axon_local = np.arange(axon_keys.size) - core_axon_start[axon_core]
    # formats: the (core, network format) pairs in use become the cores' format tables
    syn_core = axon_core[np.cumsum(new_axon) - 1] if n_syn else np.zeros(0, np.int64)
    fmt_used = np.bincount(syn_core * nf + sfmt, minlength=n_cores * nf) > 0
    fmt_rows = np.flatnonzero(fmt_used)
    syn_fmt = (np.cumsum(fmt_used) - 1)[syn_core * nf + sfmt]
    fmt_core, fmt_net = fmt_rows // nf, fmt_rows % nf
    # synapse lists per (input axon, format): contiguous runs for the memory cost model
    run_first = np.flatnonzero(new_axon | np.r_[True, sfmt[1:] != sfmt[:-1]]) if n_syn else axon_first
    list_len = np.diff(np.r_[run_first, n_syn])
    list_core, list_fmt = syn_core[run_first], syn_fmt[run_first]
    del skey, sfmt, new_axon, syn_core, axon_key
    # routing: per source, its destination cores in order, and the axon it addresses there
    route_order = np.argsort(axon_source, kind="stable")  # axons are in core order already
    route_core = axon_core[route_order]
    route_axon = axon_local[route_order]
    route_start = np.r_[0, np.cumsum(np.bincount(axon_source, minlength=n_src))].astype(np.int64)

    fr = flat.formats
    arrays = {
        "core_chip": (used_keys // preset.cores_per_chip).astype(np.int32),
        "core_index": (used_keys % preset.cores_per_chip).astype(np.int32),
        "core_cx_start": core_cx_start,
        "core_axon_start": core_axon_start,
        "core_vmin_exp": core_regs[:, 0].astype(np.int32),
        "core_vmax_exp": core_regs[:, 1].astype(np.int32),
        "cx_profile": cx_profile.reshape(-1).astype(np.int32),
        "cx_bias_mant": flat.regs["bias_mant"][nid_of_cx].astype(np.int32),
        "cx_bias_exp": flat.regs["bias_exp"][nid_of_cx].astype(np.int32),
        "cx_u_init": flat.regs["u_init"][nid_of_cx].astype(np.int32),
        "cx_v_init": flat.regs["v_init"][nid_of_cx].astype(np.int32),
        "profile_core": prof_core.astype(np.int32),
        **{f"profile_{r}": flat.regs[r][prof_nid].astype(np.int32) for r in PROFILE_REGISTERS},
        "fmt_core": fmt_core.astype(np.int32),
        "fmt_sign_mode": np.array([SIGN_MODE_CODE[fr[i].sign_mode] for i in fmt_net], np.int8),
        "fmt_weight_bits": np.array([fr[i].num_weight_bits for i in fmt_net], np.int8),
        "fmt_weight_exp": np.array([fr[i].weight_exp for i in fmt_net], np.int8),
        "fmt_delay_bits": np.array([fr[i].delay_bits for i in fmt_net], np.int8),
        "fmt_learning": np.array([fr[i].learning for i in fmt_net], np.int8),
        "axon_source": axon_source.astype(np.int64),
        "axon_syn_start": axon_syn_start,
        "syn_cx": local_cx[syn_order].astype(np.int16),
        "syn_weight": flat.weight[syn_order].astype(np.int16),
        "syn_fmt": syn_fmt.reshape(-1).astype(np.int32),
        "syn_delay": flat.delay[syn_order].astype(np.int8),
        "route_start": route_start,
        "route_core": route_core.astype(np.int32),
        "route_axon": route_axon.astype(np.int32),
    }
    slot_of_flat = np.empty(n_syn, np.int64)
    slot_of_flat[syn_order] = np.arange(n_syn)

    report = _resource_report(arrays, n_cores, cx_core, (list_core, list_fmt, list_len), limits)
    notes = _check_limits(report, limit_mode)
    progs = [
        ProjectionMap(
            p.name, p.pre.name, p.post.name, slot_of_flat[flat.proj_start[k] : flat.proj_start[k + 1]]
        )
        for k, p in enumerate(net.projections)
    ]
    pops = [
        PopulationMap(p.name, cx_of_nid[flat.pop_start[k] : flat.pop_start[k + 1]])
        for k, p in enumerate(net.populations)
    ]
    inputs = [
        InputMap(i.name, i.n, n_cx + int(flat.inp_start[k]), np.array(i.steps), np.array(i.indices))
        for k, i in enumerate(net.inputs)
    ]
    probes = []
    for pr in net.probes:
        if pr.variable == "weights":
            k = net.projections.index(pr.target)
            index = progs[k].slot[pr.indices]
        else:
            index = pops[net.populations.index(pr.target)].cx[pr.indices]
        probes.append(ProbeSpec(pr.name, pr.target.name, pr.variable, index, pr.sample_every))
    learning = _learning_maps(net, flat, cx_of_nid, n_cx, arrays, progs)
    for pop in net.populations:
        if pop.discretization is not None:
            notes.append(f"{pop.label} discretization: max rel. error {pop.discretization.max_rel_error:.2e}")
    if board is None:
        board = mesh_board(int(arrays["core_chip"].max(initial=0)) + 1, preset.chip)
    return ChipProgram(
        preset=preset.name,
        board=board.name,
        board_mesh=tuple(board.mesh),
        n_chips=board.n_chips,
        cores_per_chip=preset.cores_per_chip,
        allocator=alloc.name,
        limit_mode=limit_mode,
        limits=limits,
        arrays=arrays,
        populations=pops,
        inputs=inputs,
        projections=progs,
        probes=probes,
        resources=report,
        weight_reports=flat.weight_reports,
        notes=notes,
        learning=learning,
    )


def _learning_maps(net, flat: _Flat, cx_of_nid, n_cx: int, arrays, progs) -> list[LearningMap]:
    """One LearningMap per plastic projection, in global source and compartment ids."""
    import json

    pop_index = {id(p): k for k, p in enumerate(net.populations)}
    inp_index = {id(i): k for k, i in enumerate(net.inputs)}

    def sources(obj) -> np.ndarray:
        if isinstance(obj, SpikeInput):
            return n_cx + int(flat.inp_start[inp_index[id(obj)]]) + np.arange(obj.n)
        s = int(flat.pop_start[pop_index[id(obj)]])
        return cx_of_nid[s : s + obj.n]

    maps = []
    for k, proj in enumerate(net.projections):
        rule = proj.learning_rule
        if rule is None:
            continue
        slots = progs[k].slot
        maps.append(
            LearningMap(
                projection=proj.name,
                index=k,
                rule=json.dumps(rule.to_registers()),
                sign_mode=_SIGN_MODES[int(arrays["fmt_sign_mode"][arrays["syn_fmt"][slots[0]]])]
                if slots.size
                else (proj.sign_mode or "mixed"),
                num_weight_bits=int(proj.num_weight_bits),
                weight_exp=int(proj.weight_exp),
                pre_source=sources(proj.pre).astype(np.int64),
                post_cx=sources(proj.post).astype(np.int64),
                pre_idx=np.asarray(proj.pre_idx, np.int64),
                post_idx=np.asarray(proj.post_idx, np.int64),
                modulators=json.dumps({t: sources(src).tolist() for t, src in proj.modulators.items()}),
            )
        )
    return maps


def _resource_report(a, n_cores, cx_core, lists, limits) -> ResourceReport:
    """Exact per-core use of the built tables. ``lists``: (core, format row, length)
    of every synapse list (one per input axon and format)."""
    list_core, list_fmt, list_len = lists
    each = bits_per_synapse(a["fmt_weight_bits"], a["fmt_delay_bits"], a["fmt_learning"])
    bits = synapse_bits_per_core(list_core, list_fmt, list_len, each, n_cores)
    routes_per_src = np.diff(a["route_start"])[: cx_core.size]
    usage = {
        "compartments": np.diff(a["core_cx_start"]),
        "in_axons": np.diff(a["core_axon_start"]),
        # one output axon per (source compartment, destination core): its route entries
        "out_axons": np.bincount(cx_core, weights=routes_per_src, minlength=n_cores),
        "synapse_bits": bits,
        "profiles": np.bincount(a["profile_core"], minlength=n_cores),
        "formats": np.bincount(a["fmt_core"], minlength=n_cores),
    }
    usage = {k: np.asarray(v, np.int64) for k, v in usage.items()}
    return ResourceReport(a["core_chip"].astype(np.int64), a["core_index"].astype(np.int64), usage, limits)


def _check_limits(report: ResourceReport, mode: str) -> list[str]:
    notes = []
    worst: dict[str, tuple[int, int, int, int]] = {}
    count: dict[str, int] = {}
    for chip, core, r, used, lim in report.violations():
        if mode == "enforce" or r not in CAPACITY_RESOURCES:
            raise ResourceError(
                f"chip {chip} core {core}: {r.replace('_', ' ')} {used} exceeds the limit {lim}"
            )
        count[r] = count.get(r, 0) + 1
        if r not in worst or used > worst[r][2]:
            worst[r] = (chip, core, used, lim)
    for r, (chip, core, used, lim) in worst.items():
        notes.append(
            f"limit exceeded (report mode): {r.replace('_', ' ')} on {count[r]} of {report.n_cores} cores, "
            f"worst {used} > {lim} (chip {chip} core {core}); real Loihi 1 could not hold this placement"
        )
    return notes
