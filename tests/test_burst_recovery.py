"""The burst's timeline and recovery on synthetic samples: per-second p99 and goodput, and the first second
after which every later second is under the SLO."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from servingbench.measure.recovery import HOLD_S, Second, recovery, timeline
from servingbench.profiles import PROFILES
from servingbench.scenarios.base import ScenarioOptions
from servingbench.scenarios.burst import BASE, BURST, plan

START = 1000.0


def samples(latency_of_second: list[float], per_second: int = 20, status: int = 200) -> np.ndarray:
    """``per_second`` requests evenly spread over each second, all with that second's latency (ms)."""
    rows = []
    for k, lat in enumerate(latency_of_second):
        for j in range(per_second):
            rows.append([START + k + j / per_second, lat, status, 0.0, 0.0])
    return np.array(rows)


def secs(p99s: list[float | None], failed: int = 0) -> list[Second]:
    return [Second(float(k), 0 if p is None else 20, 0 if p is None else 20 - failed, failed if p else 0, p,
                   20.0) for k, p in enumerate(p99s)]


def test_timeline_bins_by_send_time_for_latency_and_by_completion_for_goodput():
    raw = samples([10, 10, 500, 10])  # second 2's answers complete 0.5 s later, in seconds 2 and 3
    bins = timeline(raw, START, START + 4)
    assert [b.sent for b in bins] == [20, 20, 20, 20]
    assert [b.p99_ms for b in bins] == [10, 10, 500, 10]
    done = raw[:, 0] + raw[:, 1] / 1000
    expected = [((done >= START + k) & (done < START + k + 1)).sum() for k in range(4)]
    assert [b.goodput_rps for b in bins] == expected and sum(expected) == 80
    assert bins[2].goodput_rps < 20 < bins[3].goodput_rps


def test_timeline_counts_failures_and_empty_seconds():
    unanswered = samples([np.nan], status=-8)[:5]
    unanswered[:, 0] += 1  # sent in the second second
    raw = np.vstack([samples([10]), unanswered])
    bins = timeline(raw, START, START + 3)
    assert (bins[0].ok, bins[0].failed) == (20, 0)
    assert (bins[1].sent, bins[1].ok, bins[1].failed, bins[1].p99_ms) == (5, 0, 5, None)
    assert bins[2].sent == 0 and bins[2].good(100, 0.001) is None


def test_recovery_is_the_first_second_that_starts_a_run_of_good_seconds():
    # before 0-4, burst 5-9, after 10-24: over the SLO until second 13, a good second at 13, over at 14
    p99 = [20] * 5 + [50, 150, 300, 400, 500] + [400, 300, 120, 90, 150] + [40] * 10
    rec = recovery(secs(p99), 5, 10, 100, 0.001)
    assert rec.recovered and rec.recovery_s == 5.0  # second 15: the 150 at 14 broke the run begun at 13
    assert rec.exceeded and rec.bad_seconds == 8 and rec.bad_before == 0 and rec.relapses == 0


def test_no_excursion_means_recovery_zero():
    rec = recovery(secs([20] * 20), 5, 10, 100, 0.001)
    assert rec.recovered and rec.recovery_s == 0 and not rec.exceeded
    assert "stayed under" in rec.note


def test_a_slow_second_after_the_recovery_is_a_relapse_not_a_lost_recovery():
    # absorbed the burst, then two slow seconds near the end (seen on a shared machine)
    p99 = [20] * 5 + [20] * 5 + [20] * 13 + [270, 180]
    rec = recovery(secs(p99), 5, 10, 100, 0.001)
    assert rec.recovered and rec.recovery_s == 0 and rec.relapses == 2
    assert "stayed under" in rec.note and "over it again in 2 later seconds" in rec.note


def test_never_back_under_within_the_run():
    rec = recovery(secs([20] * 5 + [500] * 15), 5, 10, 100, 0.001)
    assert not rec.recovered and rec.recovery_s is None and "not back under" in rec.note


def test_a_recovery_needs_hold_s_good_seconds_in_a_row():
    short = [20] * 5 + [500] * 5 + [500, 20, 20, 500] + [20] * (HOLD_S - 1)
    assert not recovery(secs(short), 5, 10, 100, 0.001).recovered
    enough = [20] * 5 + [500] * 5 + [500, 20, 20, 500] + [20] * HOLD_S
    assert recovery(secs(enough), 5, 10, 100, 0.001).recovery_s == 4.0


def test_failures_keep_a_second_over_the_slo_and_empty_seconds_judge_nothing():
    failing = recovery(secs([20] * 20, failed=1), 5, 10, 100, 0.001)
    assert not failing.recovered and failing.bad_before == 5
    gaps = [20] * 5 + [500] * 5 + [500, None, None, 20, 20] + [None, 20, 20, 20]
    rec = recovery(secs(gaps), 5, 10, 100, 0.001)
    assert rec.recovery_s == 3.0  # the empty seconds neither start nor break the run of good ones


def test_recovery_of_a_real_timeline_from_samples():
    raw = samples([20] * 5 + [300] * 5 + [200, 20] + [20] * 8)
    rec = recovery(timeline(raw, START, START + 20), 5, 10, 100, 0.001)
    assert rec.recovered and rec.recovery_s == 1.0


def test_the_burst_schedule_follows_its_phases():
    p = plan(PROFILES["standard"])
    offsets = p.schedule(40.0, seed=3)
    edges = [0, p.warmup_s + p.before_s, p.warmup_s + p.before_s + p.burst_s, p.warmup_s + p.measure_s]
    for (a, b), fraction in zip(itertools.pairwise(edges), (BASE, BURST, BASE), strict=True):
        n = ((offsets >= a) & (offsets < b)).sum()
        expected = fraction * 40.0 * (b - a)
        assert abs(n - expected) < 5 * np.sqrt(expected), (a, b, n, expected)
    assert offsets[-1] < edges[-1]
    assert plan(PROFILES["quick"], 0.5).burst_s == plan(PROFILES["quick"]).burst_s / 2
    assert np.array_equal(offsets, p.schedule(40.0, seed=3))


def test_every_profile_has_overload_and_burst_durations():
    from servingbench.scenarios import overload

    for profile in PROFILES.values():
        assert profile.name in overload.DURATIONS
        assert overload.SCENARIO.estimate_s(profile, 5.0, ScenarioOptions()) > 0
        assert plan(profile).after_s > plan(profile).burst_s
    assert overload.durations(PROFILES["quick"], 0.5) == pytest.approx((1.0, 3.0))


def test_the_time_estimates_follow_the_time_scale():
    from servingbench.scenarios import burst, overload

    quick, half = PROFILES["quick"], ScenarioOptions(time_scale=0.5)
    for scenario, fixed in ((overload.SCENARIO, len(overload.MULTIPLES) * overload.STEP_OVERHEAD_S),
                            (burst.SCENARIO, burst.OVERHEAD_S)):
        full_s = scenario.estimate_s(quick, 5.0, ScenarioOptions())
        assert scenario.estimate_s(quick, 5.0, half) == pytest.approx(fixed + (full_s - fixed) / 2)
