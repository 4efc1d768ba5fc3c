"""A simulated server for the ranking and tuning tests: raw sample streams through the real search.

The server is one FIFO worker with exponential service times (M/M/1), so the rate at which its p99
meets the SLO is known exactly: the sojourn time is exponential with rate mu - lambda, p99 = ln(100) /
(mu - lambda), so the capacity at the SLO is C = mu - ln(100) / SLO. A server is named by that C. Each
probe draws its own C_probe = C (1 + 0.05 z) from its seed (the between-repeat variance of fresh seeds
and server starts), Poisson arrivals over the settle time and the measured window, and service times;
the waits follow Lindley's recursion (vectorised: W_n = X_n - min_{k <= n} X_k with X the running sum
of service minus inter-arrival times). The probe's p99 and errors come from servingbench.measure.stats
over the requests sent in the window (with the p99's 95% interval, as load.steps records it), its
achieved rate is the goodput (completions inside the window); the probe is adaptive and judged by the
early-stopping verdict as the run protocol judges it (measure.adaptive, measure.probe_verdict), and the
real search and confirmations (measure.slo_search) decide what the record holds.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np

from servingbench.measure import confidence, stats
from servingbench.measure.adaptive import run_adaptive
from servingbench.measure.probe_verdict import ProbeRule
from servingbench.measure.slo_search import Confirmation, Probe, confirm, passes, search
from servingbench.profiles import Profile
from servingbench.record.run_record import SLO_PROBE, OpenStep, Resources, RunRecord, Slo, SloSearch, Summary

SLO_MS = 100.0
REPEAT_NOISE = 0.05
MAX_ERROR_RATE = 0.001
LN100 = math.log(100.0)


def mu_for(capacity_rps: float, slo_ms: float = SLO_MS) -> float:
    """Service rate whose p99 sojourn equals the SLO at ``capacity_rps`` (M/M/1)."""
    return capacity_rps + LN100 / (slo_ms / 1000.0)


def samples(rate_rps: float, mu: float, settle_s: float, window_s: float,
            rng: np.random.Generator) -> np.ndarray:
    """(intended send time s, latency ms, status) rows; the window is [0, window_s)."""
    n = int(rng.poisson(rate_rps * (settle_s + window_s) * 1.2)) + 10
    sends = np.cumsum(rng.exponential(1.0 / rate_rps, n)) - settle_s
    sends = sends[sends < window_s]
    service = rng.exponential(1.0 / mu, sends.size)
    x = np.concatenate([[0.0], np.cumsum(service[:-1] - np.diff(sends))])[:sends.size]
    wait = x - np.minimum.accumulate(x)  # x[0] = 0: the first request finds the queue empty
    latency_ms = (wait + service) * 1000.0
    return np.column_stack([sends, latency_ms, np.full(sends.size, 200.0)])


def open_step(rate_rps: float, seed: int, rows: np.ndarray, window_s: float, slo_ms: float) -> OpenStep:
    """The probe as the run protocol records it: latency summary, goodput and the p99's interval."""
    window = stats.sent_in_window(rows, 0.0, window_s)
    summary = stats.summarize(window, window_s)
    goodput = stats.completed_ok_in_window(rows, 0.0, window_s) / window_s
    summary = replace(summary, throughput_rps=goodput)
    p99 = confidence.percentile_ci(stats.ok_latencies(window), 0.99)  # what load.steps records for p99
    return OpenStep(
        name=f"sim_{seed}", rate_rps=rate_rps, seed=seed, purpose=SLO_PROBE, window_start=0.0,
        window_end=window_s, samples_file="", latency=summary, intended_requests=int(window.shape[0]),
        not_answered=0, send_lag_p99_ms=0.0, status_counts=stats.status_counts(window),
        resources=Resources(generator_cpu_util=0.1), generator_limited=False,
        meets_slo=passes(summary.p99_ms, summary.error_rate, slo_ms, MAX_ERROR_RATE),
        percentile_ci_ms={"p99": [p99.low, p99.high]},
    )


class Server:
    """A server of capacity ``capacity_rps`` at the SLO, probed the way the run protocol probes."""

    def __init__(self, capacity_rps: float, profile: Profile, slo_ms: float = SLO_MS,
                 name: str = "sim") -> None:
        self.capacity_rps = capacity_rps
        self.profile = profile
        self.slo_ms = slo_ms
        self.name = name
        self.steps: list[OpenStep] = []

    def probe(self, rate_rps: float, seed: int) -> Probe:
        rng = np.random.default_rng(seed)
        capacity = self.capacity_rps * (1.0 + REPEAT_NOISE * rng.standard_normal())
        plan = self.profile.probe_plan()
        rows = samples(rate_rps, mu_for(capacity, self.slo_ms), self.profile.open_warmup_s, sum(plan), rng)
        edges = np.concatenate([[0.0], np.cumsum(plan)])

        def segment(seconds: float, _seed: int) -> np.ndarray:
            """The next stretch of one continuous run: a stationary server's segments are its prefix."""
            i = int(np.searchsorted(edges, start[0] + 1e-9)) - 1
            start[0] = edges[i] + seconds
            return stats.sent_in_window(rows, edges[i], start[0])

        start = [0.0]
        rule = ProbeRule(self.slo_ms, MAX_ERROR_RATE, self.profile.slo_confidence, len(plan))
        measured = run_adaptive(segment, rule, plan, seed, rate_rps)
        step = replace(open_step(rate_rps, seed, rows, measured.measured_s, self.slo_ms),
                       verdict=measured.verdict)
        self.steps.append(step)
        return step.probe(self.slo_ms, MAX_ERROR_RATE)

    def slo_search(self, seed: int) -> SloSearch:
        """One run's search and confirmations, by the protocol's rule (quick's included)."""
        rng = random.Random(seed)

        def seed_of(_rate: float) -> int:
            return rng.randrange(2**31)

        p = self.profile
        start = mu_for(self.capacity_rps, self.slo_ms)  # the closed-loop peak: the service rate
        result = search(self.probe, start_rps=start, max_probes=p.slo_probes, seed_of=seed_of)
        if p.repeats > 1:
            confirmed = confirm(self.probe, result, repeats=p.repeats, max_rounds=p.confirm_rounds,
                                seed_of=seed_of)
        else:
            own = [x for x in result.probes if x.passed and x.rate_rps == result.best_rate_rps]
            confirmed = Confirmation(result.best_rate_rps, own, result.lowest_failing_rps)
        return SloSearch.of(result, confirmed, seed)

    def run(self, seed: int, preset: str = "default") -> RunRecord:
        """A complete run record holding the search, its probes' steps and the summary's headline."""
        self.steps = []
        searched = self.slo_search(seed)
        return RunRecord(
            run_id=f"20260101T000000Z-{self.name}-{preset}-{seed}", framework=self.name, preset=preset,
            status="complete", started_at="2026-01-01T00:00:00+00:00",
            profile={"name": self.profile.name}, slo=Slo(self.slo_ms, MAX_ERROR_RATE),
            open_steps=list(self.steps), slo_search=searched,
            summary=Summary(throughput_at_slo_rps=searched.throughput_rps,
                            throughput_at_slo_spread=searched.spread_rps, slo_rate_rps=searched.slo_rate_rps,
                            slo_source="open-loop search", slo_p99_ms=self.slo_ms),
        )
