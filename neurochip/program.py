"""The compiled chip program: an integer, hardware-shaped description of a placed network.

It holds no Brian2 objects and no simulation state. Cores are numbered
``0 .. n_cores-1`` in (chip, core) order; compartments, input axons and
synapses are numbered globally in core order, so core ``k`` owns compartments
``core_cx_start[k] : core_cx_start[k+1]`` and input axons
``core_axon_start[k] : core_axon_start[k+1]``.

Sources (anything that spikes) are numbered ``0 .. n_compartments-1`` for
compartments and ``n_compartments + j`` for input channel ``j``. The routing
table of source ``s`` is ``route_core[route_start[s]:route_start[s+1]]`` (its
destination cores) with the input axon it addresses on each
(``route_axon``). Input axon ``a`` owns synapses
``axon_syn_start[a] : axon_syn_start[a+1]``; each names a compartment of its
core by local index (``syn_cx``), a stored weight mantissa, a synapse-format
row and a delay.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from neurochip.cores import fixedpoint as fp
from neurochip.cores.resources import CoreLimits, ResourceReport
from neurochip.cores.synapse import WeightReport
from neurochip.hdf5io import atomic_write, get_json, open_read, put_json

KIND = "chip_program"


@dataclass
class PopulationMap:
    name: str
    cx: np.ndarray  # global compartment id of each neuron


@dataclass
class InputMap:
    name: str
    n: int
    source_start: int  # global source id of channel 0
    steps: np.ndarray
    indices: np.ndarray


@dataclass
class ProjectionMap:
    name: str
    pre: str
    post: str
    slot: np.ndarray  # position of each of the projection's synapses in the synapse table


@dataclass
class LearningMap:
    """A plastic projection: its rule (as registers) and where its synapses' ends live."""

    projection: str
    index: int  # the projection's place in the network (keys its random streams)
    rule: str  # JSON of LearningRule.to_registers()
    sign_mode: str
    num_weight_bits: int
    weight_exp: int
    pre_source: np.ndarray  # global source id of each presynaptic neuron
    post_cx: np.ndarray  # global compartment id of each postsynaptic neuron
    pre_idx: np.ndarray  # per synapse, in projection order
    post_idx: np.ndarray
    modulators: str  # JSON: y trace -> global source ids of its modulator

    def learning_rule(self):
        import json

        from neurochip.learning.rules import LearningRule

        return LearningRule.from_registers(json.loads(self.rule))

    def modulator_sources(self) -> dict[str, np.ndarray]:
        import json

        return {k: np.asarray(v, np.int64) for k, v in json.loads(self.modulators).items()}


@dataclass
class ProbeSpec:
    name: str
    target: str  # population or projection name
    variable: str  # spikes | u | v | weights
    index: np.ndarray  # global compartment ids, or synapse slots for weights
    sample_every: int


# Arrays of the program, by table. Everything integer.
ARRAYS = {
    "cores": (
        "core_chip",
        "core_index",
        "core_cx_start",
        "core_axon_start",
        "core_vmin_exp",
        "core_vmax_exp",
    ),
    "compartments": ("cx_profile", "cx_bias_mant", "cx_bias_exp", "cx_u_init", "cx_v_init"),
    "profiles": (
        "profile_core",
        "profile_du",
        "profile_dv",
        "profile_ds_offset",
        "profile_dm_offset",
        "profile_refractory",
        "profile_vth_mant",
    ),
    "formats": (
        "fmt_core",
        "fmt_sign_mode",
        "fmt_weight_bits",
        "fmt_weight_exp",
        "fmt_delay_bits",
        "fmt_learning",
    ),
    "axons": ("axon_source", "axon_syn_start"),
    "synapses": ("syn_cx", "syn_weight", "syn_fmt", "syn_delay"),
    "routing": ("route_start", "route_core", "route_axon"),
}


