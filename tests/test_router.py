"""The compiled router model against the plain discrete-event reference."""

import numpy as np
import pytest
from neurochip.routing.costs import RouterCosts
from neurochip.routing.router import RouterModel
from neurochip.routing.topology import BOARDS, ChipSpec, custom_board
from router_reference import simulate

BOARD_CASES = [
    ("one chip", BOARDS["loihi1"]),
    ("kapoho-bay", BOARDS["kapoho-bay"]),
    ("3 x 2 mesh", custom_board((3, 2))),
    ("3-D 2 x 2 x 2", custom_board((2, 2, 2), chip="loihi2")),
    # rows and columns of more than 8 links, and cores per chip not a power of 2
    ("2 x 2 of 12 x 10-tile chips", custom_board((2, 2), ChipSpec("wide", (12, 10), 1, 1024, 1))),
]


def random_traffic(rng, board, n, hot=False):
    cores = board.n_cores
    src = rng.integers(0, cores, n)
    dst = rng.integers(0, cores, n) if not hot else rng.choice(rng.integers(0, cores, 3), n)
    n_syn = rng.integers(1, 40, n)
    if hot:
        n_syn[::7] += 65_500  # around 65,535: the kernel looks such counts up
    inject = rng.integers(0, 30_000, n)  # ps: cores emit spikes over their update phase
    ready = rng.integers(0, 50_000, cores)
    return src, dst, n_syn, inject, ready


@pytest.mark.parametrize("name,board", BOARD_CASES, ids=[c[0] for c in BOARD_CASES])
@pytest.mark.parametrize("load", ["light", "heavy", "hotspot"])
def test_router_model_equals_discrete_event_reference(name, board, load):
    rng = np.random.default_rng(hash((name, load)) % 2**32)
    n = {"light": 60, "heavy": 1500, "hotspot": 800}[load]
    costs = RouterCosts(chip_link_service_ps=5000) if load == "heavy" else RouterCosts()
    src, dst, n_syn, inject, ready = random_traffic(rng, board, n, hot=load == "hotspot")
    if load == "heavy":
        inject = inject // 1000  # bursts: many messages at the same instants
    model = RouterModel(board, costs)
    out = model.simulate(src, dst, n_syn, inject, ready)
    arrive, done, core_free, loads, paths = simulate(board, costs, src, dst, n_syn, inject, ready)
    np.testing.assert_array_equal(out["arrive"], arrive)
    np.testing.assert_array_equal(out["done"], done)
    np.testing.assert_array_equal(out["core_free"], [core_free[k] for k in range(board.n_cores)])
    assert out["hops"].tolist() == [len(p) for p in paths]
    # without per-message results, cores sum the work of arrivals before they are ready: the
    # same per-core, per-link and total results (ready times here fall before, among and after
    # the arrivals)
    lean = model.simulate(src, dst, n_syn, inject, ready, per_message=False)
    for key in ("core_free", "link_load", "link_free", "totals"):
        np.testing.assert_array_equal(lean[key], out[key], err_msg=key)
    assert sorted(out["link_load"][out["link_load"] > 0].tolist()) == sorted(loads.values())
    if load != "light":
        queued = np.asarray(arrive) - inject - costs.in_tile_ps
        bare = [
            sum(
                {
                    "ew": costs.hop_ew_ps + costs.link_service_ps,
                    "ns": costs.hop_ns_ps + costs.link_service_ps,
                    "chip": costs.chip_hop_ps + costs.chip_link_service_ps,
                }[k]
                for _, k in p
            )
            for p in paths
        ]
        assert (queued > np.asarray(bare)).any(), "the traffic should queue somewhere"


