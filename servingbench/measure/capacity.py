"""What a recorded SLO search says about the server: the interval that rankings and tuning compare.

The run protocol searches once, then confirms the highest rate that held with fresh seeds, so the
repeats of measure.comparison are those confirmations (their goodput) and the search's bracket [held,
lowest failing] is their resolution. But the bracket's ends rest on single probes, and a p99 from one
probe is noisy: a run of an M/M/1 server probed as the standard profile probes (tests/simulated_server.py)
holds anywhere between 70% and 105% of its capacity, and intervals built from the verdicts as recorded
call two identical servers "ahead" of each other in about one comparison of five. So a verdict counts
for the interval only when the probe's own data make it clear:

- upper end: the lowest rate above the held one whose probe failed clearly: its p99's 95% interval
  (order statistics, on the step) lies wholly above the SLO, it had no successful response, or its
  errors exceed the budget beyond chance (binomial, 97.5%). It is widened like a repeat's resolution
  (highest goodput x failing / held); no clear failure leaves the interval open above.
- lower end: the held rate's lowest goodput when every confirmation there passed clearly (its p99's
  interval wholly under the SLO); otherwise the lowest goodput at the highest lower rate whose probes
  all passed clearly, or 0 when none did (nothing is proven from below).

A probe whose step carries no interval (runs written before percentile intervals, hand-made records)
counts as it was recorded, and so does a recorded lowest failing rate whose probe the record lacks.

A probe judged by the early-stopping verdict (measure.probe_verdict) carries its own claim: "pass" and
"fail" are clear at the probe's confidence, "undecided" is neither. The interval rule above applies to
probes recorded before that verdict.

What this buys, on the simulated servers (tests/test_capacity.py, adaptive early-stopping probes, 120
pairs): identical servers are called "ahead" in about 8% of standard-profile comparisons (within
measure.comparison's 10% bound), tied in about 12%, unproven otherwise (and no rate held in about 12%);
servers 20% apart are called ahead, the right way round, in about one comparison of four, 50% apart in
about 58%. One search per run cannot resolve more: its held rate scatters by +-15% between runs of the
same server. The quick profile's single repeat is always unproven.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

from servingbench.measure.comparison import RunInterval
from servingbench.measure.slo_search import Probe
from servingbench.record.run_record import OpenStep, RunRecord

ERROR_CONFIDENCE = 0.975
"""Errors fail a probe clearly when the budget would give this many at most 2.5% of the time."""


def errors_beyond_chance(errors: int, requests: int, max_error_rate: float) -> bool:
    """More errors than an error rate at the budget plausibly gives (one-sided binomial test)."""
    if errors <= 0 or requests <= 0:
        return False
    return float(binom.sf(errors - 1, requests, max_error_rate)) <= 1.0 - ERROR_CONFIDENCE


def _p99_bounds(step: OpenStep | None) -> list[float | None] | None:
    bounds = step.percentile_ci_ms.get("p99") if step is not None else None
    return bounds if bounds and len(bounds) == 2 else None


def clearly_passed(probe: Probe, step: OpenStep | None, slo_p99_ms: float) -> bool:
    """Passed, and the p99's whole interval is under the SLO (as recorded when there is no interval)."""
    if not probe.passed:
        return False
    if probe.verdict is not None:  # the early-stopping verdict is itself a claim at its confidence
        return True
    bounds = _p99_bounds(step)
    return bounds is None or (bounds[1] is not None and bounds[1] <= slo_p99_ms)


def clearly_failed(probe: Probe, step: OpenStep | None, slo_p99_ms: float, max_error_rate: float) -> bool:
    """Failed beyond the noise of one probe: no success, errors beyond chance, or the p99's whole interval
    above the SLO (as recorded when the step carries no interval)."""
    if probe.passed:
        return False
    if not math.isfinite(probe.p99_ms):
        return True
    if probe.verdict is not None:  # "fail" is a claim at its confidence; "undecided" is not a failure
        return probe.outcome == "fail"
    if step is not None and errors_beyond_chance(step.latency.errors, step.latency.requests, max_error_rate):
        return True
    bounds = _p99_bounds(step)
    return bounds is None or (bounds[0] is not None and bounds[0] > slo_p99_ms)


class _Evidence:
    """The run's probes with their steps and its SLO: what each verdict rests on."""

    def __init__(self, record: RunRecord) -> None:
        self.steps = {(s.rate_rps, s.seed): s for s in record.open_steps}
        self.slo_ms = record.slo.p99_ms if record.slo else math.inf
        self.max_error_rate = record.slo.max_error_rate if record.slo else 1.0

    def passed(self, probe: Probe) -> bool:
        return clearly_passed(probe, self.steps.get((probe.rate_rps, probe.seed)), self.slo_ms)

    def failed(self, probe: Probe) -> bool:
        step = self.steps.get((probe.rate_rps, probe.seed))
        return clearly_failed(probe, step, self.slo_ms, self.max_error_rate)


def _clear_low(probes: list[Probe], held_rps: float, evidence: _Evidence) -> float:
    """Lowest goodput at the highest rate below ``held_rps`` whose probes all passed clearly (0: none)."""
    for rate in sorted({p.rate_rps for p in probes if p.rate_rps < held_rps}, reverse=True):
        at_rate = [p for p in probes if p.rate_rps == rate]
        if all(evidence.passed(p) for p in at_rate):
            return min(p.achieved_rps for p in at_rate)
    return 0.0


def capacity_interval(record: RunRecord) -> RunInterval | None:
    """The run's interval of throughput at the SLO, by the module's rules; None when no rate held."""
    search = record.slo_search
    if search is None or not search.held:
        return None
    achieved = search.achieved_rps
    if not achieved or not all(math.isfinite(a) and a >= 0 for a in achieved):
        return None
    evidence = _Evidence(record)
    held = search.slo_rate_rps
    probes = [*search.probes, *search.confirmations]
    if all(evidence.passed(c) for c in search.headline_confirmations):
        low = min(achieved)
    else:
        low = min(min(achieved), _clear_low(probes, held, evidence))
    failing = [p.rate_rps for p in probes if p.rate_rps > held and evidence.failed(p)]
    recorded = search.lowest_failing_rps
    if recorded is not None and recorded > held and all(p.rate_rps != recorded for p in probes):
        failing.append(recorded)  # a bracket end without its probe (hand-made or older records): as recorded
    high = max(achieved) * min(failing) / held if failing else math.inf
    return RunInterval(low=low, high=max(high, max(achieved)), median=float(np.median(achieved)),
                       repeats=len(achieved))
