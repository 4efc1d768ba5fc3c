"""Ahead, tied or unproven: the rules on hand-made intervals, then on simulated servers.

The simulation. A server has a true capacity C (req/s). Each repeat of the SLO search sees a capacity
c_i = C (1 + 0.05 z_i), z_i standard normal (the repeat-to-repeat noise of fresh seeds and server starts,
~5%). The search ends with the highest rate that held, v_i, and the lowest that failed, v_i / (1 - r_i):
its resolution r_i is uniform in [2.5%, 5%] (bisection stops once the gap is within the 5% tolerance, so
the final gap lies between half of it and all of it), and c_i sits at a uniform position inside that
bracket. The standard profile runs 3 repeats. Seeds are fixed, so each test sees the same numbers.
"""

import math

import numpy as np
import pytest

from servingbench.measure import comparison as cmp

NOISE = 0.05
TOLERANCE = 0.05
REPEATS = 3


def simulated_run(rng: np.random.Generator, capacity: float, repeats: int = REPEATS) -> cmp.RunInterval:
    c = capacity * (1 + NOISE * rng.standard_normal(repeats))
    resolution = rng.uniform(TOLERANCE / 2, TOLERANCE, repeats)
    held = c * (1 - resolution * rng.uniform(0, 1, repeats))  # c lies in [held, held / (1 - resolution))
    return cmp.run_interval(held.tolist(), resolution.tolist())


def verdicts(ratio: float, seeds: range, repeats: int = REPEATS) -> dict[str, float]:
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        a = simulated_run(rng, 100.0, repeats)
        b = simulated_run(rng, 100.0 * ratio, repeats)
        result = cmp.compare(a, b, names=("A", "B"))
        out.append(f"{result.verdict}:{result.better}" if result.better else result.verdict)
    return {k: out.count(k) / len(out) for k in set(out)}


SEEDS = range(1000, 1500)


def test_identical_servers_are_tied_in_the_large_majority():
    shares = verdicts(1.0, SEEDS)
    assert shares.get("tied", 0) >= 0.8
    false_ahead = shares.get("ahead:A", 0) + shares.get("ahead:B", 0)
    assert false_ahead <= cmp.false_ahead_bound(REPEATS, REPEATS) == pytest.approx(0.1)
    assert false_ahead <= 0.05  # the brackets make it rarer still than the 10% bound


def test_servers_20_percent_apart_are_ahead_at_the_standard_profile():
    shares = verdicts(1.2, SEEDS)
    assert shares.get("ahead:B", 0) >= 0.75
    assert shares.get("ahead:A", 0) == 0  # never the wrong way round
    assert shares.get("tied", 0) <= 0.05  # a tie claims "within 25%"; 20% apart rarely looks like one


def test_servers_40_percent_apart_are_ahead_and_five_repeats_are_stricter_not_sharper():
    assert verdicts(1.4, range(200)).get("ahead:B", 0) >= 0.99
    # The full profile's 5 repeats: the hull grows with the repeats, so a false "ahead" becomes rarer
    # (bound 2 / C(10, 5) = 0.8%) rather than the interval narrower; a clear gap is still called.
    identical = verdicts(1.0, range(500), repeats=5)
    assert identical.get("ahead:A", 0) + identical.get("ahead:B", 0) <= 0.01
    assert identical.get("tied", 0) >= 0.7
    assert verdicts(1.3, range(300), repeats=5).get("ahead:B", 0) >= 0.95


def test_point_values_of_identical_servers_are_disjoint_as_often_as_the_bound_says():
    # no brackets: the bound is then exact, 2 of the C(6, 3) = 20 equally likely splits of the ranks
    rng = np.random.default_rng(5)
    trials = 3000
    disjoint = 0
    for _ in range(trials):
        a = cmp.run_interval(rng.normal(100, 5, 3).tolist())
        b = cmp.run_interval(rng.normal(100, 5, 3).tolist())
        disjoint += not a.overlaps(b)
    assert abs(disjoint / trials - 0.1) < 4 * math.sqrt(0.1 * 0.9 / trials)


