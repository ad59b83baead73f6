"""What moving a spike and updating a core cost: times and energies of the router model.

Published figures (Davies et al., IEEE Micro 2018, Table 2; pre-silicon, 0.75 V)
and Pohoiki Springs measurements (Frady et al. 2020) are used as given. No
chip-to-chip latency, bandwidth or energy is published: those are named
assumptions here (``ASSUMED``) and every report says so.

Times are integer picoseconds, so that the model and its reference agree
exactly; energies are picojoules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RouterCosts:
    # --------------------------------------------------------------- times, ps
    hop_ew_ps: int = 4100  # tile hop east-west (Davies 2018: 4.1 ns)
    hop_ns_ps: int = 6500  # tile hop north-south (6.5 ns)
    in_tile_ps: int = 2100  # router to core within a tile (2.1 ns)
    link_service_ps: int = 291  # one message per link per 0.291 ns: 3.44 Gspike/s per tile
    syn_op_ps: int = 3500  # one synaptic event at the destination core (3.5 ns)
    neuron_active_ps: int = 8400  # compartment update that had input or spiked (8.4 ns)
    neuron_inactive_ps: int = 5300  # other compartment updates (5.3 ns)
    barrier_1_tile_ps: int = 113_000  # on-chip barrier, 1 tile (113 ns) ...
    barrier_32_tiles_ps: int = 465_000  # ... to 32 tiles (465 ns), linear in between
    # Frady 2020: 14.3-16.2 us barrier over Pohoiki Springs (12 x 64 chips, 74 chip hops
    # across): the multi-chip part is modelled per chip hop of the board's diameter.
    barrier_per_chip_hop_ps: int = 213_000
    chip_hop_ps: int = 100_000  # ASSUMED: chip-to-chip link latency (100 ns)
    chip_link_service_ps: int = 2000  # ASSUMED: chip-to-chip bandwidth 0.5 Gspike/s per link
    # ------------------------------------------------------------ energies, pJ
    syn_op_pj: float = 23.6
    syn_update_pj: float = 120.0  # a learning update of one synapse
    neuron_active_pj: float = 81.0
    neuron_inactive_pj: float = 52.0
    in_tile_pj: float = 1.7
    hop_ew_pj: float = 3.0
    hop_ns_pj: float = 4.0
    chip_hop_pj: float = 100.0  # ASSUMED: chip-to-chip link energy per message
    static_mw_per_chip: float = 104.4  # Frady 2020: 3.34 W over 32 chips

    ASSUMED = ("chip_hop_ps", "chip_link_service_ps", "chip_hop_pj", "barrier_per_chip_hop_ps")

    def barrier_ps(self, tiles_used: int, chip_diameter: int) -> int:
        """Barrier after a step: on-chip part by tiles in use, plus chip hops across the board."""
        t = max(1, min(32, int(tiles_used)))
        on_chip = self.barrier_1_tile_ps + (self.barrier_32_tiles_ps - self.barrier_1_tile_ps) * (t - 1) // 31
        return on_chip + self.barrier_per_chip_hop_ps * int(chip_diameter)

    @property
    def min_delay_ps(self) -> int:
        """The shortest time between a message entering a link and entering the next one."""
        return min(self.hop_ew_ps, self.hop_ns_ps, self.chip_hop_ps) + min(
            self.link_service_ps, self.chip_link_service_ps
        )

    def as_dict(self) -> dict:
        return asdict(self)

    def assumptions(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)}" for k in self.ASSUMED)


DEFAULT_COSTS = RouterCosts()
