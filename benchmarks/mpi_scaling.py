"""Distributed runs: the chip-random workload over 1 and more MPI ranks.

Two chips' worth of the chip-random workload (N = 262,144 compartments on 256
cores, 64 random synapses each, 1,000 steps; see ``chip_random.py``) is
compiled once and saved; then, for each rank count R, ``mpiexec -n R`` runs it
with the chips split over the ranks. Timed: the ``run`` call, from a barrier
to the slowest rank's end. Every rank count must give the same spikes (the
per-compartment spike counts are compared). Prints a table and writes JSON with
``speedup`` (the 1-rank run time over the R-rank one).

    python benchmarks/mpi_scaling.py                      # N = 262,144, 1 and 2 ranks
    python benchmarks/mpi_scaling.py --N 32768 --T 200 --chips 2 --allocator roundrobin  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from chip_random import build_network, peak_rss_mb  # noqa: E402


def compile_program(N: int, K: int, path: Path, chips=None, allocator="greedy") -> dict:
    import neurochip as nc

    t0 = time.perf_counter()
    program = nc.compile_network(build_network(N, K), limits="report", chips=chips, allocator=allocator)
    program.save(path)
    return dict(
        compile_s=round(time.perf_counter() - t0, 3), chips=program.n_chips_used, cores=program.n_cores
    )


def worker(program_path: str, T: int, out: str) -> None:
    """One rank's part (run by mpiexec)."""
    import neurochip as nc

    t0 = time.perf_counter()
    program = nc.ChipProgram.load(program_path)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = nc.Simulator(program, backend="cython")
    setup_s = time.perf_counter() - t0
    comm = sim.comm
    if comm is not None:
        comm.Barrier()
    t0 = time.perf_counter()
    sim.run(T)
    if comm is not None:
        comm.Barrier()
    run_s = time.perf_counter() - t0
    counts = np.concatenate(list(sim.results.spike_counts.values()))
    rss = peak_rss_mb()
    rss_all = comm.allgather(rss) if comm is not None else [rss]
    ex = getattr(sim._backend, "exchange", None)
    sent = comm.allreduce(ex.messages) if ex is not None else 0
    if sim.is_root:
        np.save(out + ".counts.npy", counts)
        record = dict(
            ranks=sim.ranks,
            load_s=round(load_s, 3),
            setup_s=round(setup_s, 3),
            run_s=round(run_s, 4),
            spikes=int(counts.sum()),
            exchanged_ids=int(sent),
            peak_rss_mb_per_rank=rss_all,
        )
        Path(out).write_text(json.dumps(record))
    sim.close()


def launch(ranks: int, program_path: Path, T: int, out: Path) -> dict:
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("mpiexec not found: pip install -e '.[mpi]'")
    cmd = [sys.executable, __file__, "--worker", str(program_path), "--T", str(T), "--out", str(out)]
    subprocess.run([mpiexec, "-n", str(ranks), *cmd], check=True)
    record = json.loads(out.read_text())
    record["counts"] = np.load(str(out) + ".counts.npy")
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, default=262144)
    ap.add_argument("--K", type=int, default=64)
    ap.add_argument("--T", type=int, default=1000)
    ap.add_argument("--chips", type=int, help="spread over this many chips (default: as few as fit)")
    ap.add_argument("--allocator", default="greedy", help="greedy, roundrobin or traffic")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=1, help="runs per rank count (the fastest counts)")
    ap.add_argument("--out", default=str(HERE / "results" / "mpi_scaling.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.T, args.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        info = compile_program(args.N, args.K, tmp / "program.h5", args.chips, args.allocator)
        print(
            f"compiled N={args.N} K={args.K}: {info['cores']} cores on {info['chips']} chips "
            f"({info['compile_s']} s)"
        )
        records = []
        for ranks in args.ranks:
            runs = [
                launch(ranks, tmp / "program.h5", args.T, tmp / f"r{ranks}_{k}.json")
                for k in range(args.reps)
            ]
            best = min(runs, key=lambda r: r["run_s"])
            best["run_s_all"] = [r["run_s"] for r in runs]
            records.append(best)
    first = records[0]["counts"]
    for r in records:
        r["identical_to_first"] = bool(np.array_equal(r.pop("counts"), first))
        r["speedup"] = round(records[0]["run_s"] / r["run_s"], 3)
    print(
        f"{'ranks':>6} {'run_s':>8} {'setup_s':>8} {'spikes':>10} {'exchanged':>10} "
        f"{'speedup':>8} {'same':>5}"
    )
    for r in records:
        print(
            f"{r['ranks']:>6} {r['run_s']:>8.3f} {r['setup_s']:>8.3f} {r['spikes']:>10} "
            f"{r['exchanged_ids']:>10} {r['speedup']:>8.3f} {r['identical_to_first']!s:>5}"
        )
    out = dict(
        workload="chip-random",
        N=args.N,
        K=args.K,
        T=args.T,
        **info,
        speedup=records[-1]["speedup"],
        records=records,
        host_cpus=os.cpu_count(),
        python=platform.python_version(),
        date=time.strftime("%Y-%m-%d"),
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"speedup {out['speedup']}x on {args.ranks[-1]} ranks; JSON in {args.out}")
    return 0 if all(r["identical_to_first"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
