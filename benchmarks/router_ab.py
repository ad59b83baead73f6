"""A candidate router kernel against the current one, on the workload of ``router.py``.

A candidate is a Python file that defines ``SOURCE`` the way ``routing/kernel.py``
does (copy that file and edit it). Both are compiled. On the first step the
candidate's results must equal the current kernel's exactly (per message: arrival,
completion and hops; per link: load and when it is free; per core; the totals),
both with per-message results and without them (as the timed steps run), else it
stops and says which differ. Then both run every step on the same
messages, taking turns at going first: on a shared host a build that runs right
after another was measured up to ~5 % slower, which a fixed order would book to
one side. Printed and written to JSON: each kernel's median and fastest step, its
messages per second, and the speedup (current median / candidate median).

    python benchmarks/router_ab.py my_kernel.py                    # 12 steps of 4,000,000 messages
    python benchmarks/router_ab.py my_kernel.py --board nahuku --messages 300000
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from router import differing, save, workload_args, workload_record, workload_steps  # noqa: E402


def candidate_kernel(path: str):
    """The kernel compiled from the ``SOURCE`` that the Python file at ``path`` defines."""
    from neurochip.native import compile_cython

    spec = importlib.util.spec_from_file_location("router_candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return compile_cython(module.SOURCE, "neurochip_router_candidate", openmp=True)


def main(argv=None) -> int:
    def add(ap):
        ap.add_argument("candidate", help="a Python file defining SOURCE, like routing/kernel.py")

    args = workload_args(__doc__, 12, "router_ab.json", argv, add)

    from neurochip.routing.kernel import threads
    from neurochip.routing.router import RouterModel
    from neurochip.routing.topology import BOARDS

    board = BOARDS[args.board]
    models = {"current": RouterModel(board), "candidate": RouterModel(board)}
    _ = models["current"].kernel
    models["candidate"]._kernel = candidate_kernel(args.candidate)
    seconds = {name: [] for name in models}
    for k, step, ready in workload_steps(args, board, models["current"].costs):
        if k == 0:  # warm-up, and the check of the candidate's results
            differ = differing(models["current"], models["candidate"], step, ready)
            if differ:
                raise SystemExit(
                    f"the candidate's results differ from the current kernel's in {', '.join(differ)}"
                )
            continue
        for name in list(models)[:: 1 if k % 2 else -1]:
            t0 = time.perf_counter()
            models[name].simulate(*step, ready, per_message=False)
            seconds[name].append(time.perf_counter() - t0)
    median = {name: float(np.median(s)) for name, s in seconds.items()}
    speedup = median["current"] / median["candidate"]
    print(f"{args.messages:,} messages per step on {args.board}, {threads()} thread(s), {args.steps} steps")
    print(f"{'kernel':>10}{'median_s':>12}{'min_s':>12}{'messages_per_s':>16}")
    for name, s in seconds.items():
        print(f"{name:>10}{median[name]:>12.4f}{min(s):>12.4f}{args.messages / median[name]:>16.0f}")
    print(f"speedup {speedup:.3f}x (current median / candidate median); results identical")
    result = dict(
        benchmark="router_ab",
        candidate=str(args.candidate),
        **workload_record(args),
        identical=True,
        seconds={name: [round(x, 5) for x in s] for name, s in seconds.items()},
        median_s={name: round(v, 5) for name, v in median.items()},
        messages_per_s={name: round(args.messages / v) for name, v in median.items()},
        speedup=round(speedup, 4),
    )
    save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
