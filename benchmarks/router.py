"""Router model throughput: steps of heavy traffic on Pohoiki Springs (768 chips).

Each step, every core of the board's 768 chips emits messages as its
compartments finish their updates (inject times spread over one core's update
phase, 1,024 compartments at 8.4 ns: 0 to 8.6 us): ``--messages`` in all, with
``--local`` of them to a core on the same chip, ``--near`` to a chip at most two
chip hops away in x and y, and the rest to any chip of the board; 1 to 63
synaptic events each. Timed: ``RouterModel.step`` (the exact asynchronous
simulation of every hop, queueing included, and the step's cost), per step;
``messages_per_s`` is messages over the summed step times. Also reported, for
comparison with the published figures: the modelled barrier and step time (vs
Frady et al. 2020, Pohoiki Springs: barrier 14.3-16.2 us, 5.8-13 us per step in
their workloads) and the energy per synaptic operation (vs Davies et al. 2018:
23.6 pJ per synaptic op at 0.75 V).

    python benchmarks/router.py                        # 4 steps of 4,000,000 messages
    python benchmarks/router.py --messages 1000000 --steps 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def traffic(rng, board, n: int, local: float, near: float, update_ps: int):
    """One step's messages: (source core, destination core, synaptic events, inject time)."""
    cpc = board.chip.cores_per_chip
    mesh = tuple(board.mesh) + (1,) * (3 - len(board.mesh))
    src = rng.integers(0, board.n_cores, n)
    chip = src // cpc
    kind = rng.random(n)
    dst_chip = chip.copy()
    near_ = (kind >= local) & (kind < local + near)
    far = kind >= local + near
    x, y = chip % mesh[0], (chip // mesh[0]) % mesh[1]
    z = chip // (mesh[0] * mesh[1])
    nx = np.clip(x[near_] + rng.integers(-2, 3, near_.sum()), 0, mesh[0] - 1)
    ny = np.clip(y[near_] + rng.integers(-2, 3, near_.sum()), 0, mesh[1] - 1)
    dst_chip[near_] = nx + mesh[0] * (ny + mesh[1] * z[near_])
    dst_chip[far] = rng.integers(0, board.n_chips, far.sum())
    dst = dst_chip * cpc + rng.integers(0, cpc, n)
    nsyn = rng.integers(1, 64, n)
    inject = np.sort(rng.integers(0, update_ps, n))
    return src, dst, nsyn, inject


def workload_args(doc: str, steps: int, out: str, argv=None, add=None) -> argparse.Namespace:
    """The command line of a benchmark on this workload (``--threads`` sets NEUROCHIP_THREADS;
    ``add(parser)``: the benchmark's own arguments)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if add is not None:
        add(ap)
    ap.add_argument("--board", default="pohoiki-springs")
    ap.add_argument("--messages", type=int, default=4_000_000, help="messages per step")
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--local", type=float, default=0.8, help="share of messages to the same chip")
    ap.add_argument("--near", type=float, default=0.15, help="share to a chip within 2 hops in x and y")
    ap.add_argument("--threads", type=int, help="kernel threads (default: NEUROCHIP_THREADS or all CPUs)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / out))
    args = ap.parse_args(argv)
    if args.threads:
        os.environ["NEUROCHIP_THREADS"] = str(args.threads)
    return args


def workload_steps(args, board, costs):
    """The steps of this workload, ``args.steps`` + 1 (step 0 warms up): (step number, its
    messages as ``traffic`` gives them, when each core is ready for input)."""
    rng = np.random.default_rng(args.seed)
    update_ps = 1024 * costs.neuron_active_ps
    ready = np.full(board.n_cores, update_ps, np.int64)
    for k in range(args.steps + 1):
        yield k, traffic(rng, board, args.messages, args.local, args.near, update_ps), ready


def differing(ref, other, step, ready) -> list[str]:
    """The results that model ``other`` (another kernel build) does not give exactly as ``ref``
    does on one step, with per-message results and without them (the mode the benchmarks
    time), each as ``'key' (per_message=...)``."""
    found = []
    for per_message in (True, False):
        a, b = (m.simulate(*step, ready, per_message=per_message) for m in (ref, other))
        found += [
            f"{key!r} (per_message={per_message})" for key, v in a.items() if not np.array_equal(v, b[key])
        ]
    return found


def workload_record(args) -> dict:
    """This workload's settings, for a benchmark's JSON."""
    from neurochip.routing.kernel import threads

    return dict(
        board=args.board,
        messages_per_step=args.messages,
        steps=args.steps,
        local=args.local,
        near=args.near,
        threads=threads(),
    )


def save(result: dict, out: str) -> None:
    """Write ``result``, with the host it ran on, as JSON to ``out``, and say where."""
    result.update(host_cpus=os.cpu_count(), python=platform.python_version(), date=time.strftime("%Y-%m-%d"))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1))
    print(f"JSON in {out}")


def main(argv=None) -> int:
    args = workload_args(__doc__, 4, "router.json", argv)

    from neurochip.routing.kernel import threads
    from neurochip.routing.router import RouterModel
    from neurochip.routing.topology import BOARDS

    board = BOARDS[args.board]
    model = RouterModel(board)
    _ = model.kernel  # compile (or load) outside the timing
    chips = board.n_chips
    rows = []
    for k, (src, dst, nsyn, inject), ready in workload_steps(args, board, model.costs):
        t0 = time.perf_counter()
        cost = model.step(
            src,
            dst,
            nsyn,
            inject,
            ready,
            active=board.n_cores * 1024,
            tiles_used=board.chip.n_tiles,
            chips_used=chips,
        )
        seconds = time.perf_counter() - t0
        if k == 0:  # warm-up, not counted
            continue
        synops = int(nsyn.sum())
        dynamic = sum(v for key, v in cost.energy_pj.items() if key != "static")
        rows.append(
            dict(
                messages=cost.messages,
                seconds=round(seconds, 4),
                messages_per_s=round(cost.messages / seconds),
                hops=cost.hops,
                chip_hops=cost.chip_hops,
                max_link_load=cost.max_link_load,
                step_us=round(cost.step_ps / 1e6, 3),
                barrier_us=round(cost.barrier_ps / 1e6, 3),
                traffic_us=round((cost.step_ps - cost.barrier_ps) / 1e6, 3),
                synaptic_ops=synops,
                pj_per_synop_synaptic=round(cost.energy_pj["synaptic_ops"] / synops, 3),
                pj_per_synop_dynamic=round(dynamic / synops, 3),
                pj_per_synop_total=round(sum(cost.energy_pj.values()) / synops, 3),
            )
        )
    total_messages = sum(r["messages"] for r in rows)
    rates = [r["messages_per_s"] for r in rows]
    total_seconds = sum(r["seconds"] for r in rows)
    cols = ["messages", "seconds", "messages_per_s", "chip_hops", "max_link_load", "step_us", "barrier_us"]
    print("  ".join(f"{col:>14}" for col in cols))
    for r in rows:
        print("  ".join(f"{r[col]!s:>14}" for col in cols))
    result = dict(
        benchmark="router",
        **workload_record(args),
        chips=chips,
        messages_per_s=round(total_messages / total_seconds),
        # the spread over the timed steps (a shared host's speed can drift from run to run)
        messages_per_s_steps=dict(min=min(rates), median=round(float(np.median(rates))), max=max(rates)),
        target_messages_per_s=2e7,
        modelled=dict(
            step_us_mean=round(float(np.mean([r["step_us"] for r in rows])), 3),
            barrier_us=rows[0]["barrier_us"],
            frady_2020_barrier_us=[14.3, 16.2],
            frady_2020_step_us=[5.8, 13.0],
            pj_per_synop_synaptic=rows[0]["pj_per_synop_synaptic"],
            pj_per_synop_dynamic=round(float(np.mean([r["pj_per_synop_dynamic"] for r in rows])), 3),
            pj_per_synop_total=round(float(np.mean([r["pj_per_synop_total"] for r in rows])), 3),
            davies_2018_pj_per_synop=23.6,
        ),
        rows=rows,
    )
    spread = result["messages_per_s_steps"]
    print(
        f"{result['messages_per_s'] / 1e6:.1f} M messages/s on {threads()} thread(s) "
        f"(steps {spread['min'] / 1e6:.1f} to {spread['max'] / 1e6:.1f}; target 20 M); "
        f"modelled step {result['modelled']['step_us_mean']} us with barrier "
        f"{result['modelled']['barrier_us']} us; {result['modelled']['pj_per_synop_dynamic']} pJ per "
        f"synaptic op dynamic, {result['modelled']['pj_per_synop_total']} with static power"
    )
    save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
