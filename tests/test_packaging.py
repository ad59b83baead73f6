"""The subsystem folders install only as neurochip subpackages (DESIGN.md section 2)."""

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("cores", "routing", "learning", "datasets")


def test_wheel_holds_only_the_neurochip_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    names = zipfile.ZipFile(next(tmp_path.glob("neurochip-*.whl"))).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"neurochip", next(t for t in tops if t.endswith(".dist-info"))}
    for sub in SUBPACKAGES:
        assert f"neurochip/{sub}/__init__.py" in names
    assert "neurochip/cores/fixedpoint.py" in names


def fresh_python(code: str, cwd) -> str:
    """What ``code`` prints in a new interpreter started in ``cwd`` (so no import of ours is cached)."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def test_installed_package_resolves_subpackages_by_full_name(tmp_path):
    code = (
        "import importlib.util, json, neurochip.cores.fixedpoint, neurochip.routing, neurochip.learning, "
        "neurochip.datasets\n"
        "specs = {m: importlib.util.find_spec(m) for m in ('cores', 'routing', 'learning', 'datasets')}\n"
        "print(json.dumps({m: (s.origin if s else None) for m, s in specs.items()}))"
    )
    import json

    found = json.loads(fresh_python(code, tmp_path))
    for name, origin in found.items():
        # nothing of ours is importable as a top-level package (another project's `datasets` may be)
        assert origin is None or not origin.startswith(str(ROOT)), (name, origin)
    spec = importlib.util.find_spec("neurochip.cores")
    assert spec is not None and Path(spec.origin).parent.name == "cores"


def test_subpackages_are_reachable_as_attributes_after_import_neurochip(tmp_path):
    code = (
        "import sys, neurochip as nc\n"
        "assert 'neurochip.routing' not in sys.modules\n"
        "print(nc.routing.topology.BOARDS['nahuku'].n_chips, nc.cores.__name__,"
        " nc.learning.LearningRule.__name__, nc.datasets.__name__, 'routing' in dir(nc))\n"
    )
    out = fresh_python(code, tmp_path).split()
    assert out == ["32", "neurochip.cores", "LearningRule", "neurochip.datasets", "True"]
