"""Placement strategies: which core of which chip each block of compartments goes to.

An allocator sees the blocks the compiler split the populations into, and a
:class:`CoreFill` that says whether a block still fits a partly filled core.
It returns one (chip, core) pair per block. Choose one by name
(``"greedy"``, ``"roundrobin"``) or pass an instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from neurochip.cores.resources import CoreLimits
from neurochip.errors import ResourceError, ValidationError
from neurochip.params import check_count


@dataclass
class Block:
    """A contiguous range of one population's compartments that fits a core on its own.

    Blocks of one population always go to different cores; blocks of different
    populations may share a core when everything still fits.

    The resource figures are upper bounds: blocks sharing a core can only share
    axons and synapse-list headers, never need more.
    """

    population: str
    pop_index: int
    start: int
    stop: int
    core_regs: tuple[int, int]  # (vmin_exp, vmax_exp): per-core registers
    profiles: np.ndarray  # network-level profile ids used
    formats: np.ndarray  # network-level synapse format ids used
    in_sources: np.ndarray | None = None  # distinct sources (None: not tracked)
    synapse_bits: int = 0
    out_axons: int = 0
    split_by: str = ""  # what limited the block size, e.g. "compartments (limit 1024 per core)"

    @property
    def n(self) -> int:
        return self.stop - self.start


@dataclass
class CoreFill:
    """What is on one core so far, and whether another block fits."""

    limits: CoreLimits
    enforce_capacity: bool
    blocks: list[int] = field(default_factory=list)
    populations: set = field(default_factory=set)
    n: int = 0
    core_regs: tuple[int, int] | None = None
    profiles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    formats: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    in_sources: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    synapse_bits: int = 0
    out_axons: int = 0

    def merged(self, b: Block):
        """The core's figures with ``b`` added, or the reason it does not fit."""
        lim = self.limits
        if b.pop_index in self.populations:
            # a population was split because its blocks need a core each
            return None, "one block per population and core"
        if self.core_regs is not None and self.core_regs != b.core_regs:
            return None, "voltage bounds (vmin/vmax are per core)"
        if self.n + b.n > lim.compartments:
            return None, "compartments"
        prof = np.union1d(self.profiles, b.profiles)
        if prof.size > lim.profiles:
            return None, "profiles"
        fmts = np.union1d(self.formats, b.formats)
        if fmts.size > lim.formats:
            return None, "formats"
        ins = self.in_sources
        if self.enforce_capacity:
            ins = np.union1d(self.in_sources, b.in_sources)
            if ins.size > lim.in_axons:
                return None, "in_axons"
            if self.synapse_bits + b.synapse_bits > lim.synapse_bits:
                return None, "synapse_bits"
            if self.out_axons + b.out_axons > lim.out_axons:
                return None, "out_axons"
        return (prof, fmts, ins), None

    def fits(self, b: Block) -> bool:
        return self.merged(b)[0] is not None

    def add(self, index: int, b: Block) -> None:
        merged, why = self.merged(b)
        if merged is None:
            raise ResourceError(f"block of {b.population!r} does not fit its core: {why}")
        self.profiles, self.formats, self.in_sources = merged
        self.blocks.append(index)
        self.populations.add(b.pop_index)
        self.n += b.n
        self.core_regs = b.core_regs
        self.synapse_bits += b.synapse_bits
        self.out_axons += b.out_axons


