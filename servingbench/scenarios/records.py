"""The typed results of the scenarios, as run.json keeps them under "scenarios" (one field each).

Each scenario appends its result class here (a serial.Record dataclass) and one optional field of
ScenarioResults named like the scenario: run.json is written and read by these classes alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servingbench.measure.goodput_curve import CurvePoint, CurveVerdict
from servingbench.measure.recovery import Recovery, Second
from servingbench.measure.stats import LatencySummary
from servingbench.serial import FLAT, Record


# --- what overload and burst share -----------------------------------------------------------------------
@dataclass(frozen=True)
class RateSource(Record):
    """The reference rate a scenario scaled its load by, and where it came from."""

    rps: float
    basis: str
    """"SLO throughput (...)" or "closed-loop peak (...)" (scenarios.base.reference_rate), or "given"."""
    source: str = "this run"
    """"this run" (its steady protocol), "earlier run" (``run_id``: RATE_FROM=newest) or "given"."""
    run_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ScenarioStep(Record):
    """One open-loop step of a scenario (load.steps.open_step), the figures its page shows."""

    name: str
    offered_rps: float
    """Mean offered rate over the measured window (a burst's schedule: its mean)."""
    seed: int
    window_start: float
    window_end: float
    samples_file: str
    """Relative to the run folder; every row of the Locust run (warm-up and drain included)."""
    latency: LatencySummary = field(metadata=FLAT)
    """Of the requests sent in the window; its throughput is goodput."""
    percentile_ci_ms: dict[str, list[float | None]] = field(default_factory=dict)
    failure_kinds: dict[str, int] = field(default_factory=dict)
    intended_requests: int = 0
    completed_ok: int = 0
    """Successes completed inside the window: the goodput's count."""
    in_flight_at_end: int = 0
    server_cpu_util: float | None = None
    cpu_ms_per_request: float | None = None
    generator_cpu_util: float | None = None
    own_lag_p99_ms: float | None = None
    held_back_sends: int | None = None
    generator_limited: bool = False
    meets_slo: bool = False

    @property
    def measured_s(self) -> float:
        return self.window_end - self.window_start

    def curve_point(self) -> CurvePoint:
        return CurvePoint(self.offered_rps, self.measured_s, self.completed_ok, self.generator_limited)


# --- overload ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OverloadResult(Record):
    """Goodput, latency and failures at multiples of the reference rate, and the curve's verdict."""

    rate: RateSource
    multiples: list[float]
    warmup_s: float
    measure_s: float
    steps: list[ScenarioStep]
    """In offered-rate order."""
    verdict: CurveVerdict
    time_scale: float = 1.0
    """SCENARIO_TIME_SCALE the durations were multiplied by (1: the profile's)."""


# --- burst -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BurstPhase(Record):
    """One phase of the burst (before, burst, after) over the measured window."""

    name: str
    start_s: float
    end_s: float
    """Seconds from the window's start."""
    rate_rps: float
    sent: int
    ok: int
    goodput_rps: float
    p99_ms: float | None
    p99_ci_ms: list[float | None] = field(default_factory=list)
    failure_kinds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BurstResult(Record):
    """Base load, a burst, base load again: the timeline, what was lost and when p99 recovered."""

    rate: RateSource
    base_fraction: float
    burst_fraction: float
    warmup_s: float
    before_s: float
    burst_s: float
    after_s: float
    step: ScenarioStep
    phases: list[BurstPhase]
    timeline: list[Second]
    recovery: Recovery
    over_slo: int = 0
    """Successful requests of the window slower than the SLO's p99 bound."""
    time_scale: float = 1.0

    @property
    def lost(self) -> int:
        """Requests of the window without a successful answer (failures of every kind)."""
        return sum(self.step.failure_kinds.values())


@dataclass
class ScenarioResults(Record):
    """Every scenario the run measured, by name; ``failed``: the ones that failed, with the reason."""

    failed: dict[str, str] = field(default_factory=dict)
    overload: OverloadResult | None = None
    burst: BurstResult | None = None
