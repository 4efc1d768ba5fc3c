"""An SLO probe's verdict: LoadGen's early-stopping rule over the requests sent in its window, plus the
error budget.

Why not "sample p99 <= SLO": a short probe's sample p99 is one of its few slowest requests, so a server
whose true p99 is above the bound passes by luck often enough to become a headline. The early-stopping
rule (measure/early_stopping.py) passes a probe only when its count of overlatency requests makes a true
p99 above the bound unlikely at the stated confidence; it fails one when a true p99 within the bound is as
unlikely; otherwise the probe is undecided (more requests would tell).

Overlatency counts every request sent in the window whose answer was not a success within the bound:
slower than the SLO, an HTTP error, a timeout or connection error, never sent, unanswered at the drain.
The error budget (failed / sent <= max_error_rate) is judged on the same requests; a probe whose failures
already exceed what the budget allows at its time bound fails at once.

A probe that looks several times (measure/adaptive.py) judges each look at ``look_confidence``, the
Bonferroni share of the overall confidence over its planned looks, so stopping at the first decisive look
keeps the overall error rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from servingbench.measure import stats
from servingbench.measure.early_stopping import (
    LOADGEN_PERCENTILE,
    confidence_per_look,
    early_stopping_percentile,
    min_queries_to_pass,
    overlatency_verdict,
)
from servingbench.record.serial import Record

Outcome = Literal["pass", "fail", "undecided"]


@dataclass(frozen=True)
class ProbeRule:
    """What a probe is judged against: the SLO bound, the error budget and the confidence."""

    slo_p99_ms: float
    max_error_rate: float = 0.001
    confidence: float = 0.99
    """Overall, over every look the probe may make."""
    planned_looks: int = 1
    q: float = LOADGEN_PERCENTILE

    @property
    def look_confidence(self) -> float:
        return confidence_per_look(self.confidence, self.planned_looks)

    def queries_to_pass(self, overlatency: int) -> int:
        """Requests a pass needs with this many overlatency ones (LoadGen's h + t), at a look's confidence."""
        return min_queries_to_pass(overlatency, self.q, self.look_confidence)


@dataclass(frozen=True)
class ProbeVerdict(Record):
    """A probe's early-stopping verdict and its counts; written flat beside the probe's other figures."""

    outcome: str
    """"pass", "fail" or "undecided" (undecided at the time bound: not passed, and not a measured fail)."""
    judged_requests: int
    """Requests sent in the measured window(s): the n of the rule."""
    overlatency: int
    """Of them: over the SLO bound, failed or unanswered (the k of the rule)."""
    failed_requests: int
    """Of them: not answered with a success (the error budget's count)."""
    confidence: float
    """Overall confidence of the probe (each look used ``look_confidence``)."""
    look_confidence: float
    looks: int
    """Looks made (segments measured); the verdict is that of the last."""
    planned_looks: int
    queries_to_pass: int
    """Requests a pass would need with this overlatency count, at the look confidence."""
    early_stopping_p99_ms: float | None
    """LoadGen's conservative p99 (failed requests count as infinitely slow); None with too few requests."""
    reason: str = ""
    """Why the probe stopped where it did, in words."""

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    @property
    def decided(self) -> bool:
        return self.outcome != "undecided"


def counts(rows: np.ndarray, slo_p99_ms: float) -> tuple[int, int, int]:
    """(sent, overlatency, failed) of open-loop rows (send time s, latency ms, status[, lag ms])."""
    if rows.size == 0:
        return 0, 0, 0
    ok = stats.ok_mask(rows)
    failed = int((~ok).sum())
    slow = int((ok & (rows[:, 1] > slo_p99_ms)).sum())
    return int(rows.shape[0]), failed + slow, failed


def _percentile(rows: np.ndarray, rule: ProbeRule) -> float | None:
    if rows.size == 0:
        return None
    latencies = np.where(stats.ok_mask(rows), rows[:, 1], np.inf)
    estimate = early_stopping_percentile(latencies, rule.q, rule.look_confidence)
    return estimate.latency


def judge(rows: np.ndarray, rule: ProbeRule, *, looks: int = 1, requests_at_bound: int | None = None
          ) -> ProbeVerdict:
    """The verdict on ``rows`` (every request sent in the measured windows so far).

    ``requests_at_bound``: about how many requests the probe will have judged at its time bound (the rows
    so far plus the rate times the seconds left); the error budget is lost once the failures exceed what
    it allows there. None: this is the last look.
    """
    n, over, failed = counts(rows, rule.slo_p99_ms)
    at_bound = n if requests_at_bound is None else max(n, requests_at_bound)
    latency = overlatency_verdict(n, over, rule.q, rule.look_confidence)
    budget_lost = failed > rule.max_error_rate * at_bound
    within_budget = failed <= rule.max_error_rate * n
    outcome: Outcome = ("fail" if latency.outcome == "fail" or budget_lost
                        else "pass" if latency.outcome == "pass" and within_budget else "undecided")
    pct = f"p{rule.q * 100:.10g}"
    reason = f"{over} of {n} over the bound"
    if budget_lost:
        reason = f"{failed} of {n} failed: over the {rule.max_error_rate:.1%} error budget"
    elif outcome != "undecided":
        reason += f": {pct} {'within' if outcome == 'pass' else 'above'} the bound"
    return ProbeVerdict(
        outcome=outcome, judged_requests=n, overlatency=over, failed_requests=failed,
        confidence=rule.confidence, look_confidence=rule.look_confidence, looks=looks,
        planned_looks=rule.planned_looks, queries_to_pass=rule.queries_to_pass(over),
        early_stopping_p99_ms=_percentile(rows, rule), reason=reason,
    )