class Allocator(ABC):
    """Places blocks on (chip, core) pairs."""

    name = "allocator"

    @abstractmethod
    def place(
        self, blocks: list[Block], n_chips: int | None, cores_per_chip: int, new_core, traffic=None
    ) -> list[tuple[int, int]]:
        """One (chip, core) per block. ``new_core()`` gives an empty :class:`CoreFill`.

        ``n_chips`` None means as many chips as needed. ``traffic`` (a scipy
        sparse matrix, blocks x blocks) estimates messages per step from one
        block to another: the distinct (source neuron, target block) pairs.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _too_few_chips(needed_cores: int, n_chips: int, cpc: int, blocks: list[Block]) -> ResourceError:
    need_chips = -(-needed_cores // cpc)
    split = {}
    for b in blocks:
        split.setdefault(b.population, []).append(b)
    why = [
        f"{pop!r} is split into {len(bs)} blocks by {bs[0].split_by}"
        for pop, bs in split.items()
        if len(bs) > 1
    ]
    err = ResourceError(
        f"placement: the network needs {needed_cores} cores ({need_chips} chips of {cpc} cores); "
        f"{n_chips} chip(s) provide {n_chips * cpc} cores" + (f" ({'; '.join(why[:5])})" if why else "")
    )
    err.cores_needed, err.cores_available = needed_cores, n_chips * cpc
    return err


class Greedy(Allocator):
    """Fills one core after another, chip after chip, packing blocks while they fit.

    ``cores_per_chip`` uses only that many cores of each chip (as nengo-loihi's
    ``Greedy(cores_per_chip=...)``), which spreads a network over more chips.
    """

    name = "greedy"

    def __init__(self, cores_per_chip: int | None = None):
        self.cores_per_chip = (
            None if cores_per_chip is None else check_count("Greedy", "cores_per_chip", cores_per_chip)
        )

    def place(self, blocks, n_chips, cores_per_chip, new_core, traffic=None):
        cpc = cores_per_chip if self.cores_per_chip is None else min(self.cores_per_chip, cores_per_chip)
        placement = []
        core_no = 0
        fill = new_core()
        for k, b in enumerate(blocks):
            if fill.blocks and not fill.fits(b):
                core_no += 1
                fill = new_core()
            fill.add(k, b)
            placement.append(core_no)
        needed = core_no + 1
        if n_chips is not None and needed > n_chips * cpc:
            raise _too_few_chips(needed, n_chips, cpc, blocks)
        return [(c // cpc, c % cpc) for c in placement]

    def __repr__(self) -> str:
        return f"Greedy(cores_per_chip={self.cores_per_chip})"


class RoundRobin(Allocator):
    """Deals blocks to chips in turn, one block per core (nengo-loihi's RoundRobin)."""

    name = "roundrobin"

    def place(self, blocks, n_chips, cores_per_chip, new_core, traffic=None):
        if n_chips is None:
            n_chips = max(1, -(-len(blocks) // cores_per_chip))
        if len(blocks) > n_chips * cores_per_chip:
            raise _too_few_chips(len(blocks), n_chips, cores_per_chip, blocks)
        used = np.zeros(n_chips, np.int64)
        placement = []
        for k, b in enumerate(blocks):
            chip = k % n_chips
            new_core().add(k, b)  # every block must fit a core alone
            placement.append((chip, int(used[chip])))
            used[chip] += 1
        return placement


class TrafficAware(Allocator):
    """Keeps blocks that exchange many messages on the same or neighbouring chips.

    Chips are filled one after another, in mesh order: each chip starts with
    the unplaced block that sends the most messages to the previous chip (the
    busiest block, for the first), then repeatedly takes the unplaced block
    with the most traffic to and from the blocks already on it, packing cores
    as :class:`Greedy` does, until the chip is full (nengo-loihi's
    GreedyInterchip works alike).
    """

    name = "traffic"

    def __init__(self, cores_per_chip: int | None = None):
        self.cores_per_chip = (
            None if cores_per_chip is None else check_count("TrafficAware", "cores_per_chip", cores_per_chip)
        )

    def place(self, blocks, n_chips, cores_per_chip, new_core, traffic=None):
        import scipy.sparse

        cpc = cores_per_chip if self.cores_per_chip is None else min(self.cores_per_chip, cores_per_chip)
        n = len(blocks)
        if traffic is None:
            traffic = scipy.sparse.csr_matrix((n, n))
        sym = scipy.sparse.csr_matrix(traffic + traffic.T)
        sym.setdiag(0)
        sym.eliminate_zeros()
        unplaced = np.ones(n, bool)
        placement: list = [None] * n
        chip, prev = 0, np.zeros(n)
        while unplaced.any():
            score = np.where(unplaced, prev, -1.0)
            if score.max() <= 0:  # nothing talks to the last chip: the busiest block left
                busy = np.asarray(sym.sum(axis=1)).ravel()
                score = np.where(unplaced, busy + 1e-9 * np.arange(n, 0, -1), -1.0)
            fills, attach = [new_core()], np.zeros(n)
            k = int(np.argmax(score))
            while k >= 0:
                fill = fills[-1]
                if fill.blocks and not fill.fits(blocks[k]):
                    if len(fills) == cpc:
                        break
                    fills.append(new_core())
                    fill = fills[-1]
                fill.add(k, blocks[k])
                placement[k] = (chip, len(fills) - 1)
                unplaced[k] = False
                row = sym.getrow(k)
                attach[row.indices] += row.data
                cand = np.where(unplaced, attach, -1.0)
                k = int(np.argmax(cand)) if unplaced.any() else -1
                if k >= 0 and cand[k] <= 0:  # nothing attached: the next block in order
                    k = int(np.flatnonzero(unplaced)[0])
            on_chip = np.array([placement[b] is not None and placement[b][0] == chip for b in range(n)])
            prev = np.asarray(sym[on_chip].sum(axis=0)).ravel()
            chip += 1
        if n_chips is not None and chip > n_chips:
            needed = len(set(placement))
            raise _too_few_chips(needed, n_chips, cpc, blocks)
        return placement

    def __repr__(self) -> str:
        return f"TrafficAware(cores_per_chip={self.cores_per_chip})"


ALLOCATORS: dict[str, type[Allocator]] = {"greedy": Greedy, "roundrobin": RoundRobin, "traffic": TrafficAware}


def register_allocator(name: str, cls: type[Allocator]) -> None:
    ALLOCATORS[name] = cls


def get_allocator(allocator) -> Allocator:
    if isinstance(allocator, Allocator):
        return allocator
    try:
        return ALLOCATORS[allocator]()
    except (KeyError, TypeError):
        raise ValidationError(
            f"allocator: {allocator!r} is not an Allocator or one of {sorted(ALLOCATORS)}"
        ) from None
