"""Where the router kernel's time goes: the workload of ``router.py``, on a profiling build.

The kernel's phase timers (``NCR_TICK``/``NCR_PHASE`` in ``routing/kernel.py``)
are no code in the normal build; this compiles a second build with
``NCR_PROFILE`` defined, checks that its results equal the normal build's on the
first step (with and without per-message results), and times each phase per
thread and step (ms): planning (wall time, both threads), injections into the
chain queues, tile chains, chip links, scanning the planned messages and the
loop over chips, barrier waits, the box drain between windows, and serving the
cores. The timers cost a little
(a clock read around each chip's window), so ``seconds`` here runs a few per
cent above ``router.py``'s.

    python benchmarks/router_phases.py                   # 2 steps of 4,000,000 messages
    python benchmarks/router_phases.py --board nahuku --messages 300000
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from router import differing, save, workload_args, workload_record, workload_steps  # noqa: E402


def profiling_kernel():
    """The router kernel compiled with its phase timers."""
    from neurochip.routing.kernel import SOURCE

    from neurochip.native import compile_cython

    anchor = "#include <algorithm>"
    assert SOURCE.count(anchor) == 1
    source = SOURCE.replace(anchor, "#define NCR_PROFILE 1\n    " + anchor)
    return compile_cython(source, "neurochip_router_profile", openmp=True)


def main(argv=None) -> int:
    args = workload_args(__doc__, 2, "router_phases.json", argv)

    from neurochip.routing.kernel import PHASES, threads
    from neurochip.routing.router import RouterModel
    from neurochip.routing.topology import BOARDS

    board = BOARDS[args.board]
    plain, model = RouterModel(board), RouterModel(board)
    _ = plain.kernel
    model._kernel = profiling_kernel()
    n_threads = threads()
    rows = []
    for k, step, ready in workload_steps(args, board, model.costs):  # step 0 also checks the build
        if k == 0:
            differ = differing(plain, model, step, ready)
            if differ:
                raise SystemExit(f"the profiling build differs from the plain one in {', '.join(differ)}")
            continue
        phases = np.zeros((n_threads, len(PHASES)), np.int64)
        t0 = time.perf_counter()
        model.simulate(*step, ready, per_message=False, phases=phases)
        seconds = time.perf_counter() - t0
        rows.append(dict(seconds=round(seconds, 4), ms=(phases / 1e6).round(2).tolist()))
    mean = np.mean([r["ms"] for r in rows], axis=0)  # (threads, phases)
    print(f"{args.messages:,} messages per step on {args.board}, {n_threads} thread(s); ms per step")
    print(f"{'phase':>12}" + "".join(f"{f'thread {t}':>10}" for t in range(n_threads)))
    for p, name in enumerate(PHASES):
        print(f"{name:>12}" + "".join(f"{mean[t, p]:>10.1f}" for t in range(n_threads)))
    print(f"{'step (wall)':>12}{1e3 * np.mean([r['seconds'] for r in rows]):>10.1f}")
    result = dict(
        benchmark="router_phases",
        **workload_record(args),
        phases=list(PHASES),
        ms_per_step=mean.round(2).tolist(),
        rows=rows,
    )
    save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
