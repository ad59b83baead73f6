"""The router model: what one step's spikes cost on the hardware (DESIGN.md section 8).

Every spike of a compartment becomes one message per destination core in its
routing table. Messages leave their core when the compartment's update is done
(cores update their compartments in order: 8.4 ns for a compartment that
spiked or had input, 5.3 ns otherwise), travel hop by hop (see
:mod:`neurochip.routing.kernel` for paths and queueing), and the destination
core expands them into synaptic events. The step ends when the last core is
done, plus the barrier. Input spikes from the host enter at core 0 of chip 0
at the start of the step.

Routing never changes which step a spike acts in; it changes how long a step
takes and what it costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from neurochip.routing.costs import DEFAULT_COSTS, RouterCosts
from neurochip.routing.kernel import threads
from neurochip.routing.topology import BoardSpec

ENERGY = ("neuron_updates", "synaptic_ops", "learning_updates", "on_chip_hops", "chip_to_chip", "static")


@dataclass
class StepCost:
    """The modelled cost of one step."""

    messages: int
    hops: int
    chip_hops: int
    max_link_load: int
    step_ps: int
    barrier_ps: int
    energy_pj: dict[str, float]
    arrive_ps: np.ndarray | None = field(repr=False)  # per message (if asked): reaches its core
    done_ps: np.ndarray | None = field(repr=False)  # per message (if asked): its synaptic events done
    link_load: np.ndarray = field(repr=False)  # messages per link
    core_done_ps: np.ndarray = field(repr=False)  # per core of the board


class RouterModel:
    """Router timing and energy on ``board`` with ``costs``."""

    def __init__(self, board: BoardSpec, costs: RouterCosts = DEFAULT_COSTS):
        self.board, self.costs = board, costs
        chip = board.chip
        self.nx, self.ny = chip.tiles
        self.cpc = chip.cores_per_chip
        mesh = tuple(board.mesh) + (1,) * (3 - len(board.mesh))
        self.mesh = mesh
        self.strides = (1, mesh[0], mesh[0] * mesh[1])
        self.n_links = board.n_chips * chip.n_tiles * 4 + board.n_chips * 6
        self._kernel = None

    @property
    def kernel(self):
        if self._kernel is None:
            from neurochip.routing.kernel import compiled

            self._kernel = compiled()
        return self._kernel

    def link_name(self, link: int) -> str:
        """Where a link is: chip, tile and direction, or the chip-to-chip direction."""
        n_tile_links = self.board.n_chips * self.board.chip.n_tiles * 4
        if link < n_tile_links:
            tile, d = divmod(int(link), 4)
            chip, t = divmod(tile, self.board.chip.n_tiles)
            return f"chip {chip} tile ({t % self.nx},{t // self.nx}) {'EWNS'[d]}"
        chip, d = divmod(int(link) - n_tile_links, 6)
        return f"chip {chip} link {['+x', '-x', '+y', '-y', '+z', '-z'][d]}"

    def simulate(
        self, src_core, dst_core, n_syn, inject_ps, core_ready_ps, *, per_message=True, phases=None
    ) -> dict:
        """Per-link and per-core results, totals and (``per_message``) per-message results.

        ``core_ready_ps`` (per board core): when a core takes input. Message ids, the tie-break
        for equal times, follow injection time (then the given order); per-message results come
        in the given order. ``out["totals"]``: hops, east-west hops, north-south hops,
        chip-to-chip hops, the last arrival at a core, synaptic events. ``phases``: where the
        time goes, for a profiling build of the kernel (see ``benchmarks/router_phases.py``).
        """
        arrays = [np.ascontiguousarray(a, np.int64) for a in (src_core, dst_core, n_syn, inject_ps)]
        n = arrays[3].size
        out = {}
        if per_message:
            out = {
                k: np.empty(n, np.int64 if k in ("arrive", "done") else np.int32)
                for k in ("arrive", "done", "hops", "ew", "ns", "chip_hops")
            }
        out["link_load"] = np.zeros(self.n_links, np.int64)
        out["link_free"] = np.zeros(self.n_links, np.int64)
        out["core_free"] = np.array(core_ready_ps, np.int64)
        out["totals"] = np.zeros(6, np.int64)
        out["messages"] = n
        chip = self.board.chip
        board = {
            "nx": self.nx,
            "ny": self.ny,
            "cores_per_tile": chip.cores_per_tile,
            "cores_per_chip": chip.cores_per_chip,
            "mesh": self.mesh,
        }
        args = (board, self.costs.as_dict(), out, threads(), per_message, phases)
        if self.kernel.simulate(*arrays, *args) == 0:
            return out  # they came in injection order
        order = np.argsort(arrays[3], kind="stable")
        self.kernel.simulate(*(a[order] for a in arrays), *args)
        if per_message:
            for key in ("arrive", "done", "hops", "ew", "ns", "chip_hops"):
                back = np.empty_like(out[key])
                back[order] = out[key]
                out[key] = back
        return out

    def step(
        self,
        src_core,
        dst_core,
        n_syn,
        inject_ps,
        core_ready_ps,
        *,
        active: int = 0,
        inactive: int = 0,
        learning_updates: int = 0,
        tiles_used: int = 1,
        chips_used: int = 1,
        per_message: bool = False,
    ) -> StepCost:
        """The cost of one step with these messages and compartment updates (with
        ``per_message``, each message's arrival and completion times too)."""
        c = self.costs
        out = self.simulate(src_core, dst_core, n_syn, inject_ps, core_ready_ps, per_message=per_message)
        span = self.board.diameter if chips_used > 1 else 0
        barrier = c.barrier_ps(tiles_used, span)
        step = int(out["core_free"].max(initial=0)) + barrier
        hops, ew, ns, chip_hops, _, n_syn_total = (int(v) for v in out["totals"])
        energy = {
            "neuron_updates": active * c.neuron_active_pj + inactive * c.neuron_inactive_pj,
            "synaptic_ops": n_syn_total * c.syn_op_pj,
            "learning_updates": learning_updates * c.syn_update_pj,
            "on_chip_hops": ew * c.hop_ew_pj + ns * c.hop_ns_pj + out["messages"] * c.in_tile_pj,
            "chip_to_chip": chip_hops * c.chip_hop_pj,
            # P [mW] * t [ps] = P * t * 1e-15 J = P * t * 1e-3 pJ
            "static": c.static_mw_per_chip * chips_used * step * 1e-3,
        }
        return StepCost(
            messages=int(out["messages"]),
            hops=hops,
            chip_hops=chip_hops,
            max_link_load=int(out["link_load"].max(initial=0)),
            step_ps=step,
            barrier_ps=barrier,
            energy_pj=energy,
            arrive_ps=out.get("arrive"),
            done_ps=out.get("done"),
            link_load=out["link_load"],
            core_done_ps=out["core_free"],
        )
