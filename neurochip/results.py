"""Results of a run: spikes, probes, spike counts, resource report, metadata; saved as HDF5."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurochip.cores.resources import ResourceReport
from neurochip.cores.synapse import WeightReport
from neurochip.hdf5io import atomic_write, get_json, open_read, put_json

KIND = "results"


@dataclass
class SpikeData:
    """Spikes of the probed neurons of a population: one (step, neuron) pair per spike."""

    name: str
    target: str
    neurons: np.ndarray  # the probed neuron indices
    steps: np.ndarray  # step of each spike (from 1)
    index: np.ndarray  # population neuron index of each spike

    variable = "spikes"

    def raster(self, n_steps: int) -> np.ndarray:
        """Boolean array (n_steps, n_probed): row k holds the spikes of step k + 1."""
        out = np.zeros((n_steps, self.neurons.size), bool)
        col = positions_in(self.neurons, self.index)
        keep = self.steps <= n_steps
        out[self.steps[keep] - 1, col[keep]] = True
        return out

    def counts(self) -> np.ndarray:
        return np.bincount(positions_in(self.neurons, self.index), minlength=self.neurons.size)


@dataclass
class StateData:
    """Sampled state: ``data[k, j]`` is the variable of ``indices[j]`` at the end of ``steps[k]``."""

    name: str
    target: str
    variable: str  # u | v | weights
    indices: np.ndarray  # neuron indices, or synapse indices of the projection
    steps: np.ndarray
    data: np.ndarray


def positions_in(universe: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in ``universe`` (values all present, universe unique)."""
    order = np.argsort(universe, kind="stable")
    return order[np.searchsorted(universe[order], values)]


@dataclass
class Results:
    """Everything a run produced. ``results[probe_or_name]`` gives one probe's data."""

    steps: int
    probes: dict[str, SpikeData | StateData]
    spike_counts: dict[str, np.ndarray]
    resources: ResourceReport
    metadata: dict = field(default_factory=dict)
    weight_reports: list[WeightReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    router: object = None  # neurochip.routing.stats.RouterStats when the run modelled routing
    extras: dict = field(default_factory=dict)  # JSON-able facts added by the caller (demos, CLI)

    def __getitem__(self, key) -> SpikeData | StateData:
        name = getattr(key, "name", key)
        try:
            return self.probes[name]
        except KeyError:
            raise KeyError(f"no probe named {name!r}; have {sorted(self.probes)}") from None

    @property
    def total_spikes(self) -> int:
        return int(sum(int(c.sum()) for c in self.spike_counts.values()))

    def summary(self) -> str:
        m = self.metadata
        n = sum(c.size for c in self.spike_counts.values())
        rate = self.total_spikes / max(n * self.steps, 1)
        lines = [
            f"{self.steps} steps on {m.get('backend', '?')} ({m.get('target', '?')}): "
            f"{self.total_spikes} spikes from {n} compartments "
            f"({rate:.4f} spikes/compartment/step) on {self.resources.n_cores} cores of "
            f"{m.get('chips_used', '?')} chip(s); run {m.get('run_s', 0):.3f} s",
        ]
        for pop, c in self.spike_counts.items():
            lines.append(f"  {pop}: {int(c.sum())} spikes, mean {c.mean():.2f} per neuron")
        lines += [f"  note: {n}" for n in self.notes]
        if self.router is not None:
            lines.append(self.router.summary())
        return "\n".join(lines)

    # ------------------------------------------------------------------ HDF5
    def save(self, path) -> str:
        """Write to ``path`` atomically (temporary file, then rename); returns the path."""

        def write(f):
            f.attrs["steps"] = self.steps
            put_json(f, "metadata", self.metadata)
            put_json(f, "notes", self.notes)
            put_json(f, "weight_reports", [w.to_dict() for w in self.weight_reports])
            put_json(f, "extras", self.extras)
            g = f.create_group("spike_counts")
            for k, (name, c) in enumerate(self.spike_counts.items()):
                d = g.create_dataset(str(k), data=c)
                d.attrs["population"] = name
            g.attrs["count"] = len(self.spike_counts)
            pg = f.create_group("probes")
            pg.attrs["count"] = len(self.probes)
            for k, pr in enumerate(self.probes.values()):
                h = pg.create_group(str(k))
                h.attrs["name"], h.attrs["target"], h.attrs["variable"] = pr.name, pr.target, pr.variable
                arrays = (
                    {"neurons": pr.neurons, "steps": pr.steps, "index": pr.index}
                    if isinstance(pr, SpikeData)
                    else {"indices": pr.indices, "steps": pr.steps, "data": pr.data}
                )
                for key, arr in arrays.items():
                    h.create_dataset(key, data=arr, compression="gzip" if arr.size > 4096 else None)
            self.resources.to_hdf5(f.create_group("resources"))
            if self.router is not None:
                self.router.to_hdf5(f.create_group("router"))

        return str(atomic_write(path, KIND, write))

    @classmethod
    def load(cls, path) -> Results:
        with open_read(path, KIND) as f:
            g = f["spike_counts"]
            counts = {}
            for k in range(int(g.attrs["count"])):
                counts[str(g[str(k)].attrs["population"])] = g[str(k)][()]
            probes = {}
            pg = f["probes"]
            for k in range(int(pg.attrs["count"])):
                h = pg[str(k)]
                name, target, var = str(h.attrs["name"]), str(h.attrs["target"]), str(h.attrs["variable"])
                if var == "spikes":
                    probes[name] = SpikeData(name, target, h["neurons"][()], h["steps"][()], h["index"][()])
                else:
                    probes[name] = StateData(
                        name, target, var, h["indices"][()], h["steps"][()], h["data"][()]
                    )
            return cls(
                steps=int(f.attrs["steps"]),
                probes=probes,
                spike_counts=counts,
                resources=ResourceReport.from_hdf5(f["resources"]),
                metadata=get_json(f, "metadata"),
                weight_reports=[WeightReport(**w) for w in get_json(f, "weight_reports")],
                notes=list(get_json(f, "notes")),
                router=_router_from(f),
                extras=get_json(f, "extras") if "extras" in f.attrs else {},
            )


def _router_from(f):
    if "router" not in f:
        return None
    from neurochip.routing.stats import RouterStats

    return RouterStats.from_hdf5(f["router"])
