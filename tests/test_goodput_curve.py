"""The overload verdict on synthetic goodput curves: collapse only when a higher rate's goodput is outside
the peak's noise and materially lower; a plateau holds; a server that answers everything keeps up."""

from __future__ import annotations

import pytest

from servingbench.measure.goodput_curve import (
    COLLAPSES,
    HOLDS,
    INCONCLUSIVE,
    KEEPS_UP,
    CurvePoint,
    judge_curve,
    poisson_interval,
)


def curve(pairs: list[tuple[float, float]], seconds: float = 10.0, limited: tuple[float, ...] = ()) -> list:
    """(offered req/s, goodput req/s) as points with their completion counts over ``seconds``."""
    return [CurvePoint(o, seconds, round(g * seconds), o in limited) for o, g in pairs]


def test_poisson_interval_is_garwoods_exact_interval():
    assert poisson_interval(0) == pytest.approx((0.0, 3.6889), abs=1e-3)
    assert poisson_interval(10) == pytest.approx((4.7954, 18.3904), abs=1e-3)
    with pytest.raises(ValueError):
        poisson_interval(-1)


def test_a_ray_serve_like_fall_collapses_from_the_first_rate_clearly_below_the_peak():
    # peak 62 req/s at 60 offered; 75 offered is within the noise; 90 offered is far below
    verdict = judge_curve(curve([(30, 30), (45, 45), (60, 62), (75, 58), (90, 30), (120, 7.3)]))
    assert verdict.verdict == COLLAPSES
    assert verdict.peak_offered_rps == 60 and verdict.peak_goodput_rps == pytest.approx(62)
    assert verdict.collapse_offered_rps == 90 and verdict.collapse_goodput_rps == pytest.approx(30)


def test_a_drop_inside_the_noise_is_no_collapse():
    # 20 and 17 completions in 1 s: the intervals overlap, whatever the 15% drop looks like
    verdict = judge_curve(curve([(10, 10), (20, 20), (30, 17)], seconds=1.0))
    assert verdict.verdict == HOLDS
    assert verdict.collapse_offered_rps is None


def test_a_significant_but_small_drop_is_no_collapse():
    # 100,000 completions make a 5% drop significant, and still not a collapse (under 10%)
    verdict = judge_curve(curve([(500, 500), (1000, 1000), (1500, 950)], seconds=100.0))
    assert verdict.verdict == HOLDS


def test_a_plateau_holds_and_names_its_peak():
    verdict = judge_curve(curve([(30, 30), (45, 45), (60, 58), (75, 60), (90, 59), (120, 60)]))
    assert verdict.verdict == HOLDS and verdict.peak_offered_rps == 75
    assert "levels off" in verdict.reason


def test_goodput_that_follows_the_offered_rate_keeps_up():
    verdict = judge_curve(curve([(30, 30.2), (45, 44.5), (60, 60.4), (75, 74.1), (90, 89.0), (120, 118)]))
    assert verdict.verdict == KEEPS_UP and verdict.peak_offered_rps == 120


def test_generator_limited_rates_are_not_judged():
    # the fall at 120 is the generator's doing: left out, the rest holds or keeps up
    verdict = judge_curve(curve([(30, 30), (60, 60), (90, 89), (120, 20)], limited=(120.0,)))
    assert verdict.verdict == KEEPS_UP and verdict.unjudged_rps == [120]


def test_too_few_rates_or_no_goodput_is_inconclusive():
    assert judge_curve(curve([(30, 30)])).verdict == INCONCLUSIVE
    assert judge_curve(curve([(30, 0), (60, 0)])).verdict == INCONCLUSIVE
    assert judge_curve(curve([(60, 0), (30, 30)], limited=(30.0,))).verdict == INCONCLUSIVE


def test_points_are_judged_in_offered_order_whatever_order_they_come_in():
    points = curve([(120, 7.3), (30, 30), (90, 30), (60, 62)])
    assert judge_curve(points) == judge_curve(sorted(points, key=lambda p: p.offered_rps))
