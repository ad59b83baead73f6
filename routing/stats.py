"""Per-step router statistics of a run: messages, hops, link loads, step time, energy.

Computed from the spikes a run produced (routing never changes which step a
spike acts in) with :class:`~neurochip.routing.router.RouterModel`. Per step:

* every spike of a compartment (or input channel) becomes one message per
  destination core in its routing table, carrying as many synaptic events as
  the destination's input axon has synapses;
* a core spends ``active * 8.4 ns + inactive * 5.3 ns`` updating its
  compartments, where active ones are estimated as the spikes plus the
  synaptic events the core received in the step (at most its compartments);
  compartment k of n leaves its spikes at ``(k + 1) / n`` of that time; input
  spikes enter at core 0 of chip 0 at the start of the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from neurochip.routing.router import ENERGY, RouterModel

PER_STEP = ("messages", "hops", "chip_hops", "max_link_load", "step_ps", "barrier_ps")


@dataclass
class RouterStats:
    """Router statistics per step (arrays) and link loads summed over the run."""

    per_step: dict[str, np.ndarray]
    energy_pj: dict[str, np.ndarray]
    link_load: np.ndarray
    link_names: list[str] = field(default_factory=list)  # names of the busiest links
    busiest: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    assumptions: str = ""

    @property
    def steps(self) -> int:
        return int(self.per_step["messages"].size)

    def summary(self) -> str:
        s = self.per_step
        st = s["step_ps"] / 1e3
        energy = {k: float(v.sum()) for k, v in self.energy_pj.items()}
        hops_each = s["hops"].sum() / max(s["messages"].sum(), 1)
        lines = [
            f"router: {int(s['messages'].sum())} messages over {self.steps} steps "
            f"({s['messages'].mean():.1f} per step, {hops_each:.2f} hops each,"
            f" {int(s['chip_hops'].sum())} chip-to-chip hops)",
            f"  step time: mean {st.mean():.3f} ns, p50 {np.percentile(st, 50):.3f}, "
            f"p95 {np.percentile(st, 95):.3f}, p99 {np.percentile(st, 99):.3f}, max {st.max():.3f} ns "
            f"(barrier {s['barrier_ps'].mean() / 1e3:.1f} ns)",
            f"  energy per step: {sum(energy.values()) / max(self.steps, 1) / 1e3:.3f} nJ ("
            + ", ".join(f"{k} {v / max(self.steps, 1) / 1e3:.3f}" for k, v in energy.items())
            + ")",
            f"  max link load {int(s['max_link_load'].max(initial=0))} messages in a step; busiest links: "
            + "; ".join(
                f"{n} ({int(self.link_load[k])})" for n, k in zip(self.link_names, self.busiest, strict=True)
            ),
            f"  assumed (unpublished): {self.assumptions}",
        ]
        return "\n".join(lines)

    def totals(self) -> dict:
        """Run totals as plain numbers: messages, hops, max link load, modeled time (us), energy (uJ)."""
        s = self.per_step
        return {
            "messages": int(s["messages"].sum()),
            "hops": int(s["hops"].sum()),
            "chip_hops": int(s["chip_hops"].sum()),
            "max_link_load": int(s["max_link_load"].max(initial=0)),
            "step_time_us_mean": float(s["step_ps"].mean()) / 1e6 if self.steps else 0.0,
            "step_time_us_total": float(s["step_ps"].sum()) / 1e6,
            "energy_uj": {k: float(v.sum()) / 1e6 for k, v in self.energy_pj.items()},
        }

    def to_hdf5(self, g) -> None:
        for k, v in self.per_step.items():
            g.create_dataset(k, data=v)
        e = g.create_group("energy_pj")
        for k, v in self.energy_pj.items():
            e.create_dataset(k, data=v)
        g.create_dataset("link_load", data=self.link_load, compression="gzip")
        g.create_dataset("busiest", data=self.busiest)
        g.attrs["link_names"] = "\n".join(self.link_names)
        g.attrs["assumptions"] = self.assumptions

    @classmethod
    def from_hdf5(cls, g) -> RouterStats:
        names = str(g.attrs["link_names"])
        return cls(
            per_step={k: g[k][()] for k in PER_STEP},
            energy_pj={k: g["energy_pj"][k][()] for k in ENERGY},
            link_load=g["link_load"][()],
            link_names=names.split("\n") if names else [],
            busiest=g["busiest"][()],
            assumptions=str(g.attrs["assumptions"]),
        )


def core_updates(costs, core_n: np.ndarray, spikes_per_core: np.ndarray, events_in: np.ndarray):
    """Per core: the compartments updated at the active cost (those that spiked or got synaptic
    events, at most all of them) and the time the core spends updating."""
    active = np.minimum(core_n, spikes_per_core + events_in)
    return active, active * costs.neuron_active_ps + (core_n - active) * costs.neuron_inactive_ps


def release_ps(update_ps: np.ndarray, core: np.ndarray, local: np.ndarray, core_n: np.ndarray):
    """When compartment ``local`` (of ``core_n[core]``) leaves its spike: as its update is done."""
    return update_ps[core] * (local + 1) // core_n[core]


class ProgramTraffic:
    """Turns the spikes of a program's steps into router messages and costs."""

    def __init__(self, program, costs=None):
        from neurochip.routing.costs import DEFAULT_COSTS

        self.program = p = program
        self.model = RouterModel(p.board_spec(), costs or DEFAULT_COSTS)
        a = p.arrays
        cpc = p.cores_per_chip
        self.board_core = a["core_chip"].astype(np.int64) * cpc + a["core_index"]  # per program core
        self.cx_core = p.compartment_core()
        starts = a["core_cx_start"]
        self.cx_local = np.arange(p.n_compartments) - starts[self.cx_core]
        self.core_n = np.diff(starts)
        n_routes = np.diff(a["route_start"])
        self.route_src = np.repeat(np.arange(p.n_sources), n_routes)
        axon = a["core_axon_start"][a["route_core"]] + a["route_axon"]
        self.route_nsyn = np.diff(a["axon_syn_start"])[axon]
        self.route_dst = self.board_core[a["route_core"]]
        self.tiles_used = len(np.unique(self.board_core // p.board_spec().chip.cores_per_tile))
        self.chips_used = p.n_chips_used
        self.input_steps = np.concatenate([np.asarray(i.steps) for i in p.inputs] or [np.zeros(0, np.int64)])
        self.input_src = np.concatenate(
            [i.source_start + np.asarray(i.indices) for i in p.inputs] or [np.zeros(0, np.int64)]
        )
        self.route_start = a["route_start"]
        self.prev_events = np.zeros(p.n_cores, np.int64)

    def step(self, t: int, cx_spikes: np.ndarray, learning_updates: int = 0):
        """The modelled cost of step ``t`` whose compartments ``cx_spikes`` spiked."""
        c = self.model.costs
        inputs = self.input_src[self.input_steps == t]
        sources = np.concatenate([np.sort(cx_spikes), inputs]).astype(np.int64)
        starts, ends = self.route_start[sources], self.route_start[sources + 1]
        counts = ends - starts
        routes = np.repeat(starts - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
        src_of = np.repeat(sources, counts)
        is_cx = src_of < self.program.n_compartments
        # compartment updates: active = spikes + synaptic events received this step (at most the core)
        spikes_per_core = np.bincount(self.cx_core[cx_spikes], minlength=self.core_n.size)
        active, update_ps = core_updates(c, self.core_n, spikes_per_core, self.prev_events)
        src_core = np.where(is_cx, self.board_core[self.cx_core[np.where(is_cx, src_of, 0)]], 0)
        cx_src = np.where(is_cx, src_of, 0)
        core = self.cx_core[cx_src]
        inject = np.where(is_cx, release_ps(update_ps, core, self.cx_local[cx_src], self.core_n), 0)
        ready = np.zeros(self.model.board.n_cores, np.int64)
        ready[self.board_core] = update_ps
        nsyn = self.route_nsyn[routes]
        cost = self.model.step(
            src_core,
            self.route_dst[routes],
            nsyn,
            inject,
            ready,
            active=int(active.sum()),
            inactive=int((self.core_n - active).sum()),
            learning_updates=learning_updates,
            tiles_used=self.tiles_used,
            chips_used=self.chips_used,
        )
        # what each core receives now is input for its next update
        self.prev_events = np.bincount(
            self.program.arrays["route_core"][routes], weights=nsyn, minlength=self.core_n.size
        ).astype(np.int64)
        return cost


def collect(
    traffic: ProgramTraffic,
    spike_steps: np.ndarray,
    spike_cx: np.ndarray,
    steps: range,
    learning_updates=None,
) -> RouterStats:
    """Router statistics of ``steps`` from the run's spikes (steps from 1)."""
    order = np.argsort(spike_steps, kind="stable")
    st, cx = spike_steps[order], spike_cx[order]
    bounds = np.searchsorted(st, [steps.start, steps.stop])
    st, cx = st[bounds[0] : bounds[1]], cx[bounds[0] : bounds[1]]
    edges = np.searchsorted(st, np.arange(steps.start, steps.stop + 1))
    per = {k: np.zeros(len(steps), np.int64) for k in PER_STEP}
    energy = {k: np.zeros(len(steps)) for k in ENERGY}
    load = np.zeros(traffic.model.n_links, np.int64)
    for k, t in enumerate(steps):
        lu = 0 if learning_updates is None else int(learning_updates.get(t, 0))
        cost = traffic.step(t, cx[edges[k] : edges[k + 1]], lu)
        for key in PER_STEP:
            per[key][k] = getattr(cost, key)
        for key in ENERGY:
            energy[key][k] = cost.energy_pj[key]
        load += cost.link_load
    return RouterStats(per, energy, load, assumptions=traffic.model.costs.assumptions())


def concat(parts: list[RouterStats], model: RouterModel) -> RouterStats:
    """One RouterStats of consecutive parts, with the busiest links named."""
    per = {k: np.concatenate([p.per_step[k] for p in parts]) for k in PER_STEP}
    energy = {k: np.concatenate([p.energy_pj[k] for p in parts]) for k in ENERGY}
    load = sum(p.link_load for p in parts)
    busiest = np.argsort(load)[::-1][:5]
    busiest = busiest[load[busiest] > 0]
    return RouterStats(
        per,
        energy,
        load,
        [model.link_name(int(k)) for k in busiest],
        busiest,
        parts[0].assumptions if parts else "",
    )
