"""benchmarks/router_ab.py: a candidate kernel is checked against the current one, then timed in turns."""

import json
import sys
from pathlib import Path

import pytest
from neurochip.routing.kernel import SOURCE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import router_ab  # noqa: E402

WORKLOAD = ["--board", "nahuku", "--messages", "20000", "--steps", "3"]


def test_a_candidate_with_the_same_results_is_timed_against_the_current_kernel(tmp_path):
    candidate = tmp_path / "same.py"
    candidate.write_text(f"SOURCE = {SOURCE!r}\n")
    out = tmp_path / "ab.json"
    assert router_ab.main([str(candidate), *WORKLOAD, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["identical"] and result["steps"] == 3
    assert [len(s) for s in result["seconds"].values()] == [3, 3]
    assert result["speedup"] > 0 and min(result["messages_per_s"].values()) > 0


def test_a_candidate_whose_results_differ_is_refused(tmp_path):
    anchor = "const int64_t arrive = t + P.in_tile;"
    assert SOURCE.count(anchor) == 1
    candidate = tmp_path / "late.py"  # every message reaches its core 1 ps late
    candidate.write_text(f"SOURCE = {SOURCE.replace(anchor, anchor[:-1] + ' + 1;')!r}\n")
    with pytest.raises(SystemExit, match="'arrive'"):
        router_ab.main([str(candidate), *WORKLOAD, "--out", str(tmp_path / "ab.json")])
    assert not (tmp_path / "ab.json").exists()


def test_a_candidate_that_differs_only_without_per_message_results_is_refused(tmp_path):
    # the timed steps run without per-message results, so that path is checked too: here a
    # core counts an arrival up to 1 us after it is ready as if it had come before
    anchor = "if (arrive <= P.core_free[k]) {"
    assert SOURCE.count(anchor) == 1
    candidate = tmp_path / "sloppy.py"
    candidate.write_text(f"SOURCE = {SOURCE.replace(anchor, anchor[:-3] + ' + 1000000) {')!r}\n")
    with pytest.raises(SystemExit, match=r"'core_free'.*per_message=False"):
        router_ab.main([str(candidate), *WORKLOAD, "--out", str(tmp_path / "ab.json")])
    assert not (tmp_path / "ab.json").exists()
