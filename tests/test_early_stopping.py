"""LoadGen's early-stopping rule: its published figures, its algorithm, monotonicity, adaptive looks."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.special import betainc

from servingbench.measure import early_stopping as es


def loadgen_min_passing(t, p, c):
    """LoadGen's find_min_passing: the least h with odds(h, t, p, d=0) = BetaRegularized[p, h, 1 + t] < 1 - c.

    An independent path: the regularized incomplete beta function (as LoadGen computes it), not scipy's
    binomial distribution that the module uses.
    """
    lo, hi = 1, 1
    while not betainc(hi, 1 + t, p) < 1 - c:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if betainc(mid, 1 + t, p) < 1 - c:
            hi = mid
        else:
            lo = mid + 1
    return lo


def loadgen_percentile_estimate(sorted_latencies, p, c):
    """PerformanceSummary::EarlyStopping for SingleStream/MultiStream, step by step as in results.cc."""
    n = len(sorted_latencies)
    h_min = loadgen_min_passing(1, p, c)
    if n < h_min + 1:
        return None
    t = 1
    for i in range(2, n + 1):
        if n < loadgen_min_passing(i, p, c) + i:
            t = i - 1
            break
    return sorted_latencies[n - t]


def test_loadgen_server_figures_for_p99_at_99_percent():
    # 0 overlatency queries: 0.99^n < 0.01 first at n = 459 (0.99^458 = 0.01002, 0.99^459 = 0.00992)
    assert 0.99**459 < 0.01 < 0.99**458
    assert es.min_queries_to_pass(0) == 459
    # 1 overlatency query: P(X <= 1) = 0.99^n + n 0.01 0.99^(n - 1) < 0.01 first at n = 662, which is also
    # the "need to process at least 662 queries" floor of LoadGen's SingleStream/MultiStream p99 estimate
    p_le_1 = lambda n: 0.99**n + n * 0.01 * 0.99 ** (n - 1)  # noqa: E731
    assert p_le_1(662) < 0.01 < p_le_1(661)
    assert es.min_queries_to_pass(1) == 662
    assert es.min_queries_to_pass(2) == 838
    assert es.overlatency_verdict(459, 0).outcome == "pass"
    assert es.overlatency_verdict(458, 0).outcome == "undecided"
    assert es.overlatency_verdict(662, 1).outcome == "pass"
    assert es.overlatency_verdict(661, 1).outcome == "undecided"
    assert es.early_stopping_percentile(np.arange(661.0)).min_queries == 662


def test_loadgen_single_stream_floor_for_p90():
    assert es.min_queries_to_pass(1, q=0.9, confidence=0.99) == 64


@pytest.mark.parametrize("q", [0.9, 0.99, 0.999])
@pytest.mark.parametrize("t", [0, 1, 2, 5, 17, 100])
def test_min_queries_match_loadgen_h_plus_t(q, t):
    assert es.min_queries_to_pass(t, q, 0.99) == loadgen_min_passing(t, q, 0.99) + t


@pytest.mark.parametrize(("n", "q"), [(662, 0.99), (700, 0.99), (1500, 0.99), (64, 0.9), (300, 0.9)])
def test_early_stopping_percentile_is_loadgens(n, q):
    rng = np.random.default_rng(n)
    latencies = np.sort(rng.lognormal(2.0, 0.5, n))
    ours = es.early_stopping_percentile(latencies[::-1], q, 0.99)  # sorts for itself
    assert ours.enough
    assert ours.latency == loadgen_percentile_estimate(latencies, q, 0.99)
    assert ours.latency == latencies[ours.rank - 1]
    # conservative: never below the plain nearest-rank percentile
    assert ours.latency >= latencies[math.ceil(q * n - 1e-9) - 1]


def test_early_stopping_percentile_needs_662_queries_for_p99():
    too_few = es.early_stopping_percentile(np.arange(1.0, 662.0))
    assert not too_few.enough and too_few.latency is None and too_few.discarded == 0
    just = es.early_stopping_percentile(np.arange(1.0, 663.0))
    assert just.enough and just.rank == 662 and just.discarded == 0  # t = 1: the largest latency
    big = es.early_stopping_percentile(np.arange(1.0, 10001.0))
    assert big.rank == 9924 and big.latency == 9924.0  # t = 77: 76 discarded
    assert es.overlatency_verdict(10000, 77).outcome == "pass"
    assert es.overlatency_verdict(10000, 78).outcome != "pass"


RANK = {"pass": 0, "undecided": 1, "fail": 2}


@pytest.mark.parametrize(("q", "confidence"), [(0.99, 0.99), (0.9, 0.95), (0.999, 0.99)])
def test_verdict_is_monotone_in_k_and_n(q, confidence):
    for n in (0, 1, 50, 459, 1000, 3000):
        ranks = [RANK[es.overlatency_verdict(n, k, q, confidence).outcome] for k in range(0, min(n, 80) + 1)]
        assert ranks == sorted(ranks), f"n={n}"
    for k in (0, 1, 5, 30):
        ranks = [RANK[es.overlatency_verdict(n, k, q, confidence).outcome] for n in range(k, k + 4000, 37)]
        assert ranks == sorted(ranks, reverse=True), f"k={k}"
    # every outcome is reachable, so the checks above compare real transitions
    n = round(30 / (1 - q))  # 30 overlatency queries expected at the bound
    seen = {es.overlatency_verdict(n, k, q, confidence).outcome for k in range(0, 100)}
    assert seen == {"pass", "undecided", "fail"}


def test_pass_means_the_measured_percentile_is_within_the_bound_and_fail_the_opposite():
    bound = 100.0
    for n in (459, 800, 2000, 5000):
        for k in range(0, n // 20):
            verdict = es.overlatency_verdict(n, k)
            latencies = np.concatenate([np.full(n - k, bound), np.full(k, bound * 2)])
            assert es.count_overlatency(latencies, bound) == k  # equal to the bound is in time
            p99 = np.sort(latencies)[math.ceil(0.99 * n - 1e-9) - 1]
            if verdict.outcome == "pass":
                assert p99 <= bound
            if verdict.outcome == "fail":
                assert p99 > bound


def exact_tails(n, q):
    """P(X <= k) and P(X >= k) for every k, X ~ Binomial(n, 1 - q), exactly: integers over one denominator."""
    frac = Fraction(q).limit_denominator(10**6)
    b, a = frac.denominator, frac.denominator - frac.numerator  # over-latency probability a / b
    weights = [math.comb(n, j) * a**j * (b - a) ** (n - j) for j in range(n + 1)]
    at_most = list(itertools.accumulate(weights))
    at_least = list(itertools.accumulate(weights[::-1]))[::-1]
    return at_most, at_least, b**n


@pytest.mark.parametrize(("n", "q"), [(459, 0.99), (662, 0.99), (1000, 0.99), (300, 0.9)])
def test_pass_and_fail_thresholds_match_exact_arithmetic(n, q):
    at_most, at_least, total = exact_tails(n, q)
    for k in range(min(n, round(5 * n * (1 - q)) + 10) + 1):  # both thresholds lie well inside
        # P < 1% <=> 100 * weight < total
        passes, fails = 100 * at_most[k] < total, 100 * at_least[k] < total
        expected = "pass" if passes else "fail" if fails else "undecided"
        assert es.overlatency_verdict(n, k, q, 0.99).outcome == expected, k


def test_fail_and_undecided_figures():
    v = es.overlatency_verdict(1000, 20)
    assert v.outcome == "fail" and v.p_fail < 0.01 and v.p_pass > 0.99
    u = es.overlatency_verdict(1000, 10)  # exactly 1%: the data cannot say which side
    assert u.outcome == "undecided" and not u.decided
    assert u.queries_to_pass == es.min_queries_to_pass(10)
    assert u.more_queries_to_pass == u.queries_to_pass - 1000
    assert f"{u.more_queries_to_pass} more queries" in u.explain()
    assert es.overlatency_verdict(458, 0).explain().endswith("1 more query, all within the bound.")
    assert es.overlatency_verdict(0, 0).outcome == "undecided"


def first_decision(overlatency_fraction, looks, confidence, trials, seed):
    """Simulated probes of 500-query blocks, stopped at the first pass or fail: share of each outcome."""
    rng = np.random.default_rng(seed)
    counts = rng.binomial(500, overlatency_fraction, (trials, len(looks))).cumsum(axis=1)
    table = {}  # (n, k) -> outcome, computed once per distinct pair
    outcomes = []
    for row in counts:
        outcome = "undecided"
        for n, k in zip(looks, row, strict=True):
            key = (n, int(k))
            if key not in table:
                table[key] = es.overlatency_verdict(n, int(k), 0.99, confidence).outcome
            if table[key] != "undecided":
                outcome = table[key]
                break
        outcomes.append(outcome)
    return {o: outcomes.count(o) / trials for o in ("pass", "fail", "undecided")}


def test_repeated_looks_need_the_per_look_confidence():
    # A server exactly at the bound (1% overlatency, true p99 = bound) is the worst case for a wrong pass.
    looks = list(range(500, 5001, 500))
    trials = 4000
    naive = first_decision(0.01, looks, 0.99, trials, seed=11)
    assert naive["pass"] > 0.015 and naive["fail"] > 0.015  # ten looks at 99% each: each error > 1% (~3%)
    guarded = first_decision(0.01, looks, es.confidence_per_look(0.99, len(looks)), trials, seed=11)
    se = math.sqrt(0.01 * 0.99 / trials)
    assert guarded["pass"] <= 0.01 + 3 * se and guarded["fail"] <= 0.01 + 3 * se
    # and the guarded rule still decides clear cases: p99 well inside the bound, or well above it
    assert first_decision(0.002, looks, 0.999, 400, seed=12)["pass"] > 0.9
    assert first_decision(0.03, looks, 0.999, 400, seed=13)["fail"] > 0.9


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        es.overlatency_verdict(10, 11)
    with pytest.raises(ValueError):
        es.overlatency_verdict(10, -1)
    with pytest.raises(ValueError, match="fraction"):
        es.overlatency_verdict(10, 0, q=99)
    with pytest.raises(ValueError, match="confidence"):
        es.overlatency_verdict(10, 0, confidence=0.5)  # pass and fail could then both hold
    with pytest.raises(ValueError, match="NaN"):
        es.early_stopping_percentile([1.0, float("nan")])
    with pytest.raises(ValueError, match="NaN"):
        es.count_overlatency([1.0, float("nan")], 1.0)
    with pytest.raises(ValueError):
        es.confidence_per_look(0.99, 0)
    assert es.confidence_per_look(0.99, 10) == pytest.approx(0.999)
