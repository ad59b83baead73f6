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
        self, blocks: list[Block], n_chips: int | None, cores_per_chip: int, new_core
    ) -> list[tuple[int, int]]:
        """One (chip, core) per block. ``new_core()`` gives an empty :class:`CoreFill`.

        ``n_chips`` None means as many chips as needed.
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
    return ResourceError(
        f"placement: the network needs {needed_cores} cores ({need_chips} chips of {cpc} cores); "
        f"{n_chips} chip(s) provide {n_chips * cpc} cores" + (f" ({'; '.join(why[:5])})" if why else "")
    )


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

    def place(self, blocks, n_chips, cores_per_chip, new_core):
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

    def place(self, blocks, n_chips, cores_per_chip, new_core):
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


ALLOCATORS: dict[str, type[Allocator]] = {"greedy": Greedy, "roundrobin": RoundRobin}


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
