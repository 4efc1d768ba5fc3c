"""SCENARIO=burst: a burst of traffic, then back to normal: what is lost, and how soon is p99 good again?

One open-loop step on a piecewise Poisson schedule (loadtests/arrivals.piecewise_poisson): BASE of the
reference rate (scenarios/scaled.py) through a warm-up and a before phase, BURST of it for the burst,
BASE again after. The measured window is before + burst + after; its 1-s timeline, the requests lost
(failures by kind, never sent, unanswered) and the time from the burst's end until p99 is back under the
SLO are measure/recovery.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loadtests.arrivals import piecewise_poisson
from servingbench.load.failures import count_kinds
from servingbench.load.steps import open_step, percentile_intervals
from servingbench.measure import stats
from servingbench.measure.recovery import recovery, timeline
from servingbench.profiles import Profile
from servingbench.protocol import check_alive
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.records import BurstPhase, BurstResult, RateSource, ScenarioStep
from servingbench.scenarios.scaled import new_seed, scenario_rate, scenario_step

BASE, BURST = 0.5, 1.5
"""Fractions of the reference rate: the steady load around the burst, and the burst."""
PHASES = {"quick": (3.0, 6.0, 6.0, 15.0), "standard": (3.0, 10.0, 10.0, 30.0),
          "full": (5.0, 15.0, 15.0, 60.0)}
"""Per profile: (warm-up, before, burst, after) seconds. After is the longest: recovery needs room."""
OVERHEAD_S = 4.0 + 10.0
"""Locust's start and stop, and the drain after the last arrival."""


@dataclass(frozen=True)
class Plan:
    warmup_s: float
    before_s: float
    burst_s: float
    after_s: float

    @property
    def measure_s(self) -> float:
        return self.before_s + self.burst_s + self.after_s

    def schedule(self, rate_rps: float, seed: int) -> np.ndarray:
        """Intended send offsets over warm-up + window (the warm-up runs at the base rate)."""
        return piecewise_poisson([(BASE * rate_rps, self.warmup_s + self.before_s),
                                  (BURST * rate_rps, self.burst_s), (BASE * rate_rps, self.after_s)], seed)


def plan(profile: Profile, scale: float = 1.0) -> Plan:
    return Plan(*(s * scale for s in PHASES.get(profile.name, PHASES["standard"])))


def phases(samples: np.ndarray, start: float, p: Plan, rate: RateSource) -> list[BurstPhase]:
    """Each phase's figures from the raw samples (``start``: the window's wall-clock start)."""
    out = []
    bounds = [("before", 0.0, p.before_s, BASE), ("burst", p.before_s, p.before_s + p.burst_s, BURST),
              ("after", p.before_s + p.burst_s, p.measure_s, BASE)]
    for name, a, b, fraction in bounds:
        window = stats.sent_in_window(samples, start + a, start + b)
        lat = stats.ok_latencies(window)
        ci = percentile_intervals(lat).get("p99", [])
        out.append(BurstPhase(
            name=name, start_s=a, end_s=b, rate_rps=fraction * rate.rps, sent=int(window.shape[0]),
            ok=int(lat.size),
            goodput_rps=stats.completed_ok_in_window(samples, start + a, start + b) / (b - a),
            p99_ms=stats.exact_percentiles(lat)["p99"] if lat.size else None, p99_ci_ms=ci,
            failure_kinds=count_kinds(window[:, 2]) if window.size else {}))
    return out


@dataclass(frozen=True)
class Burst:
    name: str = "burst"
    question: str = ("after a burst at 150% of the SLO throughput, how many requests are lost and how soon "
                     "is p99 back under the SLO?")
    needs_slo_rate: bool = True
    restarts_server: bool = False

    def check(self, options: ScenarioOptions) -> None:
        return None

    def estimate_s(self, profile: Profile, start_s: float, options: ScenarioOptions) -> float:
        p = plan(profile, options.time_scale)
        return p.warmup_s + p.measure_s + OVERHEAD_S

    def run(self, sc: ScenarioContext) -> BurstResult:
        rate = scenario_rate(sc)
        p = plan(sc.profile, sc.options.time_scale)
        seed = new_seed()
        schedule = p.schedule(rate.rps, seed)
        sc.progress(f"  burst: {BASE * rate.rps:.1f} req/s for {p.warmup_s + p.before_s:g} s, "
                    f"{BURST * rate.rps:.1f} req/s for {p.burst_s:g} s, {BASE * rate.rps:.1f} req/s for "
                    f"{p.after_s:g} s (reference {rate.rps:.1f} req/s, {rate.basis})")
        step = open_step(sc.ctx, BURST * rate.rps, p.warmup_s, p.measure_s, seed, name="burst",
                         windows=sc.profile.windows, purpose="burst", schedule=schedule)
        check_alive(sc.ctx.server, "the burst")
        mean_rps = ((BASE * (p.before_s + p.after_s) + BURST * p.burst_s) / p.measure_s) * rate.rps
        result = self._result(sc, rate, p, scenario_step(step, sc.folder, offered_rps=mean_rps))
        sc.progress(f"  burst: {result.recovery.note}; lost {result.lost} requests "
                    f"({', '.join(f'{k} {n}' for k, n in result.step.failure_kinds.items()) or 'none'})")
        return result

    def _result(self, sc: ScenarioContext, rate: RateSource, p: Plan, step: ScenarioStep) -> BurstResult:
        samples = np.load(Path(sc.folder) / step.samples_file)
        start, slo = step.window_start, sc.ctx.slo_p99_ms
        seconds = timeline(samples, start, start + p.measure_s)
        window = stats.sent_in_window(samples, start, start + p.measure_s)
        rec = recovery(seconds, p.before_s, p.before_s + p.burst_s, slo, sc.ctx.max_error_rate)
        return BurstResult(rate=rate, base_fraction=BASE, burst_fraction=BURST, warmup_s=p.warmup_s,
                           before_s=p.before_s, burst_s=p.burst_s, after_s=p.after_s, step=step,
                           phases=phases(samples, start, p, rate), timeline=seconds, recovery=rec,
                           over_slo=int((stats.ok_latencies(window) > slo).sum()),
                           time_scale=sc.options.time_scale)


SCENARIO = Burst()