@dataclass
class ChipProgram:
    preset: str
    board: str
    board_mesh: tuple
    n_chips: int
    cores_per_chip: int
    allocator: str
    limit_mode: str
    limits: CoreLimits
    arrays: dict[str, np.ndarray]
    populations: list[PopulationMap]
    inputs: list[InputMap]
    projections: list[ProjectionMap]
    probes: list[ProbeSpec]
    resources: ResourceReport
    weight_reports: list[WeightReport]
    notes: list[str] = field(default_factory=list)
    learning: list[LearningMap] = field(default_factory=list)

    def __getattr__(self, name):
        # table columns read as attributes: program.syn_weight, program.core_chip, ...
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(name)

    # ------------------------------------------------------------- sizes
    @property
    def n_cores(self) -> int:
        return int(self.arrays["core_chip"].size)

    @property
    def n_compartments(self) -> int:
        return int(self.arrays["core_cx_start"][-1])

    @property
    def n_inputs(self) -> int:
        return sum(i.n for i in self.inputs)

    @property
    def n_sources(self) -> int:
        return self.n_compartments + self.n_inputs

    @property
    def n_synapses(self) -> int:
        return int(self.arrays["syn_cx"].size)

    @property
    def n_chips_used(self) -> int:
        return int(np.unique(self.arrays["core_chip"]).size)

    def board_spec(self):
        """The board this program is placed on."""
        from neurochip.presets import get_preset
        from neurochip.routing.topology import BoardSpec

        return BoardSpec(self.board, get_preset(self.preset).chip, tuple(self.board_mesh))

    def population(self, name: str) -> PopulationMap:
        return _by_name(self.populations, name, "population")

    def projection(self, name: str) -> ProjectionMap:
        return _by_name(self.projections, name, "projection")

    # ---------------------------------------------- derived per-compartment
    def compartment_core(self) -> np.ndarray:
        """Core number (0 .. n_cores-1) of every compartment."""
        return np.repeat(np.arange(self.n_cores), np.diff(self.arrays["core_cx_start"]))

    def compartment_registers(self) -> dict[str, np.ndarray]:
        """Every register of every compartment, read through its profile and core."""
        a = self.arrays
        p = a["cx_profile"]
        core = self.compartment_core()
        regs = {
            name: a[f"profile_{name}"][p]
            for name in ("du", "dv", "ds_offset", "dm_offset", "refractory", "vth_mant")
        }
        regs["bias_mant"] = a["cx_bias_mant"]
        regs["bias_exp"] = a["cx_bias_exp"]
        regs["vmin_exp"] = a["core_vmin_exp"][core]
        regs["vmax_exp"] = a["core_vmax_exp"][core]
        return {k: np.asarray(v, np.int64) for k, v in regs.items()}

    def synapse_sources(self) -> np.ndarray:
        """Global source id of every synapse (through its input axon)."""
        a = self.arrays
        return np.repeat(a["axon_source"], np.diff(a["axon_syn_start"]))

    def synapse_targets(self) -> np.ndarray:
        """Global compartment id of every synapse's target."""
        a = self.arrays
        axon_core = np.repeat(np.arange(self.n_cores), np.diff(a["core_axon_start"]))
        syn_core = np.repeat(axon_core, np.diff(a["axon_syn_start"]))
        return a["core_cx_start"][syn_core] + a["syn_cx"]

    def effective_weights(self) -> np.ndarray:
        """What each synapse adds to q per event: floor(w * 2**weight_exp) * 2**6."""
        a = self.arrays
        return fp.effective_weight(a["syn_weight"], a["fmt_weight_exp"][a["syn_fmt"]])

    # ------------------------------------------------------------- report
    def summary(self) -> str:
        r = self.resources
        lines = [
            f"ChipProgram ({self.preset} on {self.board}, {self.allocator} allocator, "
            f"limits {self.limit_mode}): "
            f"{self.n_compartments} compartments on {self.n_cores} cores of "
            f"{self.n_chips_used} chip(s); {self.n_synapses} synapses; "
            f"{self.n_inputs} input channels",
            "peak per core: " + ", ".join(f"{k} {v}/{getattr(r.limits, k)}" for k, v in r.peak().items()),
        ]
        lines += [f"note: {n}" for n in self.notes]
        lines += [str(w) for w in self.weight_reports if w.n_changed]
        return "\n".join(lines)

    # --------------------------------------------------------------- HDF5
    def save(self, path) -> str:
        return str(atomic_write(path, KIND, self.to_hdf5))

    @classmethod
    def load(cls, path) -> ChipProgram:
        with open_read(path, KIND) as f:
            return cls.from_hdf5(f)

    def to_hdf5(self, f) -> None:
        """Write the program into an HDF5 file or group."""
        f.attrs["preset"] = self.preset
        f.attrs["board"] = self.board
        f.attrs["board_mesh"] = np.asarray(self.board_mesh, np.int64)
        f.attrs["n_chips"] = self.n_chips
        f.attrs["cores_per_chip"] = self.cores_per_chip
        f.attrs["allocator"] = self.allocator
        f.attrs["limit_mode"] = self.limit_mode
        put_json(f, "limits", self.limits.as_dict())
        put_json(f, "notes", self.notes)
        put_json(f, "weight_reports", [w.to_dict() for w in self.weight_reports])
        for table, names in ARRAYS.items():
            g = f.create_group(table)
            for n in names:
                g.create_dataset(n, data=self.arrays[n], compression=_compress(self.arrays[n]))
        _write_records(f, "populations", self.populations)
        _write_records(f, "inputs", self.inputs)
        _write_records(f, "projections", self.projections)
        _write_records(f, "probes", self.probes)
        _write_records(f, "learning", self.learning)
        self.resources.to_hdf5(f.create_group("resources"))

    @classmethod
    def from_hdf5(cls, f) -> ChipProgram:
        """The program written by :meth:`to_hdf5` into ``f``."""
        arrays = {n: f[table][n][()] for table, names in ARRAYS.items() for n in names}
        return cls(
            preset=str(f.attrs["preset"]),
            board=str(f.attrs["board"]),
            board_mesh=tuple(int(m) for m in f.attrs["board_mesh"]),
            n_chips=int(f.attrs["n_chips"]),
            cores_per_chip=int(f.attrs["cores_per_chip"]),
            allocator=str(f.attrs["allocator"]),
            limit_mode=str(f.attrs["limit_mode"]),
            limits=CoreLimits(**get_json(f, "limits")),
            arrays=arrays,
            populations=_read_records(f, "populations", PopulationMap),
            inputs=_read_records(f, "inputs", InputMap),
            projections=_read_records(f, "projections", ProjectionMap),
            probes=_read_records(f, "probes", ProbeSpec),
            resources=ResourceReport.from_hdf5(f["resources"]),
            weight_reports=[WeightReport(**w) for w in get_json(f, "weight_reports")],
            notes=list(get_json(f, "notes")),
            learning=_read_records(f, "learning", LearningMap),
        )


def _by_name(records, name, what):
    for r in records:
        if r.name == name:
            return r
    raise KeyError(f"no {what} named {name!r}; have {[r.name for r in records]}")


def _compress(arr) -> str | None:
    return "gzip" if arr.size > 4096 else None


def _write_records(f, group_name: str, records) -> None:
    g = f.create_group(group_name)
    g.attrs["count"] = len(records)
    for k, rec in enumerate(records):
        rg = g.create_group(str(k))
        for fld in fields(rec):
            val = getattr(rec, fld.name)
            if isinstance(val, np.ndarray):
                rg.create_dataset(fld.name, data=val, compression=_compress(val))
            else:
                rg.attrs[fld.name] = val


def _read_records(f, group_name: str, cls) -> list:
    g = f[group_name]
    out = []
    for k in range(int(g.attrs["count"])):
        rg = g[str(k)]
        kw = {}
        for fld in fields(cls):
            if fld.name in rg:
                kw[fld.name] = rg[fld.name][()]
            else:
                v = rg.attrs[fld.name]
                kw[fld.name] = v.item() if isinstance(v, np.generic) else v
        out.append(cls(**kw))
    return out
