"""The chip-random workload on neurochip: N compartments, K random synapses each, T steps.

Exactly the workload of the peer benchmarks (``shared/bench/peers/chip_random_common.py``):
seed 12345; neuron i owns synapses i*K .. i*K+K-1 to targets drawn uniformly
with replacement (self-connections and multapses kept, as separate synapses);
the first 0.8 N sources excitatory (mantissa 20), the rest inhibitory (-120),
weight exponent 0, mixed sign mode; du 818 + ds_offset 1 (decay 819, tau 5),
dv 205 (tau 20), vth_mant 2000, bias 1760 * 2**2, refractory 1; initial v
round(uniform(0, 20 mV) * 6400). Compartment limits are those of Loihi 1
(1,024 per core: N = 131,072 is one full chip of 128 cores); the workload's
random fan-in exceeds Loihi 1's axon and synapse-memory limits, so it is
compiled with ``limits="report"`` and the excess is printed.

Each size runs in a fresh process (clean timings and peak RSS). Prints a table
and writes JSON (one record per size). With ``--backend cpp_standalone``,
``setup_s`` includes generating and compiling the C++ project, ``run_s`` is
the binary's wall time and ``net_run_s`` the network time inside it (the peers'
conventions for standalone runs).

    python benchmarks/chip_random.py                       # N = 1,024 / 16,384 / 131,072
    python benchmarks/chip_random.py --N 131072 --reps 3 --out results.json
    python benchmarks/chip_random.py --check-peers ../shared/bench/peers
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED = 12345
EXC_FRACTION = 0.8
LOIHI = dict(
    dv=205,
    du=818,
    ds_offset=1,
    vth_mant=2000,
    w_exc=20,
    w_inh=-120,
    weight_exp=0,
    bias_mant=1760,
    bias_exp=2,
    refractory=1,
)
V_PER_MV = 6400.0
V_TH_MV = 20.0
EXPECTED_SPIKES = {1024: 13785, 16384: 222005, 131072: 1823380}  # K = 64, T = 1000


def connectivity(N: int, K: int, seed: int = SEED):
    """(pre, post, is_exc_pre, v0_mV), drawn exactly as the peers draw them."""
    rng = np.random.default_rng(seed)
    post = rng.integers(0, N, size=N * K, dtype=np.int64).astype(np.int32)
    pre = np.repeat(np.arange(N, dtype=np.int32), K)
    v0 = rng.uniform(0.0, V_TH_MV, N)
    n_exc = int(round(EXC_FRACTION * N))
    return pre, post, pre < n_exc, v0


def build_network(N: int, K: int):
    import scipy.sparse

    import neurochip as nc

    pre, post, is_exc, v0 = connectivity(N, K)
    w = np.where(is_exc, LOIHI["w_exc"], LOIHI["w_inh"]).astype(np.int32)
    with nc.Network("chip_random") as net:
        pop = nc.Population(
            N,
            du=LOIHI["du"],
            ds_offset=LOIHI["ds_offset"],
            dv=LOIHI["dv"],
            vth_mant=LOIHI["vth_mant"],
            bias_mant=LOIHI["bias_mant"],
            bias_exp=LOIHI["bias_exp"],
            refractory=LOIHI["refractory"],
            v_init=np.round(v0 * V_PER_MV).astype(np.int64),
            name="neurons",
        )
        # (post, pre) matrix; COO keeps the multapses as separate synapses
        nc.Projection(
            pop,
            pop,
            scipy.sparse.coo_matrix((w, (post, pre)), shape=(N, N)),
            weight_exp=LOIHI["weight_exp"],
            sign_mode="mixed",
            name="recurrent",
        )
    return net


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def one(N: int, K: int, T: int, backend: str) -> dict:
    import neurochip as nc

    t0 = time.perf_counter()
    net = build_network(N, K)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    program = nc.compile_network(net, limits="report")
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = nc.Simulator(program, backend=backend)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(T)
    run_s = time.perf_counter() - t0
    results = sim.results
    extra = {}
    if backend == "cpp_standalone":
        # as the peers report standalone runs: build+compile apart, run = the binary's wall time
        m = results.metadata
        extra = dict(run_call_s=round(run_s, 4), net_run_s=m["backend_net_run_s"])
        setup_s += m["backend_compile_s"]
        run_s = m["backend_binary_s"]
    spikes = results.total_spikes
    sim.close()
    expected = EXPECTED_SPIKES.get(N) if (K, T) == (64, 1000) else None
    events = spikes * K
    return dict(
        workload="chip-random",
        peer="neurochip",
        backend=backend,
        target=results.metadata["target"],
        N=N,
        K=K,
        T=T,
        cores=program.n_cores,
        chips=program.n_chips_used,
        build_s=round(build_s, 4),
        compile_s=round(compile_s, 4),
        setup_s=round(setup_s, 4),
        run_s=round(run_s, 4),
        spikes=spikes,
        expected_spikes=expected,
        spikes_ok=None if expected is None else spikes == expected,
        syn_events=events,
        events_per_s=round(events / run_s, 1),
        rate_hz=round(spikes / (N * T * 1e-3), 3),
        peak_rss_mb=peak_rss_mb(),
        limit_notes=program.notes,
        python=platform.python_version(),
        brian2=results.metadata["brian2"],
        neurochip=nc.__version__,
        host_cpus=os.cpu_count(),
        **extra,
    )


def check_peers(peers_dir: str, sizes) -> None:
    """Compare the workload definition here with the peers' chip_random_common.py."""
    sys.path.insert(0, str(Path(peers_dir).resolve()))
    import chip_random_common as C

    assert C.SEED == SEED and C.EXC_FRACTION == EXC_FRACTION
    assert C.LOIHI["decay_I"] == LOIHI["du"] + LOIHI["ds_offset"] and C.LOIHI["decay_v"] == LOIHI["dv"]
    for k in ("vth_mant", "w_exc", "w_inh", "bias_mant", "bias_exp", "refractory"):
        assert C.LOIHI[k] == LOIHI[k], k
    assert C.LOIHI["w_exp"] == LOIHI["weight_exp"] and C.LOIHI_V_PER_MV == V_PER_MV
    for N in sizes:
        ours, theirs = connectivity(N, 64), C.connectivity(N, 64)
        for a, b in zip(ours, theirs, strict=True):
            assert np.array_equal(a, b), f"connectivity differs at N={N}"
        assert np.array_equal(np.round(ours[3] * V_PER_MV), C.loihi_v0(theirs[3]))
    print(f"workload matches {peers_dir}/chip_random_common.py for N = {list(sizes)}")


