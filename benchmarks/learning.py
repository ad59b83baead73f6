"""On-chip learning cost: 1,048,576 plastic synapses (1,024 -> 1,024 dense), pair STDP.

1,024 Poisson-like inputs at ~10 Hz drive 1,024 compartments (which fire at
~10 Hz) through a dense plastic projection. The same network runs for 1,000
steps with learning (t_epoch 2 and 1) and without, each in a fresh process;
prints a table and writes JSON with ``updates_per_s`` (synapse updates per
second of run time) and ``slowdown`` (run time with learning / without).

    python benchmarks/learning.py [--steps 1000] [--backend cython] [--out ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N = 1024


def build(steps: int, t_epoch: int | None):
    from neurochip.learning import pair_stdp

    import neurochip as nc

    rng = np.random.default_rng(2024)
    raster = rng.random((steps, N)) < 0.01  # 10 Hz at 1 ms per step
    w = rng.integers(1, 12, (N, N))  # every entry non-zero: 1,048,576 synapses
    rule = (
        None
        if t_epoch is None
        else pair_stdp(a_plus=2**-4, a_minus=2**-4, tau_plus=10, tau_minus=10, impulse=32, t_epoch=t_epoch)
    )
    with nc.Network("learning_bench") as net:
        inp = nc.SpikeInput(N, raster=raster, name="input")
        post = nc.Population(N, du=818, dv=205, vth_mant=5600, name="post")  # ~10 Hz
        nc.Projection(inp, post, w, sign_mode="mixed", learning_rule=rule, name="plastic")
    return net


def one(steps: int, t_epoch: int | None, backend: str) -> dict:
    import neurochip as nc

    net = build(steps, t_epoch)
    program = nc.compile_network(net)
    with nc.Simulator(program, backend=backend, seed=1) as sim:
        t0 = time.perf_counter()
        sim.run(steps)
        run_s = time.perf_counter() - t0
        r = sim.results
        updates = 0
        if sim._backend.learning is not None:
            updates = sum(e["learner"].synapses_updated for e in sim._backend.learning.learners)
    return dict(
        t_epoch=t_epoch,
        steps=steps,
        run_s=round(run_s, 4),
        synapses=program.n_synapses,
        post_rate_hz=round(r.spike_counts["post"].mean() / steps * 1000, 2),
        updates=updates,
        updates_per_s=round(updates / run_s, 1) if updates else None,
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--backend", default="cython")
    ap.add_argument("--reps", type=int, default=3, help="runs of each configuration (median reported)")
    ap.add_argument("--out", default="benchmarks/results/learning.json")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one is not None:
        te = None if a.one == "static" else int(a.one)
        print(json.dumps(one(a.steps, te, a.backend)), flush=True)
        return 0
    runs: dict[str, list[dict]] = {"static": [], "2": [], "1": []}
    for _ in range(a.reps):
        for key in runs:  # alternating, each in a fresh process
            out = subprocess.run(
                [sys.executable, __file__, "--one", key, "--steps", str(a.steps), "--backend", a.backend],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                sys.stderr.write(out.stderr)
                return 1
            runs[key].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {k: float(np.median([r["run_s"] for r in v])) for k, v in runs.items()}
    records = []
    print(f"{'t_epoch':>8} {'run s':>8} {'slowdown':>9} {'updates':>10} {'updates/s':>12} {'post Hz':>8}")
    for key in ("static", "2", "1"):
        r = dict(runs[key][0], run_s=med[key])
        r["slowdown"] = round(med[key] / med["static"], 3)
        if r["updates"]:
            r["updates_per_s"] = round(r["updates"] / med[key], 1)
        records.append(r)
        print(
            f"{key:>8} {med[key]:>8.3f} {r['slowdown']:>9.2f} {r['updates']:>10} "
            f"{r['updates_per_s'] or '-'!s:>12} {r['post_rate_hz']:>8}"
        )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    from neurochip.cores.brian2_learning import learning_threads

    threads = learning_threads(mpi=False)
    print(f"learning kernel threads: {threads} (NEUROCHIP_LEARNING_THREADS)")
    Path(a.out).write_text(json.dumps({"records": records, "runs": runs, "threads": threads}, indent=1))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
