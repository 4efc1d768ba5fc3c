"""SCENARIO=overload: what does the server answer when more is offered than it can serve?

Open-loop Poisson steps at MULTIPLES of the reference rate (the SLO throughput, or the closed-loop peak
where no rate held; scenarios/scaled.py says where it comes from), lowest first. Each step's goodput (the
successes completed inside its window), p50/p99 with their intervals, failures by kind, server CPU and
the generator-limited flag are load/steps.open_step's; the verdict (collapses under overload, holds,
keeps up) is measure/goodput_curve.judge_curve's, on the goodput counts' Poisson intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

from servingbench.load.steps import open_step
from servingbench.measure.goodput_curve import judge_curve
from servingbench.profiles import Profile
from servingbench.protocol import check_alive
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.records import OverloadResult
from servingbench.scenarios.scaled import new_seed, scenario_rate, scenario_step

MULTIPLES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
"""Offered rates as multiples of the reference rate: two below it, four at and above it."""
DURATIONS = {"quick": (2.0, 6.0), "standard": (3.0, 15.0), "full": (5.0, 30.0)}
"""Per profile: (warm-up s, measured s) of each step. Quick's 6 s hold ~360 completions at 60 req/s
(goodput interval about +-10%); standard's 15 s about +-6%."""
STEP_OVERHEAD_S = 4.0 + 10.0
"""Locust's start and stop, plus the open loop's drain of up to 10 s after an overloaded step."""


def durations(profile: Profile, scale: float = 1.0) -> tuple[float, float]:
    warmup, measure = DURATIONS.get(profile.name, DURATIONS["standard"])
    return warmup * scale, measure * scale


@dataclass(frozen=True)
class Overload:
    name: str = "overload"
    question: str = ("what goodput, p99 and errors at 0.5x to 2x the SLO throughput: does it hold, "
                     "or collapse under overload?")
    needs_slo_rate: bool = True
    restarts_server: bool = False

    def check(self, options: ScenarioOptions) -> None:
        return None

    def estimate_s(self, profile: Profile, start_s: float, options: ScenarioOptions) -> float:
        warmup, measure = durations(profile, options.time_scale)
        return len(MULTIPLES) * (warmup + measure + STEP_OVERHEAD_S)

    def run(self, sc: ScenarioContext) -> OverloadResult:
        rate = scenario_rate(sc)
        warmup, measure = durations(sc.profile, sc.options.time_scale)
        where = f"run {rate.run_id}" if rate.source == "earlier run" else rate.source
        sc.progress(f"  overload: reference {rate.rps:.1f} req/s ({rate.basis}; {where}); "
                    f"{len(MULTIPLES)} rates, {warmup:g} s warm-up + {measure:g} s each")
        steps = []
        for i, multiple in enumerate(MULTIPLES, 1):
            offered = rate.rps * multiple
            step = open_step(sc.ctx, offered, warmup, measure, new_seed(), name=f"overload_{i}_x{multiple:g}",
                             windows=sc.profile.windows, purpose="overload")
            check_alive(sc.ctx.server, f"overload step {step.name}")
            steps.append(scenario_step(step, sc.folder))
            sc.progress(f"  overload {i}/{len(MULTIPLES)}: {offered:.1f} req/s offered ({multiple:g}x): "
                        f"goodput {step.latency.throughput_rps:.1f} req/s, p99 {step.latency.p99_ms:.0f} ms, "
                        f"errors {step.latency.errors}")
        verdict = judge_curve([s.curve_point() for s in steps])
        sc.progress(f"  overload verdict: {verdict.verdict}: {verdict.reason}")
        return OverloadResult(rate=rate, multiples=list(MULTIPLES), warmup_s=warmup, measure_s=measure,
                              steps=steps, verdict=verdict, time_scale=sc.options.time_scale)


SCENARIO = Overload()
