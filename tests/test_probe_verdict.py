"""A probe's verdict by the early-stopping rule, and the adaptive loop, on synthetic sample streams."""

from __future__ import annotations

import numpy as np
import pytest

from servingbench.measure.adaptive import run_adaptive, segment_plan, sub_seeds
from servingbench.measure.early_stopping import min_queries_to_pass, overlatency_verdict
from servingbench.measure.probe_verdict import ProbeRule, counts, judge
from servingbench.profiles import PROFILES
from tests.synthetic_server import poisson_rows

QUICK = PROFILES["quick"]
RULE = ProbeRule(100.0, 0.001, QUICK.slo_confidence, QUICK.probe_looks)  # 90% over 2 looks


def stream(rate: float, **model):
    """A segment function: a fresh Poisson stream per call, seeded by the segment's seed."""
    calls: list[tuple[float, int]] = []
    clock = [0.0]

    def segment(seconds: float, seed: int) -> np.ndarray:
        calls.append((seconds, seed))
        rows = poisson_rows(rate, seconds, np.random.default_rng(seed), t0=clock[0], **model)
        clock[0] += seconds + 5
        return rows

    return segment, calls


def test_the_quick_rule_needs_299_clean_requests_and_standard_368():
    assert RULE.look_confidence == pytest.approx(0.95)
    assert RULE.queries_to_pass(0) == 299 and RULE.queries_to_pass(1) == 473
    standard = PROFILES["standard"]
    assert ProbeRule(100.0, 0.001, standard.slo_confidence, standard.probe_looks).queries_to_pass(0) == 368
    full = PROFILES["full"]
    assert ProbeRule(100.0, 0.001, full.slo_confidence, full.probe_looks).queries_to_pass(0) == 528


def test_every_profile_can_pass_a_clean_server_at_20_req_s_within_its_bound():
    """The quick profile's low-rate probes must still be able to pass a server clearly under the SLO."""
    for profile in PROFILES.values():
        rule = ProbeRule(100.0, 0.001, profile.slo_confidence, profile.probe_looks)
        assert 20 * sum(profile.probe_plan()) >= rule.queries_to_pass(0), profile.name


def test_each_profile_floor_is_where_a_clean_server_can_just_pass_within_the_bound():
    """Above the floor a clean server's probe passes by its bound; well below it the probe cannot."""
    for profile in PROFILES.values():
        floor, plan = profile.provable_floor_rps(), profile.probe_plan()
        rule = ProbeRule(100.0, 0.001, profile.slo_confidence, len(plan))
        assert floor * sum(plan) == pytest.approx(rule.queries_to_pass(0)), profile.name
        above = run_adaptive(stream(1.3 * floor, median_ms=20.0)[0], rule, plan, seed=3, rate_rps=1.3 * floor)
        below = run_adaptive(stream(0.7 * floor, median_ms=20.0)[0], rule, plan, seed=3, rate_rps=0.7 * floor)
        assert above.verdict.outcome == "pass" and below.verdict.outcome == "undecided", profile.name
    assert PROFILES["quick"].provable_floor_rps() == pytest.approx(299 / 15)
    assert PROFILES["standard"].provable_floor_rps() == pytest.approx(368 / 24)


def test_a_server_clearly_under_the_slo_passes_at_the_first_look():
    segment, calls = stream(120.0, median_ms=20.0)
    probe = run_adaptive(segment, RULE, QUICK.probe_plan(), seed=11, rate_rps=120.0)
    assert probe.verdict.outcome == "pass" and probe.verdict.passed and len(calls) == 1
    assert probe.verdict.overlatency == 0 and probe.verdict.judged_requests == probe.rows.shape[0] > 299
    assert "decided at look 1 of 2" in probe.verdict.reason


def test_a_clean_server_at_a_low_rate_extends_and_then_passes():
    segment, calls = stream(25.0, median_ms=20.0)
    probe = run_adaptive(segment, RULE, QUICK.probe_plan(), seed=5, rate_rps=25.0)
    assert [c[0] for c in calls] == [5, 10.0]  # the first look has ~125 requests: too few to tell
    assert [v.outcome for v in probe.looks] == ["undecided", "pass"]
    assert probe.measured_s == 15.0 and probe.verdict.looks == 2


def test_a_server_at_the_bound_is_undecided_and_extends_to_the_time_bound():
    # 1% of requests over the bound: the true p99 sits at the SLO
    segment, calls = stream(100.0, median_ms=20.0, slow_fraction=0.01)
    probe = run_adaptive(segment, RULE, QUICK.probe_plan(), seed=3, rate_rps=100.0)
    assert len(calls) == 2, [v.reason for v in probe.looks]
    assert probe.looks[0].outcome == "undecided" and probe.verdict.outcome == "undecided"
    assert not probe.verdict.passed
    assert probe.verdict.queries_to_pass > probe.verdict.judged_requests  # what a pass would have needed
    assert "undecided at the time bound" in probe.verdict.reason


