"""neurochip's spike queue hands Brian2's pathways exactly what Brian2's own queue does."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from neurochip.cores.spike_queue import queue_class

DT = 1e-3


def brian2_queue(start, end):
    from brian2.synapses.cythonspikequeue import SpikeQueue

    return SpikeQueue(source_start=start, source_end=end)


def replay(queue, sources, delays, steps, redelay_at=None, new_delays=None):
    """What ``peek`` returns at every step, pushing ``steps[t]`` (sorted spikes) each step."""
    queue.prepare(delays * DT, DT, sources)
    due = []
    for t, spikes in enumerate(steps):
        if t == redelay_at:  # learned delays: prepared again with spikes in flight
            queue.prepare(new_delays * DT, DT, sources)
        if spikes.size:
            queue.push(spikes)
        due.append(np.array(queue.peek(), copy=True))
        queue.advance()
    return due


@st.composite
def pathways(draw):
    n_src = draw(st.integers(1, 40))
    start = draw(st.integers(0, 5))
    n_syn = draw(st.integers(0, 200))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    sources = rng.integers(start, start + n_src, n_syn).astype(np.int32)
    if draw(st.booleans()):
        sources.sort()  # Brian2's usual layout; the other case needs the permutation
    kind = draw(st.sampled_from(["scalar", "per-synapse", "zero"]))
    if kind == "scalar":
        delays = np.array([float(rng.integers(0, 63))])
    elif kind == "zero":
        delays = np.array([0.0])
    else:
        delays = rng.integers(0, 63, n_syn).astype(np.float64)
    steps = []
    for _ in range(draw(st.integers(1, 90))):
        # spikes of the source group, which may be larger than this pathway's subgroup
        fired = np.flatnonzero(rng.random(start + n_src + 3) < 0.3).astype(np.int32)
        steps.append(fired)
    redelay = draw(st.none() | st.integers(0, len(steps) - 1))
    new_delays = rng.integers(0, 63, max(n_syn, 1)).astype(np.float64)[: max(n_syn, 1)]
    if n_syn == 0:
        new_delays = np.array([0.0])
    return start, start + n_src, sources, delays, steps, redelay, new_delays


@settings(max_examples=150, deadline=None)
@given(pathways())
def test_same_synapses_due_at_every_step(case):
    start, end, sources, delays, steps, redelay, new_delays = case
    ours = replay(queue_class()(start, end), sources, delays, steps, redelay, new_delays)
    theirs = replay(brian2_queue(start, end), sources, delays, steps, redelay, new_delays)
    assert len(ours) == len(theirs)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"step {t}")


def test_warm_up_leaves_results_alone():
    rng = np.random.default_rng(5)
    sources = np.sort(rng.integers(0, 50, 3000)).astype(np.int32)
    steps = [np.flatnonzero(rng.random(50) < 0.2).astype(np.int32) for _ in range(30)]
    plain = replay(queue_class()(0, 50), sources, np.array([2.0]), steps)
    warmed = queue_class()(0, 50)
    post, w = rng.integers(0, 99, 3000).astype(np.int32), rng.integers(-9, 9, 3000).astype(np.int32)
    warmed.warm_up(post, w)
    for a, b in zip(plain, replay(warmed, sources, np.array([2.0]), steps), strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_round_trip_and_dt_change():
    q = queue_class()(0, 4)
    q.prepare(np.array([0.0, 2e-3, 1e-3]), DT, np.array([0, 1, 1], np.int32))
    q.push(np.array([0, 1], np.int32))
    state = q._full_state()
    other = queue_class()(0, 4)
    other._restore_from_full_state(state)
    other.prepare(np.array([0.0, 2e-3, 1e-3]), DT, np.array([0, 1, 1], np.int32))
    for _ in range(3):
        np.testing.assert_array_equal(q.peek(), other.peek())
        q.advance()
        other.advance()
    q.push(np.array([1], np.int32))
    with pytest.raises(ValueError, match="dt changed"):
        q.prepare(np.array([0.0]), 2 * DT, np.array([0, 1, 1], np.int32))
