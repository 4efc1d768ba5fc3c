"""The typed results of the scenarios, as run.json keeps them under "scenarios" (one field each).

Each scenario appends its result class here (a serial.Record dataclass) and one optional field of
ScenarioResults named like the scenario: run.json is written and read by these classes alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servingbench.measure.coldstart import FirstCorrect, ModelLoad, Spread, StartupSplit
from servingbench.measure.goodput_curve import CurvePoint, CurveVerdict
from servingbench.measure.recovery import Recovery, Second
from servingbench.measure.reference import BatchReference
from servingbench.measure.stats import LatencySummary
from servingbench.record.serial import FLAT, Record


# --- size and trace: one open-loop step as their pages need it ---------------------------------------
@dataclass(frozen=True)
class StepFigures(Record):
    """One open-loop step of a scenario: its window, latency with 95% intervals, failures by kind and
    server CPU over the window (load/steps.open_step's OpenStep, the parts a scenario page shows).
    ``samples_file`` (relative to the run folder) holds every raw sample: the page's figures come from it."""

    name: str
    rate_rps: float
    """Mean offered rate (arrivals / measured seconds)."""
    seed: int
    samples_file: str
    window_start: float
    window_end: float
    latency: LatencySummary = field(metadata=FLAT)
    percentile_ci_ms: dict[str, list[float | None]] = field(default_factory=dict)
    failure_kinds: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_request: float | None = None
    server_cpu_util: float | None = None
    generator_limited: bool = False
    send_lag_p99_ms: float | None = None


@dataclass(frozen=True)
class SizePoint(Record):
    """The fixed load with texts of one size."""

    tokens: int
    """The target: texts of at most this many tokens (the model's tokenizer, special tokens included)."""
    tokens_min: int
    tokens_max: int
    """The sent texts' actual counts (a cut at a word boundary may fall short of the target)."""
    tokens_model: int
    """What the encoder sees: min(tokens_max, the predictor's max_length); longer texts are truncated."""
    texts: int
    """Distinct texts of this size, sent in turn."""
    requests_file: str
    step: StepFigures


@dataclass(frozen=True)
class SizeResult(Record):
    """SCENARIO=size: latency and CPU per request against request size, at the fixed load."""

    rate_rps: float
    max_length: int
    """The predictor's truncation (manifest.json): texts above it cost the encoder no more."""
    points: list[SizePoint] = field(default_factory=list)
    padding: str = ""
    """Who pads what (the predictor pads each batch to its longest text; each step's texts are one size)."""
    wall_s: float = 0.0
    """Seconds the scenario took, Locust starts included."""


@dataclass(frozen=True)
class TraceTimeline(Record):
    """Per second of the trace (second k: [window_start + k, window_start + k + 1)), parallel lists."""

    offered: list[int] = field(default_factory=list)
    """Arrivals whose intended send time fell in the second."""
    goodput: list[int] = field(default_factory=list)
    """Successful responses completed in the second."""
    failed: list[int] = field(default_factory=list)
    """Requests sent in the second that failed (any kind)."""
    p99_ms: list[float | None] = field(default_factory=list)
    """p99 (nearest rank) of the successful requests sent in the second; None: none succeeded."""
    over_slo: list[bool] = field(default_factory=list)
    """More than 1% of the second's requests failed or took longer than the SLO's p99 bound."""


@dataclass(frozen=True)
class TraceResult(Record):
    """SCENARIO=trace: an arrival trace replayed open-loop; per-second goodput and p99, SLO seconds."""

    trace: str
    """The trace file as given (the repo's example when no TRACE was given)."""
    trace_sha256: str
    example: bool
    speed: float
    columns: str
    """The trace's header ("offset_s", "offset_s,text_id" or "offset_s,tokens")."""
    arrivals: int
    trace_s: float
    """Seconds the replayed trace spans (its last offset / speed, rounded up): the timeline's length."""
    tail_s: float
    """Quiet seconds measured after the last arrival, so its answer can count in the goodput."""
    slo_p99_ms: float
    step: StepFigures
    timeline_start: float
    """Wall time of the trace's zero (the first arrival's intended time minus its offset): second k of
    the timeline is [timeline_start + k, timeline_start + k + 1)."""
    timeline: TraceTimeline
    seconds_over_slo: int
    goodput_ratio: float
    """Successful responses completed in the window / arrivals."""
    peak_rate_rps: int
    """Most arrivals in one second of the replayed trace."""
    wall_s: float = 0.0


# --- coldstart ------------------------------------------------------------------------------------
@dataclass
class ColdStart(Record):
    """One fresh start of the server: spawn to first correct prediction, the first request after
    ready, idle use, and the start-up split where the model's load was logged."""

    index: int
    spawn_wall: float
    """time.time() at spawn: the clock of the model-load lines."""
    first: FirstCorrect
    time_to_ready_s: float
    """Spawn to the adapter's own readiness (TorchServe: every worker; others: a real prediction)."""
    first_request_ms: float
    """The first prediction after ready (one text), timed alone."""
    warm_request_ms: float
    """Median of the next few single predictions: the same request once the server is warm."""
    idle_mem_mib: float | None
    idle_cpu_util: float | None
    processes: int | None
    memory_kind: str = ""
    split: StartupSplit | None = None
    """None: no model load logged before the first correct prediction ("not logged")."""
    loads: list[ModelLoad] = field(default_factory=list)
    stop_s: float | None = None
    folder: str = ""
    """The start's server folder, relative to the run (its server.log and model_load.events)."""


@dataclass
class KeepWarm(Record):
    """What an idle instance of this server costs per hour (the alternative to scaling to zero)."""

    usd_per_hour: float
    instance: str
    vcpus: int
    mem_gib: float
    assumption: str
    price_date: str = ""
    price_source: str = ""
    verified: bool = False


@dataclass
class ColdStartResult(Record):
    """N fresh starts and the spread of each figure over them."""

    starts: list[ColdStart]
    first_correct_s: Spread | None
    time_to_ready_s: Spread | None
    first_request_ms: Spread | None
    warm_request_ms: Spread | None
    idle_mem_mib: Spread | None
    startup_s: Spread | None = None
    model_load_s: Spread | None = None
    after_load_s: Spread | None = None
    idle_s: float = 0.0
    """How long each start idled before its memory was read."""
    poll_interval_s: float = 0.0
    keep_warm: KeepWarm | None = None
    split_source: str = ""
    """Where the split comes from (the shared model's timestamped load line), or why there is none."""


@dataclass
class BatchSize(Record):
    """The batch job sent as requests of ``texts_per_request`` texts each, closed loop."""

    texts_per_request: int
    requests: int
    """The job's requests (job texts / texts per request)."""
    users: int
    """Closed-loop users (requests kept in flight), by the saturation rule (BatchResult.users_rule)."""
    refused: str = ""
    """Why the framework refused this size before the job ("limit: ..."); the job was then not sent."""
    ok_texts: int = 0
    wall_s: float = 0.0
    """First send to the last of the job's requests completed (from the raw samples)."""
    texts_per_s: float = 0.0
    """Texts in successful responses per second of the job's wall time."""
    cpu_ms_per_text: float | None = None
    """Server process tree CPU over the job's wall time, per text served (None: not watchable)."""
    server_cpu_util: float | None = None
    mem_peak_mib: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    percentile_ci_ms: dict[str, list[float | None]] = field(default_factory=dict)
    """Request latency intervals (95%, order statistics) of the successful requests."""
    failure_kinds: dict[str, int] = field(default_factory=dict)
    samples_file: str = ""
    reference: BatchReference | None = None
    """The in-process predictor on the same job in calls of the same size."""


@dataclass
class BatchResult(Record):
    """MLPerf Offline's analogue: one fixed job of texts at every request size."""

    job_texts: int
    sizes: list[BatchSize]
    batching: str
    """The server's own batching in this configuration (max batch, delay), or that it is off."""
    users_rule: str
    reference_server_cpu_util: float | None = None
    """The idle server's own CPU use while the in-process reference ran on the same CPUs."""
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
    size: SizeResult | None = None
    trace: TraceResult | None = None
    coldstart: ColdStartResult | None = None
    batch: BatchResult | None = None
    overload: OverloadResult | None = None
    burst: BurstResult | None = None
