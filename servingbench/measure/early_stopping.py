"""MLPerf LoadGen's early-stopping rule for a tail-latency bound, with a mirrored "fail" and "undecided".

Why: "p99 under 100 ms" from a few thousand requests is a sample statistic; the claim worth printing is
that the server's true p99 is within the bound at a stated confidence. LoadGen (loadgen/early_stopping.cc,
PerformanceSummary::EarlyStopping in results.cc, Server scenario) decides it from counts alone.

The statement. Of n queries, k were overlatency (latency strictly above the bound; a failed or unanswered
request counts as overlatency too). Let X ~ Binomial(n, 1 - q): the count of overlatency queries a server
would produce whose true q-percentile sits exactly at the bound. Then, with alpha = 1 - confidence:

- pass      iff P(X <= k) < alpha. If the true overlatency fraction were above 1 - q (true q-percentile
            above the bound), k or fewer overlatency queries in n would happen with probability below
            alpha: the true q-percentile is within the bound, at that confidence. This is LoadGen's test
            (odds(h = n - k, t = k) < 1 - c; LoadGen uses q = 0.99 for p99 and confidence 0.99, tolerance
            0), and passing means n >= min_queries_to_pass(k).
- fail      iff P(X >= k) < alpha: the mirror image, so the true q-percentile is above the bound at that
            confidence. LoadGen has no such verdict (it only says how many more queries a pass would need);
            it is ours, so that a probe can stop once the answer is clearly no. For confidence > 0.5 pass
            and fail exclude each other.
- undecided otherwise: neither claim holds at this confidence; more queries are needed. With n = 0 the
            verdict is undecided.

The verdict moves monotonically: more overlatency queries in the same n never turn fail into undecided
or undecided into pass, and more queries with the same k never do the reverse.

The early-stopping percentile is LoadGen's conservative estimate of the q-percentile from the sorted
latencies: t is the largest count with P(X <= t) < alpha (n >= min_queries_to_pass(t)), and the estimate
is the t-th largest latency (rank n - t + 1, discarding the t - 1 highest). It needs t >= 1, i.e. at least
min_queries_to_pass(1) queries (662 for p99 at 99%). The exact one-sided order-statistic bound at that
confidence would be one rank lower, x_(n - t); LoadGen's choice is kept so the figures match MLPerf's.

Adaptive probes: the error rates above hold for one look at a fixed n. A probe that checks the verdict
repeatedly and stops at the first decisive one makes several looks; over at most m planned looks, using
confidence_per_look(confidence, m) in each keeps the overall chance of a wrong pass (or a wrong fail)
below 1 - confidence (Bonferroni).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom

LOADGEN_CONFIDENCE = 0.99
LOADGEN_PERCENTILE = 0.99
"""The Server scenario's defaults in LoadGen (target_latency_percentile 0.99, confidence 0.99)."""

Outcome = Literal["pass", "fail", "undecided"]


@dataclass(frozen=True)
class Verdict:
    """Pass, fail or undecided for k overlatency queries of n, with the two tail probabilities."""

    outcome: Outcome
    n: int
    overlatency: int
    q: float
    confidence: float
    p_pass: float
    """P(X <= k) for X ~ Binomial(n, 1 - q); pass when below 1 - confidence."""
    p_fail: float
    """P(X >= k); fail when below 1 - confidence."""

    @property
    def decided(self) -> bool:
        return self.outcome != "undecided"

    @property
    def queries_to_pass(self) -> int:
        """Total queries LoadGen would need with this many overlatency ones (all further ones in time).

        Computed on demand: a probe that checks its verdict often needs only the outcome."""
        return min_queries_to_pass(self.overlatency, self.q, self.confidence)

    @property
    def more_queries_to_pass(self) -> int:
        """LoadGen's "would need to run at least N more queries" (0 once it passes)."""
        return max(0, self.queries_to_pass - self.n)

    def explain(self) -> str:
        pct = f"p{self.q * 100:.10g}"
        head = f"{self.overlatency} of {self.n} queries over the bound"
        if self.outcome == "pass":
            return f"{head}: {pct} within the bound at {self.confidence:.0%} confidence."
        if self.outcome == "fail":
            return f"{head}: {pct} above the bound at {self.confidence:.0%} confidence."
        more = self.more_queries_to_pass
        return (f"{head}: undecided at {self.confidence:.0%} confidence; a pass needs at least "
                f"{more} more {'query' if more == 1 else 'queries'}, all within the bound.")

    def as_dict(self) -> dict:
        return {**asdict(self), "queries_to_pass": self.queries_to_pass,
                "more_queries_to_pass": self.more_queries_to_pass}