def table(records) -> str:
    cols = [
        "N",
        "cores",
        "build_s",
        "compile_s",
        "setup_s",
        "run_s",
        "spikes",
        "spikes_ok",
        "events_per_s",
        "rate_hz",
        "peak_rss_mb",
    ]
    lines = ["  ".join(f"{c:>12}" for c in cols)]
    for r in records:
        lines.append("  ".join(f"{r[c]!s:>12}" for c in cols))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[1024, 16384, 131072])
    ap.add_argument("--K", type=int, default=64)
    ap.add_argument("--T", type=int, default=1000)
    ap.add_argument("--backend", default="cython", help="cython (default), numpy or cpp_standalone")
    ap.add_argument("--reps", type=int, default=1, help="runs per size (each in a fresh process)")
    ap.add_argument("--out", default="benchmarks/results/chip_random.json")
    ap.add_argument("--check-peers", metavar="DIR", help="verify the workload against the peers' definition")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.N[0], a.K, a.T, a.backend)), flush=True)
        return 0
    if a.check_peers:
        check_peers(a.check_peers, a.N)
    records = []
    for N in a.N:
        for _ in range(a.reps):
            cmd = [
                sys.executable,
                __file__,
                "--one",
                "--N",
                str(N),
                "--K",
                str(a.K),
                "--T",
                str(a.T),
                "--backend",
                a.backend,
            ]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                sys.stderr.write(out.stderr)
                return out.returncode
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            records.append(rec)
            print(json.dumps(rec), file=sys.stderr, flush=True)
    print(table(records))
    for note in sorted({n for r in records for n in r["limit_notes"]}):
        print("note:", note)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(records, indent=1))
    print(f"wrote {a.out}")
    bad = [r for r in records if r["spikes_ok"] is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
