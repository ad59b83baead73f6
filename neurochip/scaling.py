"""Multi-chip scaling experiments behind ``neurochip scale``.

The workload is the chip-random network of the benchmarks (bias-driven CUBA
LIF compartments, 64 synapses each, 80 % excitatory, ~13 Hz) with local
structure: a share ``local`` of every neuron's synapses stays within its group
of ``group`` neurons (one chip's worth), the rest go anywhere.

* weak scaling: ``per_chip`` compartments on every chip, 1 -> N chips
  (Greedy allocator with as many cores per chip as one chip's share needs);
* strong scaling: one network of ``n`` compartments spread over 1 -> N chips
  (Greedy with ``ceil(cores / chips)`` cores per chip), or any allocator.

Per point: wall-clock simulation time and steps/s, the modeled step time and
energy per step of the router model, the share of messages that leave their
chip and the largest link load.
"""

from __future__ import annotations

import time

import numpy as np

from neurochip.errors import ValidationError

DYNAMICS = dict(du=818, ds_offset=1, dv=205, vth_mant=2000, bias_mant=1760, bias_exp=2, refractory=1)
W_EXC, W_INH = 20, -120


def scaling_network(n: int, *, fan_out: int = 64, local: float = 0.8, group: int = 4096, seed: int = 0):
    """The chip-random network with a share ``local`` of each neuron's targets in its own group."""
    import scipy.sparse

    from neurochip.network import Network, Population, Projection

    rng = np.random.default_rng(seed)
    pre = np.repeat(np.arange(n, dtype=np.int64), fan_out)
    anywhere = rng.integers(0, n, pre.size)
    g0 = (pre // group) * group
    gsize = np.minimum(group, n - g0)
    near = g0 + rng.integers(0, 2**62, pre.size) % gsize
    post = np.where(rng.random(pre.size) < local, near, anywhere)
    w = np.where(pre < int(round(0.8 * n)), W_EXC, W_INH)
    v0 = np.round(rng.uniform(0.0, 20.0, n) * 6400).astype(np.int64)
    with Network(f"scaling-{n}") as net:
        pop = Population(n, v_init=v0, name="neurons", **DYNAMICS)
        Projection(pop, pop, scipy.sparse.coo_matrix((w, (post, pre)), shape=(n, n)), name="recurrent")
    return net


def inter_chip_share(program, counts: np.ndarray) -> float:
    """Share of the run's messages (one per spike and destination core) that leave their chip."""
    a = program.arrays
    n_cx = program.n_compartments
    routes = np.diff(a["route_start"])[:n_cx]
    src = np.repeat(np.arange(n_cx), routes)
    dst_chip = a["core_chip"][a["route_core"][: routes.sum()]]
    src_chip = a["core_chip"][program.compartment_core()[src]]
    msgs = counts[src]
    total = msgs.sum()
    return float(msgs[dst_chip != src_chip].sum() / total) if total else 0.0


def run_point(
    n: int, chips: int, *, board, steps: int, backend: str, allocator, seed: int, per_chip: int, local: float
) -> dict:
    from neurochip.allocators import Greedy
    from neurochip.compiler import compile_network
    from neurochip.simulator import Simulator

    t0 = time.perf_counter()
    net = scaling_network(n, local=local, group=per_chip, seed=seed)
    cores = -(-n // board.chip.compartments_per_core)
    alloc = Greedy(cores_per_chip=-(-cores // chips)) if allocator == "greedy" else allocator
    program = compile_network(net, board=board, allocator=alloc, limits="report")
    compile_s = time.perf_counter() - t0
    with Simulator(program, backend=backend, seed=seed, router=True) as sim:
        sim.run(steps)
        res = sim.results
        run_s, build_s = sim.run_s, sim.build_s
    t = res.router.totals()
    counts = res.spike_counts["neurons"]
    return {
        "compartments": n,
        "chips": int(program.n_chips_used),
        "cores": int(program.n_cores),
        "synapses": int(program.n_synapses),
        "steps": steps,
        "spikes": int(counts.sum()),
        "compile_s": round(compile_s, 3),
        "build_s": round(build_s, 3),
        "wall_s": round(run_s, 4),
        "steps_per_s": round(steps / run_s, 2) if run_s else None,
        "modeled_step_us": t["step_time_us_mean"],
        "modeled_energy_per_step_uj": sum(t["energy_uj"].values()) / steps,
        "inter_chip_share": inter_chip_share(program, counts),
        "max_link_load": t["max_link_load"],
        "messages_per_step": t["messages"] / steps,
    }


def scale(
    mode: str = "weak",
    chips=(1, 2, 4, 8),
    *,
    per_chip: int = 4096,
    n: int | None = None,
    board="pohoiki-beach",
    steps: int = 200,
    backend: str = "auto",
    allocator="greedy",
    local: float = 0.8,
    seed: int = 0,
    progress=None,
) -> list[dict]:
    """One record per chip count (see the module docstring)."""
    from neurochip.presets import board_spec

    if mode not in ("weak", "strong"):
        raise ValidationError(f"scale.mode: {mode!r} is not 'weak' or 'strong'")
    chips = sorted({int(c) for c in chips})
    spec = board_spec(board)
    if chips[0] < 1 or chips[-1] > spec.n_chips:
        raise ValidationError(f"scale.chips: {chips} must lie in 1..{spec.n_chips} for board {spec.name!r}")
    if mode == "strong" and n is None:
        n = per_chip * chips[-1]
    records = []
    for k, c in enumerate(chips):
        size = per_chip * c if mode == "weak" else n
        rec = run_point(
            size, c, board=spec, steps=steps, backend=backend, allocator=allocator, seed=seed,
            per_chip=per_chip, local=local,
        )  # fmt: skip
        rec.update(mode=mode, board=spec.name, requested_chips=c)
        records.append(rec)
        if progress is not None:
            progress(k + 1, len(chips))
    return records


COLUMNS = (
    ("requested_chips", "chips", "{}"),
    ("compartments", "compartments", "{}"),
    ("cores", "cores", "{}"),
    ("wall_s", "wall s", "{:.3f}"),
    ("steps_per_s", "steps/s", "{:.1f}"),
    ("modeled_step_us", "model step us", "{:.2f}"),
    ("modeled_energy_per_step_uj", "model uJ/step", "{:.3f}"),
    ("inter_chip_share", "inter-chip", "{:.3f}"),
    ("max_link_load", "max link load", "{}"),
)


def table(records: list[dict]) -> str:
    head = "".join(f"{h:>15}" for _, h, _ in COLUMNS)
    rows = ["".join(f"{f.format(r[k]):>15}" for k, _, f in COLUMNS) for r in records]
    return "\n".join([head, *rows])


def plot(records: list[dict], path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = [r["requested_chips"] for r in records]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    axes[0].plot(c, [r["wall_s"] for r in records], "o-")
    axes[0].set(xlabel="chips", ylabel="wall-clock run s", xscale="log", yscale="log")
    axes[1].plot(c, [r["modeled_step_us"] for r in records], "o-")
    axes[1].set(xlabel="chips", ylabel="modeled step us", xscale="log")
    axes[2].plot(c, [r["inter_chip_share"] for r in records], "o-")
    axes[2].set(xlabel="chips", ylabel="inter-chip message share", xscale="log")
    fig.suptitle(f"{records[0]['mode']} scaling on {records[0]['board']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