def test_chips_run_ahead_until_remote_traffic_can_reach_them():
    """Mostly local traffic with a few late messages between far chips: chips that nothing can
    reach yet run ahead of the window (their horizon), several messages share each pair of
    chips (only the first sets the horizon), and a burst at one instant queues at the chip
    links. Exact against the reference all the same."""
    board = custom_board((4, 3))
    rng = np.random.default_rng(21)
    cpc, n_local = board.chip.cores_per_chip, 1200
    chip = rng.integers(0, board.n_chips, n_local)
    src = chip * cpc + rng.integers(0, cpc, n_local)
    dst = chip * cpc + rng.integers(0, cpc, n_local)
    inject = rng.integers(0, 400_000, n_local)
    pairs = [(0, 11), (11, 0), (3, 8), (0, 11), (5, 6), (3, 8)]
    far_src = np.array([a * cpc + rng.integers(0, cpc) for a, _ in pairs for _ in range(5)])
    far_dst = np.array([b * cpc + rng.integers(0, cpc) for _, b in pairs for _ in range(5)])
    far_inject = np.repeat(rng.integers(200_000, 300_000, len(pairs)), 5)
    src, dst = np.concatenate([src, far_src]), np.concatenate([dst, far_dst])
    inject = np.concatenate([inject, far_inject])
    n_syn = rng.integers(1, 40, src.size)
    ready = rng.integers(0, 50_000, board.n_cores)
    costs = RouterCosts()
    out = RouterModel(board, costs).simulate(src, dst, n_syn, inject, ready)
    arrive, done, core_free, loads, _ = simulate(board, costs, src, dst, n_syn, inject, ready)
    np.testing.assert_array_equal(out["arrive"], arrive)
    np.testing.assert_array_equal(out["done"], done)
    np.testing.assert_array_equal(out["core_free"], [core_free[k] for k in range(board.n_cores)])
    assert sorted(out["link_load"][out["link_load"] > 0].tolist()) == sorted(loads.values())
    assert out["chip_hops"].sum() > 0


def test_a_link_still_busy_from_an_earlier_window_delays_a_message():
    """A burst at one instant keeps a tile link busy past the end of the window it came in
    (a chip hop long, since the other chip sends a message too). A message of the next window
    that takes only that link, alone in its window, must wait for it."""
    board = BOARDS["kapoho-bay"]
    cpt = board.chip.cores_per_tile  # tile (0, 0) has cores 0 .. cpt - 1, tile (1, 0) the next
    costs = RouterCosts()
    late = costs.chip_hop_ps + costs.chip_link_service_ps + 1_000
    src = np.array([0] * 400 + [board.chip.cores_per_chip, 1])
    dst = np.array([cpt] * 400 + [0, cpt + 1])
    inject = np.array([0] * 401 + [late])
    n_syn = np.ones(src.size, np.int64)
    ready = np.zeros(board.n_cores, np.int64)
    out = RouterModel(board, costs).simulate(src, dst, n_syn, inject, ready)
    arrive, *_ = simulate(board, costs, src, dst, n_syn, inject, ready)
    np.testing.assert_array_equal(out["arrive"], arrive)
    bare = late + costs.link_service_ps + costs.hop_ew_ps + costs.in_tile_ps
    assert arrive[-1] > bare, "the last message should have waited"


def test_the_fast_pass_keeps_a_link_busy_into_the_next_window_and_checks_every_pair():
    """The fast pass over a chain (no message waits): the last message of a window over a link
    leaves it busy for one service time into the next window, where a lone message must wait
    for it; and of eleven messages over one row, only the tenth and eleventh come within one
    service time of each other, so the eleventh must wait."""
    costs = RouterCosts()
    cpt, sv, window = 4, costs.link_service_ps, costs.chip_hop_ps + costs.chip_link_service_ps
    one_hop = sv + costs.hop_ew_ps + costs.in_tile_ps

    board = BOARDS["kapoho-bay"]  # a message from chip 1 keeps chip 0 to windows of `window`
    src = np.array([board.chip.cores_per_chip, 0, 1])
    dst = np.array([board.chip.n_tiles * cpt - 1, cpt, cpt + 1])  # tile (0, 0) to tile (1, 0)
    inject = np.array([0, window - 100, window + 50])
    case = (src, dst, np.ones(3, np.int64), inject, np.zeros(board.n_cores, np.int64))
    out = RouterModel(board, costs).simulate(*case)
    arrive, *_ = simulate(board, costs, *case)
    np.testing.assert_array_equal(out["arrive"], arrive)
    assert arrive[2] == window - 100 + sv + one_hop, "the lone message should wait for the link"

    board = BOARDS["loihi1"]
    src = np.arange(11) % cpt  # tile (0, 0) to tile (7, 0): all of row 0 going east
    dst = 7 * cpt + np.arange(11) % cpt
    inject = np.append(1000 * np.arange(10), 9000 + 100)
    case = (src, dst, np.ones(11, np.int64), inject, np.zeros(board.n_cores, np.int64))
    out = RouterModel(board, costs).simulate(*case)
    arrive, *_ = simulate(board, costs, *case)
    np.testing.assert_array_equal(out["arrive"], arrive)
    assert arrive[10] - arrive[9] == sv, "the eleventh message should wait behind the tenth"


