"""Side-by-side timing of neurochip and the peer simulators on the chip-random workload.

Runs, alternating and each in a fresh process: neurochip (``chip_random.py``)
and each peer script from the peers directory (``bench_brian2.py``,
``bench_brian2_loihi.py`` ...) with the Python interpreter given for it.
Reports the median run time of each, the ratios neurochip / peer, and checks
that the spike counts agree where the models are the same (integer Loihi).
Peers' Cython caches are warmed by one untimed run first.

    python benchmarks/compare_peers.py --peers-dir ../shared/bench/peers --N 131072 --reps 3 \\
        --peer brian2-cython=.venv/bin/python:bench_brian2.py:--mode,cython \\
        --peer b2loihi-standalone=/tmp/peers/b2loihi/bin/python:bench_brian2_loihi.py:--mode,cpp_standalone

``--peer NAME=PYTHON:SCRIPT:ARG,ARG`` may be given several times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_json(cmd, cwd=None) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if out.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers-dir", required=True)
    ap.add_argument("--N", type=int, default=131072)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--backend", action="append", help="neurochip backend(s); default cython")
    ap.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON:SCRIPT:ARGS")
    ap.add_argument("--out", default="benchmarks/results/compare_peers.json")
    a = ap.parse_args(argv)
    peers_dir = Path(a.peers_dir).resolve()
    cache = Path(tempfile.mkdtemp(prefix="nc_peer_cache_"))
    commands = {
        f"neurochip-{b}": [
            sys.executable,
            str(HERE / "chip_random.py"),
            "--one",
            "--N",
            str(a.N),
            "--backend",
            b,
        ]
        for b in (a.backend or ["cython"])
    }
    ours = list(commands)
    for spec in a.peer:
        name, rest = spec.split("=", 1)
        python, script, args = rest.split(":", 2)
        cmd = [python, str(peers_dir / script), "--N", str(a.N), *[x for x in args.split(",") if x]]
        if "cython" in args:
            cmd += ["--cache-dir", str(cache / name)]
        commands[name] = cmd
    for name, cmd in commands.items():  # warm caches, untimed
        print(f"warm-up {name}", file=sys.stderr, flush=True)
        run_json(cmd, cwd=peers_dir)
    runs: dict[str, list[dict]] = {n: [] for n in commands}
    for rep in range(a.reps):
        for name, cmd in commands.items():
            rec = run_json(cmd, cwd=peers_dir)
            runs[name].append(rec)
            print(
                f"rep {rep + 1} {name}: run {rec['run_s']} s, {rec['spikes']} spikes",
                file=sys.stderr,
                flush=True,
            )
    med = {n: statistics.median(r["run_s"] for r in rs) for n, rs in runs.items()}
    net = {n: statistics.median(r["net_run_s"] for r in rs) for n, rs in runs.items() if "net_run_s" in rs[0]}
    summary = {
        "N": a.N,
        "reps": a.reps,
        "median_run_s": med,
        "median_net_run_s": net,
        "ratios": {f"{o} / {n}": round(med[o] / med[n], 3) for o in ours for n in med if n not in ours},
        "spikes": {n: sorted({r["spikes"] for r in rs}) for n, rs in runs.items()},
        "runs": runs,
    }
    peers = [n for n in med if n not in ours]
    print(
        f"{'simulator':<26} {'run s':>8} {'in-binary s':>12} {'spikes':>10}  "
        + "  ".join(f"{o.split('-', 1)[1]}/it" for o in ours)
    )
    for n, m in med.items():
        ratios = (
            "  ".join(f"{med[o] / m:>{len(o.split('-', 1)[1]) + 3}.3f}" for o in ours) if n in peers else ""
        )
        inb = f"{net[n]:.3f}" if n in net else "-"
        print(f"{n:<26} {m:>8.3f} {inb:>12} {summary['spikes'][n][0]:>10}  {ratios}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(summary, indent=1))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
