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
chip and the largest link load. Beyond what a simulation holds
(``simulate_up_to``), :func:`model_point` runs the router model alone on
traffic drawn like the workload's at the measured spike rate.
"""

from __future__ import annotations

import time

import numpy as np

from neurochip.errors import ValidationError

DYNAMICS = dict(du=818, ds_offset=1, dv=205, vth_mant=2000, bias_mant=1760, bias_exp=2, refractory=1)
W_EXC, W_INH = 20, -120


def draw_targets(rng, pre: np.ndarray, n: int, group: int, local: float) -> np.ndarray:
    """A target for each entry of ``pre``: with probability ``local`` in its own group of ``group``
    neurons, otherwise anywhere among the ``n``."""
    anywhere = rng.integers(0, n, pre.size)
    g0 = (pre // group) * group
    near = g0 + rng.integers(0, 2**62, pre.size) % np.minimum(group, n - g0)
    return np.where(rng.random(pre.size) < local, near, anywhere)


def scaling_network(n: int, *, fan_out: int = 64, local: float = 0.8, group: int = 4096, seed: int = 0):
    """The chip-random network with a share ``local`` of each neuron's targets in its own group."""
    import scipy.sparse

    from neurochip.network import Network, Population, Projection

    rng = np.random.default_rng(seed)
    pre = np.repeat(np.arange(n, dtype=np.int64), fan_out)
    post = draw_targets(rng, pre, n, group, local)
    g0 = (pre // group) * group
    gsize = np.minimum(group, n - g0)
    # 80 % excitatory within every group (the last 20 % of each group inhibit), so that each
    # group is as balanced as the whole: a group of excitatory neurons alone would run away
    w = np.where(pre - g0 < np.round(0.8 * gsize), W_EXC, W_INH)
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
    from neurochip.cores.brian2_mpi import abort_on_uncaught_exception, comm_world

    t0 = time.perf_counter()
    net = scaling_network(n, local=local, group=per_chip, seed=seed)
    cores = -(-n // board.chip.compartments_per_core)
    alloc = Greedy(cores_per_chip=-(-cores // chips)) if allocator == "greedy" else allocator
    program = compile_network(net, board=board, allocator=alloc, limits="report")
    compile_s = time.perf_counter() - t0
    # under mpiexec, ranks step whole chips: a point on fewer chips than ranks runs on the first
    # ones, and the others receive its record
    world = comm_world()
    if world is None:
        return _simulate_point(program, n, steps, backend, seed, compile_s, None)
    abort_on_uncaught_exception()  # an error on a rank running the point stops those waiting for it
    ranks = min(world.Get_size(), program.n_chips_used)
    runs = world.Get_rank() < ranks
    comm = world.Split(0 if runs else 1, world.Get_rank())
    record = _simulate_point(program, n, steps, backend, seed, compile_s, comm) if runs else None
    comm.Free()
    return world.bcast(record, root=0)


def _simulate_point(program, n, steps, backend, seed, compile_s, comm) -> dict:
    from neurochip.simulator import Simulator

    with Simulator(program, backend=backend, seed=seed, router=True, comm=comm) as sim:
        sim.run(steps)
        res = sim.results
        run_s, build_s = sim.run_s, sim.build_s
        ranks = sim.comm.Get_size() if sim.comm is not None else 1
    t = res.router.totals()
    counts = res.spike_counts["neurons"]
    return {
        "mpi_ranks": ranks,
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


def model_point(
    n: int,
    chips: int,
    *,
    board,
    rate: float,
    steps: int = 20,
    fan_out: int = 64,
    local: float = 0.8,
    per_chip: int = 4096,
    seed: int = 0,
) -> dict:
    """The router model alone, on traffic drawn like the workload's, for sizes no simulation holds.

    Every step each compartment spikes with probability ``rate`` (measured on a simulated point);
    a spike sends one message per distinct destination core among ``fan_out`` targets drawn like
    :func:`scaling_network`'s (a share ``local`` in the spiker's group of ``per_chip``). Cores are
    filled in order, ``ceil(cores / chips)`` per chip as the Greedy allocator does; every core
    updates all its compartments (those that spiked or got input at the active cost) and releases
    each spike when its compartment's update is done.
    """
    from neurochip.routing.router import RouterModel
    from neurochip.routing.stats import core_updates, release_ps

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    model = RouterModel(board)
    cx_per_core = board.chip.compartments_per_core
    cores = -(-n // cx_per_core)
    per = -(-cores // chips)
    core_of = np.arange(cores)
    board_core = (core_of // per) * board.chip.cores_per_chip + core_of % per
    core_n = np.diff(np.minimum(np.arange(cores + 1) * cx_per_core, n))
    per_step = {"messages": [], "step_ps": [], "energy": [], "chip_msgs": [], "max_load": []}
    events_in = np.zeros(cores, np.int64)
    for _ in range(steps):
        spikers = np.flatnonzero(rng.random(n) < rate)
        src = np.repeat(spikers, fan_out)
        tgt = draw_targets(rng, src, n, per_chip, local)
        pair, nsyn = np.unique(src * cores + tgt // cx_per_core, return_counts=True)
        s_cx, d_core = pair // cores, pair % cores
        s_core = s_cx // cx_per_core
        spikes_per_core = np.bincount(spikers // cx_per_core, minlength=cores)
        active, update = core_updates(model.costs, core_n, spikes_per_core, events_in)
        inject = release_ps(update, s_core, s_cx % cx_per_core, core_n)
        ready = np.zeros(board.n_cores, np.int64)
        ready[board_core] = update
        cost = model.step(
            board_core[s_core], board_core[d_core], nsyn, inject, ready,
            active=int(active.sum()), inactive=int((core_n - active).sum()),
            tiles_used=len(np.unique(board_core // board.chip.cores_per_tile)), chips_used=chips,
        )  # fmt: skip
        events_in = np.bincount(d_core, weights=nsyn, minlength=cores).astype(np.int64)
        per_step["messages"].append(cost.messages)
        per_step["step_ps"].append(cost.step_ps)
        per_step["energy"].append(sum(cost.energy_pj.values()))
        per_step["chip_msgs"].append(int(np.count_nonzero(s_core // per != d_core // per)))
        per_step["max_load"].append(cost.max_link_load)
    msgs = sum(per_step["messages"])
    return {
        "compartments": n,
        "chips": chips,
        "cores": cores,
        "synapses": n * fan_out,
        "steps": steps,
        "spikes": None,
        "model_only": True,
        "model_s": round(time.perf_counter() - t0, 3),
        "wall_s": None,
        "steps_per_s": None,
        "modeled_step_us": float(np.mean(per_step["step_ps"])) / 1e6,
        "modeled_energy_per_step_uj": float(np.mean(per_step["energy"])) / 1e6,
        "inter_chip_share": sum(per_step["chip_msgs"]) / msgs if msgs else 0.0,
        "max_link_load": int(max(per_step["max_load"], default=0)),
        "messages_per_step": msgs / steps,
        "rate": rate,
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
    simulate_up_to: int | None = None,
    model_steps: int = 20,
    progress=None,
) -> list[dict]:
    """One record per chip count (see the module docstring).

    Chip counts above ``simulate_up_to`` are not simulated: :func:`model_point` runs the router
    model alone on traffic drawn at the spike rate of the largest simulated point.
    """
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
    simulated = [c for c in chips if simulate_up_to is None or c <= simulate_up_to]
    if not simulated:
        raise ValidationError(f"scale.simulate_up_to: {simulate_up_to} leaves no simulated point")
    for k, c in enumerate(chips):
        size = per_chip * c if mode == "weak" else n
        if c in simulated:
            rec = run_point(
                size, c, board=spec, steps=steps, backend=backend, allocator=allocator, seed=seed,
                per_chip=per_chip, local=local,
            )  # fmt: skip
            rate = rec["spikes"] / (rec["compartments"] * steps)
        else:
            rec = model_point(
                size, c, board=spec, rate=rate, steps=model_steps, local=local, per_chip=per_chip, seed=seed
            )
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
    """Fixed-width rows; model-only points (no simulation) show ``model`` for the wall-clock figures."""
    head = "".join(f"{h:>15}" for _, h, _ in COLUMNS)
    rows = [
        "".join(f"{('model' if r[k] is None else f.format(r[k])):>15}" for k, _, f in COLUMNS)
        for r in records
    ]
    return "\n".join([head, *rows])


def plot(records: list[dict], path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = [r["requested_chips"] for r in records]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    sim = [r for r in records if r["wall_s"] is not None]
    axes[0].plot([r["requested_chips"] for r in sim], [r["wall_s"] for r in sim], "o-")
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