def test_the_fast_pass_takes_messages_far_apart():
    """The fast pass works in 32-bit lanes relative to the first message of a chain. On one
    chip nothing from another chip can come, so the whole step is one window: two messages over
    the same row 2**32 + 1,000 ps apart meet in one pass, and the row's first link must stay
    busy until the second has left it (in 32 bits they would look 1,000 ps apart). Over
    windows, links a pass does not use keep their free times however long ago."""
    costs = RouterCosts()
    board = BOARDS["loihi1"]
    late = 2**32 + 1000
    src = np.array([0, 1])  # tile (0, 0) to tile (7, 0): all of row 0 going east
    dst = np.array([7 * 4, 7 * 4 + 1])
    case = (src, dst, np.ones(2, np.int64), np.array([0, late]), np.zeros(board.n_cores, np.int64))
    out = RouterModel(board, costs).simulate(*case)
    arrive, *_ = simulate(board, costs, *case)
    np.testing.assert_array_equal(out["arrive"], arrive)
    assert out["link_free"][0] == late + costs.link_service_ps  # tile (0, 0), east

    # over windows (a message from chip 1 keeps chip 0's short): a link of the row that the
    # late message does not take keeps its free time from 2**31 ps before
    board = BOARDS["kapoho-bay"]
    late = 2**31 + 5000
    src = np.array([board.chip.cores_per_chip, 0, 3 * 4])  # the last from tile (3, 0)
    dst = np.array([0, 7 * 4, 7 * 4 + 1])
    inject = np.array([0, 0, late])
    case = (src, dst, np.ones(3, np.int64), inject, np.zeros(board.n_cores, np.int64))
    out = RouterModel(board, costs).simulate(*case)
    arrive, *_ = simulate(board, costs, *case)
    np.testing.assert_array_equal(out["arrive"], arrive)
    assert out["link_free"][0] == costs.link_service_ps
    assert out["link_free"][3 * 4] == late + costs.link_service_ps  # tile (3, 0), east


def test_step_cost_and_energy():
    board = BOARDS["kapoho-bay"]
    model = RouterModel(board)
    c = model.costs
    src = np.array([0, 0, 5])
    dst = np.array([1, 128 + 127, 5])
    cost = model.step(
        src,
        dst,
        [10, 20, 3],
        [0, 0, 1000],
        np.zeros(board.n_cores, np.int64),
        active=3,
        inactive=5,
        learning_updates=7,
        tiles_used=32,
        chips_used=2,
    )
    assert cost.messages == 3 and cost.chip_hops == 1
    assert cost.step_ps == int(cost.core_done_ps.max()) + c.barrier_ps(32, 1)
    assert cost.energy_pj["synaptic_ops"] == pytest.approx(33 * c.syn_op_pj)
    assert cost.energy_pj["learning_updates"] == pytest.approx(7 * c.syn_update_pj)
    assert cost.energy_pj["neuron_updates"] == pytest.approx(3 * 81 + 5 * 52)
    assert cost.energy_pj["chip_to_chip"] == pytest.approx(c.chip_hop_pj)
    assert cost.energy_pj["static"] == pytest.approx(c.static_mw_per_chip * 2 * cost.step_ps * 1e-3)
    assert "chip 1 link" in model.link_name(int(np.argmax(cost.link_load >= 1) * 0 + model.n_links - 1))


def test_threads_give_the_same_results_on_a_large_step(monkeypatch):
    """Enough messages for the parallel paths (placement by source chip, chips run by threads):
    1 and 2 threads give identical per-message, per-link and per-core results."""
    board = custom_board((4, 4))
    rng = np.random.default_rng(9)
    src, dst, n_syn, inject, ready = random_traffic(rng, board, 150_000)
    results = []
    for threads in ("1", "2"):
        monkeypatch.setenv("NEUROCHIP_THREADS", threads)
        out = RouterModel(board).simulate(src, dst, n_syn, inject, ready)
        results.append(out)
        lean = RouterModel(board).simulate(src, dst, n_syn, inject, ready, per_message=False)
        for key in ("link_load", "link_free", "core_free", "totals"):
            np.testing.assert_array_equal(lean[key], out[key], err_msg=f"{key} without per-message results")
    one, two = results
    for key in ("arrive", "done", "hops", "chip_hops", "link_load", "link_free", "core_free", "totals"):
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)
    assert one["chip_hops"].sum() > 0