@dataclass(frozen=True)
class EarlyStoppingPercentile:
    """LoadGen's conservative q-percentile of one run, or why there is none yet."""

    q: float
    confidence: float
    n: int
    latency: float | None
    """The conservative q-percentile; None with fewer than ``min_queries`` samples."""
    rank: int | None
    """1-based rank of ``latency`` among the sorted samples."""
    min_queries: int
    """Fewest samples that give an estimate at all (LoadGen's "need to process at least")."""

    @property
    def enough(self) -> bool:
        return self.latency is not None

    @property
    def discarded(self) -> int:
        """How many of the highest latencies lie above the estimate (LoadGen's "would discard")."""
        return self.n - self.rank if self.rank is not None else 0

    def as_dict(self) -> dict:
        return {**asdict(self), "enough": self.enough, "discarded": self.discarded}


def _check(q: float, confidence: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be a fraction in (0, 1) (0.99 for p99), got {q!r}")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence!r}")


def _p_at_most(n: int, k: int, q: float) -> float:
    """P(X <= k), X ~ Binomial(n, 1 - q), computed as P(Binomial(n, q) >= n - k) to avoid 1 - q."""
    return float(binom.sf(n - k - 1, n, q))


def _p_at_least(n: int, k: int, q: float) -> float:
    """P(X >= k) = P(Binomial(n, q) <= n - k)."""
    return float(binom.cdf(n - k, n, q))


def min_queries_to_pass(overlatency: int, q: float = LOADGEN_PERCENTILE,
                        confidence: float = LOADGEN_CONFIDENCE) -> int:
    """The fewest queries n with which ``overlatency`` overlatency ones still pass (LoadGen's h + t).

    459 for none at p99 with 99% confidence, 662 for one, 838 for two.
    """
    _check(q, confidence)
    if overlatency < 0:
        raise ValueError("overlatency must be >= 0")
    alpha = 1.0 - confidence
    k = overlatency
    lo, hi = k, max(k + 1, 2 * k)  # P(X <= k) = 1 at n = k: lo always fails
    while _p_at_most(hi, k, q) >= alpha:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # invariant: lo fails, hi passes; P(X <= k) falls as n grows
        mid = (lo + hi) // 2
        if _p_at_most(mid, k, q) < alpha:
            hi = mid
        else:
            lo = mid
    return hi


def overlatency_verdict(n: int, overlatency: int, q: float = LOADGEN_PERCENTILE,
                        confidence: float = LOADGEN_CONFIDENCE) -> Verdict:
    """Pass, fail or undecided for ``overlatency`` of ``n`` queries over the bound (module docstring)."""
    _check(q, confidence)
    if n < 0 or not 0 <= overlatency <= n:
        raise ValueError(f"need 0 <= overlatency <= n, got {overlatency} of {n}")
    alpha = 1.0 - confidence
    p_pass = _p_at_most(n, overlatency, q)
    p_fail = _p_at_least(n, overlatency, q)
    outcome: Outcome = "pass" if p_pass < alpha else "fail" if p_fail < alpha else "undecided"
    return Verdict(outcome=outcome, n=n, overlatency=overlatency, q=q, confidence=confidence, p_pass=p_pass,
                   p_fail=p_fail)


def count_overlatency(latencies: ArrayLike, bound: float) -> int:
    """Queries strictly above the bound, as LoadGen counts them (a latency equal to the bound is in time)."""
    values = np.asarray(latencies, dtype=float)
    if np.isnan(values).any():
        raise ValueError("latencies contain NaN; count failed requests as overlatency instead")
    return int(np.count_nonzero(values > bound))


def early_stopping_percentile(latencies: ArrayLike, q: float = LOADGEN_PERCENTILE,
                              confidence: float = LOADGEN_CONFIDENCE) -> EarlyStoppingPercentile:
    """LoadGen's early-stopping estimate of the q-percentile from raw or sorted latencies."""
    _check(q, confidence)
    values = np.asarray(latencies, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of latencies, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("latencies contain NaN; drop or classify the failed requests first")
    ordered = np.sort(values)
    n = int(ordered.size)
    need = min_queries_to_pass(1, q, confidence)
    alpha = 1.0 - confidence
    if n < need:
        return EarlyStoppingPercentile(q, confidence, n, None, None, need)
    lo, hi = 1, n  # invariant: t = lo qualifies (n >= need), t = n never does (P(X <= n) = 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _p_at_most(n, mid, q) < alpha:
            lo = mid
        else:
            hi = mid
    rank = n - lo + 1
    return EarlyStoppingPercentile(q, confidence, n, float(ordered[rank - 1]), rank, need)


def confidence_per_look(confidence: float, looks: int) -> float:
    """The confidence each of ``looks`` planned checks needs so that all together keep ``confidence``."""
    if looks < 1:
        raise ValueError("looks must be >= 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return 1.0 - (1.0 - confidence) / looks
