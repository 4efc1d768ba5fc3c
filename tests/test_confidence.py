"""Distribution-free percentile intervals: ranks, coverage by simulation, edge cases."""

import math

import numpy as np
import pytest
from scipy.stats import binom, lognorm

from servingbench.measure import confidence as ci


def brute_ranks(n, q, confidence):
    """The equal-tailed ranks from the full binomial table, by the textbook definition."""
    tail = (1 - confidence) / 2
    cdf = binom.cdf(np.arange(n + 1), n, q)
    below = [j for j in range(-1, n + 1) if (cdf[j] if j >= 0 else 0.0) <= tail]
    sf = binom.sf(np.arange(n + 1), n, q)  # sf[m] = P(B > m)
    above = [m for m in range(n + 1) if sf[m] <= tail]
    return max(below) + 1, min(above) + 1


def test_median_of_100_is_the_textbook_40th_to_61st():
    assert ci.ci_ranks(100, 0.5, 0.95) == (40, 61)
    assert ci.coverage(100, 40, 61, 0.5) == pytest.approx(0.9648, abs=1e-4)


@pytest.mark.parametrize("n", [1, 2, 7, 50, 367, 368, 1000, 4000])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_ranks_match_the_full_binomial_table(n, q, confidence):
    lower, upper = ci.ci_ranks(n, q, confidence)
    assert (lower, upper) == brute_ranks(n, q, confidence)
    assert ci.coverage(n, lower, upper, q) >= confidence - 1e-12
    assert lower <= ci.nearest_rank(n, q) <= upper  # the estimate always lies inside the interval


def test_estimate_is_the_nearest_rank_percentile_of_servingbench_stats():
    # the same expectations as tests/test_stats.py for exact_percentiles on 1..1000 ms
    cis = ci.standard_cis(np.arange(1, 1001, dtype=float)[::-1])  # unsorted input
    assert [c.label for c in cis] == ["p50", "p90", "p99", "p99.9"]
    assert [c.estimate for c in cis] == [500.0, 900.0, 990.0, 999.0]
    p99 = cis[2]
    assert (p99.low_rank, p99.high_rank) == (983, 997) and (p99.low, p99.high) == (983.0, 997.0)
    assert p99.enough
    assert not cis[3].enough and cis[3].high is None  # p99.9 from 1000 samples has no upper bound


@pytest.mark.parametrize(
    ("make", "truth", "n", "q"),
    [
        (lambda rng, shape: rng.exponential(10.0, shape), -10.0 * math.log(1 - 0.9), 400, 0.9),
        (lambda rng, shape: rng.lognormal(1.5, 0.6, shape),
         float(lognorm.ppf(0.99, 0.6, scale=math.exp(1.5))), 1000, 0.99),
        (lambda rng, shape: rng.lognormal(1.5, 0.6, shape), math.exp(1.5), 60, 0.5),
    ],
    ids=["exponential-p90-n400", "lognormal-p99-n1000", "lognormal-p50-n60"],
)
def test_interval_covers_the_true_quantile_as_often_as_promised(make, truth, n, q):
    trials = 2000
    rng = np.random.default_rng(20240611)
    samples = np.sort(make(rng, (trials, n)), axis=1)
    first = ci.percentile_ci(samples[0], q)
    assert first.enough
    lower, upper = first.low_rank, first.high_rank
    hits = np.mean((samples[:, lower - 1] <= truth) & (truth <= samples[:, upper - 1]))
    exact = ci.coverage(n, lower, upper, q)
    assert 0.95 <= exact < 0.985  # at least as promised, and not wastefully wide (discreteness)
    # 2000 Bernoulli trials: standard error ~0.005; 4 of them is a failure only if the method is wrong
    assert abs(hits - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)


def test_a_too_narrow_interval_would_be_caught():
    # the same check on the estimate and its two neighbours as an "interval": far below 95%, so it bites
    rng = np.random.default_rng(3)
    samples = np.sort(rng.exponential(10.0, (2000, 400)), axis=1)
    r = ci.nearest_rank(400, 0.9)
    truth = -10.0 * math.log(0.1)
    hits = np.mean((samples[:, r - 2] <= truth) & (truth <= samples[:, r]))
    assert hits < 0.5


def test_min_samples_for_matches_the_closed_form_and_the_interval():
    for q, confidence, expected in [(0.99, 0.95, 368), (0.999, 0.95, 3688), (0.9, 0.95, 36), (0.5, 0.95, 6),
                                    (0.99, 0.99, 528), (0.1, 0.95, 36)]:
        tail = (1 - confidence) / 2
        assert max(q, 1 - q) ** expected <= tail < max(q, 1 - q) ** (expected - 1)
        assert ci.min_samples_for(q, confidence) == expected
        latencies = np.arange(expected, dtype=float)
        assert ci.percentile_ci(latencies, q, confidence).enough
        assert not ci.percentile_ci(latencies[:-1], q, confidence).enough


def test_p99_of_120_requests_is_too_few():
    result = ci.percentile_ci(np.linspace(1.0, 120.0, 120), 0.99)
    assert result.estimate == 119.0
    assert result.high is None and result.high_rank == 121 and not result.enough
    assert result.low is not None


def test_no_samples_and_one_sample():
    empty = ci.percentile_ci([], 0.99)
    assert empty.n == 0 and math.isnan(empty.estimate)
    assert empty.low is None and empty.high is None and not empty.enough
    one = ci.percentile_ci([42.0], 0.5)
    assert one.estimate == 42.0 and not one.enough  # one sample bounds nothing at 95%
    assert (one.low_rank, one.high_rank) == (0, 2)


def test_nan_and_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        ci.percentile_ci([1.0, float("nan"), 3.0], 0.5)
    with pytest.raises(ValueError, match="fraction"):
        ci.percentile_ci([1.0, 2.0], 99)  # a percent, not a fraction
    with pytest.raises(ValueError, match="confidence"):
        ci.percentile_ci([1.0, 2.0], 0.5, confidence=95)
    with pytest.raises(ValueError, match="1-D"):
        ci.percentile_ci([[1.0, 2.0]], 0.5)


def test_as_dict_carries_the_flag_and_label():
    d = ci.percentile_ci(np.arange(1000.0), 0.99).as_dict()
    assert d["enough"] is True and d["label"] == "p99" and d["n"] == 1000
