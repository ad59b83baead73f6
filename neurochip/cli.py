"""The ``neurochip`` command line: info, compile, run, demo, scale, inspect.

Heavy modules (Brian2, the compiler, h5py) are imported inside the commands,
so ``neurochip --help`` answers at once. User mistakes (a bad argument, a
missing file, a network that does not fit) end with a one-line
``neurochip: error: ...`` and exit code 1; ``--json`` prints one JSON object on
stdout for scripts.

A network file is either a saved :class:`~neurochip.ChipProgram` (``.h5``) or
a Python file that defines a :class:`~neurochip.Network` named ``network`` or a
function ``build()`` returning one (when neither exists, the one Network among
its top-level names is used).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

EXIT_USER = 1


class UserError(Exception):
    """A mistake on the command line or in a user's file: reported in one line."""


# ------------------------------------------------------------------ helpers
def _emit(args, data: dict, text: str | None) -> None:
    if args.json:
        print(json.dumps(data, default=_jsonable))
    elif text:
        print(text)


def _jsonable(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


class Progress:
    """A progress bar on stderr, shown only when stderr is a terminal (or ``force``)."""

    def __init__(self, label: str, enabled: bool | None = None):
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        fill = int(width * done / max(total, 1))
        el = time.perf_counter() - self.t0
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {el:.1f}s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def load_network_file(path: str):
    """A Network (from a Python file or a saved network ``.h5``) or a ChipProgram (saved ``.h5``)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    if p.suffix in (".h5", ".hdf5"):
        from neurochip.hdf5io import kind_of

        if kind_of(p) == "network":
            from neurochip.network import Network

            return Network.load(p)
        from neurochip.program import ChipProgram

        return ChipProgram.load(p)
    if p.suffix != ".py":
        raise UserError(
            f"{path}: expected a Python network file (.py), a saved Network or a saved ChipProgram (.h5)"
        )
    import runpy

    from neurochip.network import Network

    try:
        namespace = runpy.run_path(str(p), run_name="neurochip_network")
    except SystemExit as e:
        raise UserError(f"{path}: the file called sys.exit({e.code})") from None
    except Exception as e:  # the user's code failed: say where, in one line
        tb = e.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(p):
                line = tb.tb_lineno
            tb = tb.tb_next
        where = f"{path}:{line}" if line else path
        raise UserError(f"{where}: {type(e).__name__}: {e}") from None
    net = namespace.get("network")
    if net is None and callable(namespace.get("build")):
        try:
            net = namespace["build"]()
        except Exception as e:
            raise UserError(f"{path}: build() failed: {type(e).__name__}: {e}") from None
    if net is None:
        found = [v for v in namespace.values() if isinstance(v, Network)]
        net = found[0] if len(found) == 1 else None
    if not isinstance(net, Network):
        raise UserError(
            f"{path}: defines no Network; name it `network` or give a build() function returning one"
        )
    return net


def _compile(args, obj):
    from neurochip.compiler import compile_network
    from neurochip.program import ChipProgram

    if isinstance(obj, ChipProgram):
        return obj
    return compile_network(
        obj,
        board=args.board,
        chips=args.chips,
        allocator=args.allocator,
        preset=args.preset,
        limits=args.limits,
    )


# ------------------------------------------------------------------ commands
def cmd_info(args) -> int:
    from neurochip import __version__
    from neurochip.presets import PRESETS
    from neurochip.routing.topology import BOARDS

    data = {
        "version": __version__,
        "presets": {
            n: {
                "chip": p.chip.name,
                "tiles": list(p.chip.tiles),
                "cores_per_chip": p.cores_per_chip,
                "compartments_per_core": p.core.compartments,
                "core_limits": p.core.as_dict(),
            }
            for n, p in PRESETS.items()
        },
        "boards": {
            n: {"chip": b.chip.name, "mesh": list(b.mesh), "chips": b.n_chips, "cores": b.n_cores}
            for n, b in BOARDS.items()
        },
        "backends": ["auto", "cython", "numpy", "cpp_standalone"],
        "allocators": ["greedy", "roundrobin", "traffic"],
    }
    lines = [f"neurochip {__version__}", "presets:"]
    for n, p in data["presets"].items():
        lim = ", ".join(f"{k} {v}" for k, v in p["core_limits"].items())
        lines.append(
            f"  {n}: {p['cores_per_chip']} cores per chip ({p['tiles'][0]} x {p['tiles'][1]} tiles), "
            f"per core: {lim}"
        )
    lines.append("boards:")
    for n, b in data["boards"].items():
        mesh = " x ".join(map(str, b["mesh"]))
        lines.append(f"  {n}: {b['chips']} {b['chip']} chip(s) ({mesh} mesh), {b['cores']} cores")
    lines.append("backends: " + ", ".join(data["backends"]))
    lines.append("allocators: " + ", ".join(data["allocators"]))
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_compile(args) -> int:
    program = _compile(args, load_network_file(args.file))
    data = {
        "file": args.file,
        "board": program.board,
        "preset": program.preset,
        "allocator": program.allocator,
        "chips_used": program.n_chips_used,
        "cores": program.n_cores,
        "compartments": program.n_compartments,
        "synapses": program.n_synapses,
        "peak_per_core": program.resources.peak(),
        "limits": program.limits.as_dict(),
        "notes": list(program.notes),
    }
    if args.output:
        data["program_file"] = program.save(args.output)
    text = program.summary() + "\n" + program.resources.table(max_rows=args.rows)
    if args.output:
        text += f"\nprogram written to {data['program_file']}"
    _emit(args, data, text)
    return 0


def _mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if not found:
        raise UserError("--mpi needs mpiexec: pip install 'neurochip[mpi]' (mpi4py and the MPICH wheel)")
    return found


def _relaunch_under_mpi(args, argv) -> int:
    """Run this same command under ``mpiexec -n R`` (without --mpi) and pass on its exit code."""
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--mpi":
            skip = True
            continue
        if a.startswith("--mpi="):
            continue
        rest.append(a)
    cmd = [_mpiexec(), "-n", str(args.mpi), sys.executable, "-m", "neurochip", *rest]
    return subprocess.call(cmd)


def cmd_run(args, argv) -> int:
    from neurochip.cores.brian2_mpi import launched_by_mpiexec

    if args.mpi and args.mpi > 1 and not launched_by_mpiexec():
        return _relaunch_under_mpi(args, argv)
    from neurochip.simulator import Simulator

    out = args.output or str(Path("out") / f"{Path(args.file).stem}.h5")
    ckpt = args.checkpoint or str(Path(out).with_suffix("")) + ".ckpt.h5"
    every = args.checkpoint_every
    if every is not None and every < 1:
        raise UserError(f"--checkpoint-every {every}: expected a positive number of steps")
    resumed_from = None
    if args.resume and Path(ckpt).exists():
        sim = Simulator.restore(ckpt, backend=args.backend)
        resumed_from = sim.steps
        if sim.steps > args.steps:
            sim.close()
            raise UserError(f"{ckpt}: the checkpoint is at step {sim.steps}, beyond --steps {args.steps}")
    else:
        sim = Simulator(
            _compile(args, load_network_file(args.file)),
            backend=args.backend,
            seed=args.seed,
            router=args.router,
        )
    progress = Progress(f"run {Path(args.file).name}", None if not args.json else False)
    with sim:
        if not sim.is_root:
            progress.enabled = False
        # stop at every checkpoint and (on a terminal) often enough for the progress bar
        stops = set(range(every, args.steps, every)) if every else set()
        if progress.enabled:
            stops |= {args.steps * k // 50 for k in range(1, 50)}
        for stop in sorted({*stops, args.steps}):
            if stop <= sim.steps:
                continue
            sim.run(stop - sim.steps)
            if every and (stop % every == 0 or stop == args.steps):  # the end too: a later, longer
                sim.checkpoint(ckpt)  # --resume run continues from it
            progress(sim.steps, args.steps)
        results = sim.results
        root = sim.is_root
    if not root:
        return 0
    path = results.save(out)
    m = results.metadata
    data = {
        "file": args.file,
        "results_file": path,
        "steps": results.steps,
        "spikes": results.total_spikes,
        "spike_counts": {k: int(v.sum()) for k, v in results.spike_counts.items()},
        "cores": m.get("cores"),
        "chips_used": m.get("chips_used"),
        "mpi_ranks": m.get("mpi_ranks"),
        "backend": m.get("backend"),
        "target": m.get("target"),
        "run_s": m.get("run_s"),
        "steps_per_s": results.steps / m["run_s"] if m.get("run_s") else None,
    }
    if every or resumed_from is not None:
        data["checkpoint"], data["resumed_from"] = ckpt, resumed_from
    if results.router is not None:
        data["router"] = results.router.totals()
    _emit(args, data, results.summary() + f"\nresults written to {path}")
    return 0


def cmd_demo(args) -> int:
    from neurochip.demos import format_summary, run_demo

    progress = Progress(f"demo {args.name}", None if not args.json else False)
    hidden = tuple(int(h) for h in args.hidden.split(",")) if args.hidden else None
    summary = run_demo(
        args.name,
        args.mode,
        steps=args.steps,
        hidden=hidden,
        limit=args.limit,
        seed=args.seed,
        board=args.board,
        backend=args.backend,
        out=args.output,
        plot=args.plot,
        progress=progress,
    )
    text = format_summary(summary) + f"\nresults written to {summary['results_file']}"
    if summary.get("plots"):
        text += "\nplots: " + ", ".join(summary["plots"])
    _emit(args, summary, text)
    return 0


def cmd_scale(args, argv) -> int:
    from neurochip.cores.brian2_mpi import comm_world, launched_by_mpiexec

    if args.mpi and args.mpi > 1 and not launched_by_mpiexec():
        return _relaunch_under_mpi(args, argv)
    from neurochip import scaling

    try:
        chips = [int(c) for c in args.chips.split(",")]
    except ValueError:
        raise UserError(f"--chips {args.chips!r}: expected chip counts such as 1,2,4,8") from None
    board = args.board
    if args.mesh:
        from neurochip.routing.topology import custom_board

        try:
            board = custom_board(tuple(int(m) for m in args.mesh.lower().split("x")))
        except ValueError:
            raise UserError(f"--mesh {args.mesh!r}: expected a mesh such as 4x4 or 2x2x2") from None
    progress = Progress(f"scale {args.mode}", None if not args.json else False)
    records = scaling.scale(
        args.mode,
        chips,
        per_chip=args.per_chip,
        n=args.compartments,
        board=board,
        steps=args.steps,
        backend=args.backend,
        allocator=args.allocator,
        local=args.local,
        seed=args.seed,
        simulate_up_to=args.simulate_up_to,
        progress=progress,
    )
    world = comm_world()
    if world is not None and world.Get_rank() != 0:  # every rank has the records; one writes
        return 0
    out = Path(args.output or f"out/scale-{args.mode}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=1))
    text = scaling.table(records) + f"\nJSON written to {out}"
    if args.plot:
        text += "\nplot: " + scaling.plot(records, out.with_suffix(".png"))
    _emit(args, {"points": records, "json_file": str(out)}, text)
    return 0


def cmd_inspect(args) -> int:
    from neurochip.errors import FileFormatError
    from neurochip.hdf5io import kind_of

    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"{args.file}: no such file")
    kind = kind_of(path)
    if kind == "chip_program":
        from neurochip.program import ChipProgram

        p = ChipProgram.load(path)
        data = {"kind": kind, "cores": p.n_cores, "chips_used": p.n_chips_used, "board": p.board}
        _emit(args, data, p.summary() + "\n" + p.resources.table())
        return 0
    if kind != "results":
        raise FileFormatError(f"{args.file}: not a neurochip results or program file (kind {kind!r})")
    from neurochip.results import Results

    r = Results.load(path)
    data = {
        "kind": kind,
        "steps": r.steps,
        "spikes": r.total_spikes,
        "spike_counts": {k: int(v.sum()) for k, v in r.spike_counts.items()},
        "probes": {k: p.variable for k, p in r.probes.items()},
        "metadata": r.metadata,
        "extras": {k: v for k, v in r.extras.items() if k == "demo"},
    }
    if r.router is not None:
        data["router"] = r.router.totals()
    text = r.summary()
    if "demo" in r.extras:
        from neurochip.demos import format_summary

        text += "\n" + format_summary(r.extras["demo"])
    _emit(args, data, text)
    return 0


# ------------------------------------------------------------------ parser
def _compile_options(p) -> None:
    p.add_argument("--board", help="board name (see `neurochip info`); default: as many chips as needed")
    p.add_argument("--chips", type=int, help="a row of this many chips (without --board)")
    p.add_argument("--allocator", default="greedy", choices=["greedy", "roundrobin", "traffic"])
    p.add_argument("--preset", default="loihi1", choices=["loihi1", "loihi2"])
    p.add_argument(
        "--limits",
        default="enforce",
        choices=["enforce", "report"],
        help="report: record excess, do not fail",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="neurochip",
        description="Simulate Loihi-style neuromorphic chips bit-exactly: compile, run, demos, inspection.",
        epilog="Run `neurochip COMMAND --help` for a command's options.",
    )
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="presets, boards and limits")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("compile", help="resource report and placement of a network file")
    p.add_argument("file", help="Python network file or saved ChipProgram (.h5)")
    _compile_options(p)
    p.add_argument("-o", "--output", help="save the compiled ChipProgram here (.h5)")
    p.add_argument("--rows", type=int, default=12, help="cores shown in the resource table")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("run", help="simulate a network file; results to HDF5")
    p.add_argument("file", help="Python network file or saved ChipProgram (.h5)")
    p.add_argument("--steps", type=int, required=True, help="steps to run")
    _compile_options(p)
    p.add_argument("--backend", default="auto", choices=["auto", "cython", "numpy", "cpp_standalone"])
    p.add_argument("--seed", type=int)
    p.add_argument("--router", action="store_true", help="model the router: messages, step time, energy")
    p.add_argument("--mpi", type=int, metavar="R", help="run over R MPI ranks (launches mpiexec)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="save the run's state every N steps")
    p.add_argument("--checkpoint", metavar="PATH", help="checkpoint file (default <output>.ckpt.h5)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint if there is one")
    p.add_argument("-o", "--output", help="results file (default out/<file>.h5)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("demo", help="recognition demos on the chip model")
    p.add_argument("name", choices=["digits", "mnist"])
    p.add_argument(
        "--mode",
        default="convert",
        choices=["convert", "learn"],
        help="convert: offline-trained weights; learn: learned on the chip (digits)",
    )
    p.add_argument("--steps", type=int, help="steps each sample is presented")
    p.add_argument("--hidden", help="hidden layer sizes, e.g. 128 or 256,64 (learn: excitatory neurons)")
    p.add_argument("--limit", type=int, help="classify only this many held-out samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--board", default="loihi1")
    p.add_argument("--backend", default="auto", choices=["auto", "cython", "numpy", "cpp_standalone"])
    p.add_argument("--plot", action="store_true", help="write PNGs (needs the plot extra)")
    p.add_argument("-o", "--output", help="results file (default out/demo-<name>-<mode>.h5)")
    p.add_argument("--json", action="store_true", help="print JSON (with `accuracy`)")

    p = sub.add_parser("scale", help="weak or strong multi-chip scaling experiment")
    p.add_argument("--mode", default="weak", choices=["weak", "strong"])
    p.add_argument("--chips", default="1,2,4,8", help="chip counts, e.g. 1,2,4,8,16")
    p.add_argument(
        "--per-chip", type=int, default=4096, help="compartments per chip (weak; strong default n)"
    )
    p.add_argument("--compartments", type=int, help="network size for strong scaling")
    p.add_argument("--board", default="pohoiki-beach", help="named board (see `neurochip info`)")
    p.add_argument("--mesh", help="custom chip mesh instead of --board, e.g. 4x4")
    p.add_argument("--allocator", default="greedy", choices=["greedy", "roundrobin", "traffic"])
    p.add_argument("--local", type=float, default=0.8, help="share of synapses within a chip's group")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--backend", default="auto", choices=["auto", "cython", "numpy", "cpp_standalone"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--simulate-up-to",
        type=int,
        metavar="C",
        help="simulate points up to C chips; larger ones run the router model alone on drawn traffic",
    )
    p.add_argument("--mpi", type=int, metavar="R", help="run every point over R MPI ranks")
    p.add_argument("--plot", action="store_true", help="write a PNG next to the JSON")
    p.add_argument("-o", "--output", help="JSON file (default out/scale-<mode>.json)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("inspect", help="summary of a results (or program) file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON")
    return ap


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from neurochip import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    from neurochip.errors import NeurochipError

    try:
        if args.command == "run":
            return cmd_run(args, argv)
        if args.command == "scale":
            return cmd_scale(args, argv)
        return {"info": cmd_info, "compile": cmd_compile, "demo": cmd_demo, "inspect": cmd_inspect}[
            args.command
        ](args)
    except (UserError, NeurochipError, FileNotFoundError) as e:
        print(f"neurochip: error: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("neurochip: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`neurochip ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