def test_interval_is_the_hull_of_the_brackets():
    run = cmp.run_interval([100.0, 96.0, 104.0], [0.05, 0.04, 0.025])
    assert run.low == 96.0 and run.median == 100.0 and run.repeats == 3
    assert run.high == pytest.approx(max(100 / 0.95, 96 / 0.96, 104 / 0.975))
    assert run.coverage == 0.75
    assert cmp.run_interval([10.0, 12.0]).high == 12.0  # no resolution: the spread alone
    assert cmp.run_interval([10.0, 12.0], 0.5).high == 24.0
    assert math.isinf(cmp.run_interval([10.0, 12.0], [0.05, float("nan")]).high)  # a search that never failed


def test_rules_on_hand_made_intervals():
    a = cmp.RunInterval(low=100, high=110, median=105, repeats=3)
    b = cmp.RunInterval(low=115, high=125, median=120, repeats=3)
    ahead = cmp.compare(a, b, names=("rayserve", "triton"), unit="req/s")
    assert ahead.verdict == "ahead" and ahead.better == "triton"
    assert ahead.explain() == (
        "triton is ahead of rayserve: its interval [115, 125] req/s lies wholly above [100, 110] req/s "
        "(3 and 3 repeats; identical servers look this far apart in at most 10% of comparisons).")
    lower_better = cmp.compare(a, b, higher_is_better=False, names=("x", "y"))
    assert lower_better.better == "x" and "lies wholly below" in lower_better.explain()

    near = cmp.RunInterval(low=104, high=118, median=110, repeats=3)
    tied = cmp.compare(a, near)
    assert tied.verdict == "tied" and tied.better is None
    assert tied.spread == pytest.approx(0.18)  # 118 / 100
    assert "tied" in tied.explain() and "18%" in tied.explain() and "margin 25%" in tied.explain()
    assert cmp.compare(a, near, margin=0.15).verdict == "unproven"

    wide = cmp.RunInterval(low=80, high=130, median=105, repeats=3)
    unproven = cmp.compare(a, wide)
    assert unproven.verdict == "unproven" and "more than the 25% margin" in unproven.explain()


def test_touching_intervals_overlap():
    a = cmp.RunInterval(low=100, high=110, median=105, repeats=3)
    b = cmp.RunInterval(low=110, high=120, median=115, repeats=3)
    assert cmp.compare(a, b).verdict != "ahead"


def test_too_few_repeats_prove_nothing():
    one = cmp.run_interval([100.0], 0.05)
    three = cmp.run_interval([150.0, 152.0, 149.0], 0.05)
    result = cmp.compare(one, three)
    assert cmp.false_ahead_bound(1, 3) == 0.5
    assert result.verdict == "unproven" and "more repeats would settle it" in result.explain()
    same = cmp.compare(one, cmp.run_interval([100.0, 101.0], 0.05))
    assert same.verdict == "unproven" and "single repeat" in same.explain()
    two = cmp.compare(cmp.run_interval([100.0, 101.0]), cmp.run_interval([150.0, 151.0]))
    assert two.verdict == "unproven"  # 2 vs 2: identical servers look like that a third of the time
    assert cmp.false_ahead_bound(5, 5) == pytest.approx(2 / 252)
    five = cmp.compare(cmp.run_interval([100.0, 101, 99, 100, 102]),
                       cmp.run_interval([150.0, 151, 149, 150, 152]))
    assert five.verdict == "ahead" and "at most 0.79% of comparisons" in five.explain()


def test_open_or_zero_intervals_are_never_tied():
    open_a = cmp.run_interval([100.0, 101.0, 102.0], [0.05, float("nan"), 0.05])
    b = cmp.run_interval([100.0, 101.0, 102.0], 0.05)
    result = cmp.compare(open_a, b)
    assert result.verdict == "unproven" and "without bound" in result.explain()
    assert "open" in open_a.describe()
    zero = cmp.run_interval([0.0, 0.0, 0.0])
    assert cmp.compare(zero, zero).verdict == "unproven"


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        cmp.run_interval([])
    with pytest.raises(ValueError):
        cmp.run_interval([1.0, float("nan")])
    with pytest.raises(ValueError):
        cmp.run_interval([1.0, -2.0])
    with pytest.raises(ValueError):
        cmp.run_interval([1.0, 2.0], [0.05])
    with pytest.raises(ValueError):
        cmp.run_interval([1.0], 1.0)
    with pytest.raises(ValueError):
        cmp.compare(cmp.run_interval([1.0]), cmp.run_interval([1.0]), margin=-0.1)
    with pytest.raises(ValueError, match="names"):
        cmp.compare(cmp.run_interval([1.0]), cmp.run_interval([1.0]), names=("x", "x"))