def test_a_bimodal_server_fails_at_the_first_look():
    segment, calls = stream(100.0, median_ms=20.0, slow_fraction=0.05, slow_ms=400.0)
    probe = run_adaptive(segment, RULE, QUICK.probe_plan(), seed=9, rate_rps=100.0)
    assert probe.verdict.outcome == "fail" and len(calls) == 1
    # its sample p99 alone is the slow mode: the old rule would have failed it too, but a bimodal server
    # with its slow mode under 1% of requests would have passed a short probe by luck
    assert probe.verdict.overlatency > 10


def test_a_rare_slow_mode_cannot_pass_a_short_probe_by_luck():
    """Slow mode in 2% of requests (true p99 over the bound): a 5 s probe at 20 req/s often shows none."""
    old_passes = new_passes = 0
    for seed in range(200):
        rows = poisson_rows(20.0, 5.0, np.random.default_rng(seed), slow_fraction=0.02)
        lat = np.sort(rows[:, 1])
        old_passes += bool(lat[min(len(lat) - 1, int(np.ceil(0.99 * len(lat))) - 1)] <= 100.0)
        new_passes += judge(rows, RULE).passed
    assert old_passes > 50 and new_passes == 0, (old_passes, new_passes)


def test_a_probe_stops_undecided_when_the_bound_cannot_reach_a_pass():
    # 10 req/s: ~150 requests by the 15 s bound, a pass needs 299
    segment, calls = stream(10.0, median_ms=20.0)
    probe = run_adaptive(segment, RULE, QUICK.probe_plan(), seed=1, rate_rps=10.0)
    assert len(calls) == 1 and probe.verdict.outcome == "undecided"
    assert "the time bound allows about" in probe.verdict.reason


def test_segments_draw_fresh_seeds_from_the_probe_seed():
    segment, calls = stream(25.0)
    run_adaptive(segment, RULE, QUICK.probe_plan(), seed=77, rate_rps=25.0)
    seeds = [seed for _, seed in calls]
    assert seeds[0] == 77 and len(set(seeds)) == len(seeds)
    again = list(zip(range(len(seeds)), sub_seeds(77), strict=False))
    assert [s for _, s in again] == seeds  # reproducible from the recorded probe seed


def test_segment_plan():
    assert segment_plan(5, 15, 2) == [5, 10]
    assert segment_plan(15, 45, 3) == [15, 15, 15]
    assert segment_plan(6, 0, 1) == [6] and segment_plan(6, 6, 2) == [6]
    with pytest.raises(ValueError):
        run_adaptive(lambda s, k: np.zeros((0, 4)), RULE, [5.0], 1, 10.0)  # rule plans 2 looks


def test_failed_and_unanswered_requests_are_overlatency_and_spend_the_error_budget():
    rows = poisson_rows(100.0, 5.0, np.random.default_rng(2))
    rows[:3, 2] = [503, 0, -1]  # HTTP error, connection error, unanswered at the drain
    n, over, failed = counts(rows, 100.0)
    assert (over, failed) == (3, 3)
    assert judge(rows, RULE).outcome == "fail"  # 3 failures: over what 0.1% allows at any n below 3000
    one = rows.copy()
    one[:3, 2] = [503, 200, 200]
    looking = judge(one, RULE, requests_at_bound=n + 1000)  # 1 failure: the budget may still hold
    assert looking.outcome == "undecided" and looking.failed_requests == 1
    assert judge(one, RULE, requests_at_bound=n + 400).outcome == "fail"  # ~n + 400 < 1000 allows none


def test_the_latency_verdict_is_loadgens():
    rows = poisson_rows(100.0, 5.0, np.random.default_rng(4), slow_fraction=0.004)
    n, over, _ = counts(rows, 100.0)
    assert judge(rows, RULE).outcome == overlatency_verdict(n, over, 0.99, RULE.look_confidence).outcome
    assert judge(rows, RULE).queries_to_pass == min_queries_to_pass(over, 0.99, RULE.look_confidence)


def test_the_early_stopping_p99_counts_failures_as_slowest():
    rows = poisson_rows(200.0, 5.0, np.random.default_rng(6))
    assert rows.shape[0] > min_queries_to_pass(1, 0.99, RULE.look_confidence)
    clean = judge(rows, RULE).early_stopping_p99_ms
    assert clean is not None and clean < 100.0
    rows[:40, 2] = 503  # 4% failed: the conservative p99 lands on a failure
    assert judge(rows, RULE).early_stopping_p99_ms == float("inf")
    assert judge(rows[:100], RULE).early_stopping_p99_ms is None  # too few requests for an estimate
