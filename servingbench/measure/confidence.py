"""Distribution-free confidence intervals for latency percentiles, from order statistics.

A p99 from 120 requests is a guess, and the report must say so. For n independent samples and a
quantile q, the number B of samples at or below the true q-quantile is Binomial(n, q) whatever the latency
distribution, so a pair of sorted samples [x_(l), x_(u)] brackets the true quantile with a probability that
depends on n, q, l and u only (the classic exact method, as in Hahn & Meeker, Statistical Intervals):

    P(x_(l) <= quantile <= x_(u)) = 1 - P(B <= l - 1) - P(B >= u)    (continuous latencies; with ties, >=)

The ranks are equal-tailed: l is the highest rank with P(B <= l - 1) <= (1 - confidence) / 2 and u the
lowest with P(B >= u) <= (1 - confidence) / 2, so the coverage is at least the confidence. When no sample
is extreme enough (l = 0 or u = n + 1) that side is unbounded: the interval is reported as None there and
``enough`` is False.

The point estimate is the nearest-rank percentile of servingbench.stats (the smallest sample with at least
q of the samples at or below it), so it is always a latency some request really had, and it always lies
inside the interval (l <= its rank <= u).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom

STANDARD_QUANTILES: tuple[float, ...] = (0.50, 0.90, 0.99, 0.999)
"""The percentiles a summary reports (p50, p90, p99, p99.9), as fractions."""
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class PercentileCI:
    """A nearest-rank percentile with its distribution-free interval. Latencies in the input's unit."""

    q: float
    """The quantile as a fraction (0.99 for p99)."""
    confidence: float
    n: int
    estimate: float
    """Nearest-rank percentile; NaN when there are no samples."""
    low: float | None
    """x_(low_rank), or None when even the smallest sample is not low enough to bound the quantile."""
    high: float | None
    """x_(high_rank), or None when even the largest sample is not high enough: too few samples."""
    low_rank: int
    """1-based rank of ``low`` among the sorted samples; 0 when unbounded below."""
    high_rank: int
    """1-based rank of ``high``; n + 1 when unbounded above."""

    @property
    def enough(self) -> bool:
        """Both ends are real samples: the interval bounds the percentile at the stated confidence."""
        return self.low is not None and self.high is not None

    @property
    def label(self) -> str:
        """"p50", "p99", "p99.9": the name a report uses."""
        return f"p{self.q * 100:.10g}"

    def as_dict(self) -> dict:
        return {**asdict(self), "enough": self.enough, "label": self.label}


def _check_q(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be a fraction in (0, 1) (0.99 for p99), got {q!r}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def sorted_samples(latencies: ArrayLike) -> np.ndarray:
    """The samples as a sorted 1-D float array; NaN is rejected (it has no place in an ordering)."""
    values = np.asarray(latencies, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of latencies, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("latencies contain NaN; drop or classify the failed requests first")
    return np.sort(values)


def nearest_rank(n: int, q: float) -> int:
    """1-based rank of the nearest-rank percentile, as servingbench.stats.exact_percentiles computes it.

    The epsilon keeps 99.9% of 1000 at rank 999 despite binary floating point.
    """
    return min(n, max(1, math.ceil(q * n - 1e-9)))


def ci_ranks(n: int, q: float, confidence: float = DEFAULT_CONFIDENCE) -> tuple[int, int]:
    """(l, u): the 1-based equal-tailed ranks, 0 and n + 1 meaning unbounded. See the module docstring."""
    _check_q(q)
    _check_confidence(confidence)
    if n < 0:
        raise ValueError("n must be >= 0")
    if n == 0:
        return 0, 1
    tail = (1.0 - confidence) / 2.0
    # l - 1 = the largest j in [-1, n] with cdf(j) <= tail; start at scipy's inverse and step to be exact.
    j = int(np.clip(binom.ppf(tail, n, q), -1, n))
    while j >= 0 and binom.cdf(j, n, q) > tail:
        j -= 1
    while j + 1 <= n and binom.cdf(j + 1, n, q) <= tail:
        j += 1
    # u - 1 = the smallest m in [0, n] with P(B > m) = sf(m) <= tail (sf(n) = 0 always qualifies).
    m = int(np.clip(binom.isf(tail, n, q), 0, n))
    while m - 1 >= 0 and binom.sf(m - 1, n, q) <= tail:
        m -= 1
    while binom.sf(m, n, q) > tail:
        m += 1
    return j + 1, m + 1


def coverage(n: int, low_rank: int, high_rank: int, q: float) -> float:
    """P(l <= B <= u - 1) for B ~ Binomial(n, q): the exact coverage of [x_(l), x_(u)] for continuous data."""
    return float(binom.cdf(high_rank - 1, n, q) - binom.cdf(low_rank - 1, n, q))


def percentile_ci(
    latencies: ArrayLike, q: float, confidence: float = DEFAULT_CONFIDENCE
) -> PercentileCI:
    """The nearest-rank q-percentile of raw (or sorted) latencies and its distribution-free interval.

    No samples give a NaN estimate with ``enough`` False, as an empty window gives NaN percentiles.
    """
    _check_q(q)
    _check_confidence(confidence)
    ordered = sorted_samples(latencies)
    return _ci_of_sorted(ordered, q, confidence)


def _ci_of_sorted(ordered: np.ndarray, q: float, confidence: float) -> PercentileCI:
    n = int(ordered.size)
    lower, upper = ci_ranks(n, q, confidence)
    return PercentileCI(
        q=q,
        confidence=confidence,
        n=n,
        estimate=float(ordered[nearest_rank(n, q) - 1]) if n else float("nan"),
        low=float(ordered[lower - 1]) if lower >= 1 else None,
        high=float(ordered[upper - 1]) if upper <= n else None,
        low_rank=lower,
        high_rank=upper,
    )


def standard_cis(
    latencies: ArrayLike,
    confidence: float = DEFAULT_CONFIDENCE,
    quantiles: tuple[float, ...] = STANDARD_QUANTILES,
) -> tuple[PercentileCI, ...]:
    """p50, p90, p99 and p99.9 (or ``quantiles``) with their intervals, sorting the samples once."""
    _check_confidence(confidence)
    for q in quantiles:
        _check_q(q)
    ordered = sorted_samples(latencies)
    return tuple(_ci_of_sorted(ordered, q, confidence) for q in quantiles)


def min_samples_for(q: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The fewest samples whose interval for the q-percentile has both ends on real samples.

    That is the smallest n with max(q, 1 - q)^n <= (1 - confidence) / 2; every larger n is enough too.
    For tail percentiles (q >= 0.5) the binding end is the upper one: p99 at 95% needs 368 samples, so a
    p99 from 120 requests has no upper bound at all.
    """
    _check_q(q)
    _check_confidence(confidence)
    tail = (1.0 - confidence) / 2.0
    n = max(1, math.ceil(math.log(tail) / math.log(max(q, 1.0 - q))))

    def bounded(k: int) -> bool:
        lower, upper = ci_ranks(k, q, confidence)
        return lower >= 1 and upper <= k

    while n > 1 and bounded(n - 1):
        n -= 1
    while not bounded(n):
        n += 1
    return n
