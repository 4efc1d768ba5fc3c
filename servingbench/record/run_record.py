"""The typed run record: everything a benchmark run writes to run.json, written and read by these classes.

A run is a :class:`RunRecord`: what was run (framework, preset, tunables, profile, SLO, CPU sets), where
(machine, git commit, versions, model), what happened (status and reason, timestamps, time to ready, idle
use, parity gate, stop) and what was measured: closed-loop steps, open-loop steps, the SLO search and the
summary computed from them. Parts owned by the code that measures them are declared there and composed
here: LatencySummary (measure.stats), Stability (measure.stability), Probe (measure.slo_search),
ParityResult (measure.parity), Reference (measure.reference), Ceiling (load.ceiling), Cost (measure.cost).

Every class is a :class:`servingbench.record.serial.Record`: ``to_dict()`` writes the run.json shape and
``from_dict()`` reads it back. This is schema 2; ``read_run`` reads any version this harness knows
(schema 1 through schema_v1) and refuses others with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from servingbench.load.ceiling import Ceiling
from servingbench.measure.cost import Cost
from servingbench.measure.parity import ParityResult
from servingbench.measure.probe_verdict import ProbeVerdict
from servingbench.measure.reference import Reference
from servingbench.measure.server_metrics import ServerMetricsDelta
from servingbench.measure.slo_search import Confirmation, Probe, SearchResult, passes
from servingbench.measure.stability import Stability
from servingbench.measure.stats import LatencySummary
from servingbench.measure.variants import VariantEvaluation
from servingbench.record.serial import FLAT, SKIP, Record, read_field
from servingbench.scenarios.records import ScenarioResults

SCHEMA_VERSION = 2
FIXED_LOAD = "fixed load"
SLO_PROBE = "SLO search"
SLO_REPEAT = "SLO repeat"
"""The purposes of open-loop steps: the fixed-load comparison, a search probe, a confirmation."""
LAUNCH_FIELDS = frozenset({"launch", "ports", "image", "docker_run", "image_command", "container_tunables",
                           "framework_version", "server_metrics", "exposed_listeners"})
"""What a launched Target says about itself (Target.launch_record())."""


class SchemaError(ValueError):
    """A run.json this harness cannot read: its schema version, or a field that does not fit."""


# --- steps ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resources(Record):
    """The load generator's CPU use during a step and the server tree's (None where it is not watched:
    a remote target or a container).

    The server's figures cover the measured window (``resources_start``..``resources_end``), and
    CPU-ms/request divides by the successful responses completed in it; runs written before those two
    fields existed took them over the whole Locust run and divided by every successful request."""

    generator_cpu_util: float
    """Locust's CPU seconds per wall second, as a fraction of its CPUs, plus ``monitor_cpu_util``."""
    server_cpu_s: float | None = None
    server_cpu_util: float | None = None
    cpu_ms_per_request: float | None = None
    mem_peak_mib: float | None = None
    mem_mean_mib: float | None = None
    memory_kind: str | None = None
    processes: int | None = None
    monitor_cpu_util: float | None = None
    """The harness's process-tree monitor's CPU over the window, as a fraction of the load generator's
    CPUs (the harness runs there); already included in ``generator_cpu_util``. None: no monitor ran."""
    resources_start: float | None = None
    resources_end: float | None = None
    """Wall-clock interval the server figures cover: the measured window, clipped to the monitor's
    samples. None in older runs (figures over the whole Locust run) and where nothing was watched."""


@dataclass(frozen=True, kw_only=True)
class Step(Record):
    """What closed- and open-loop steps share: the measured window, its latency, resources and stability.

    run.json keeps a step flat (``step["p99_ms"]``, as in schema 1): the parts are composed here and their
    keys written side by side.
    """

    MODE: ClassVar[str] = ""
    mode: str
    name: str
    """The step's Locust run: its samples, log and histogram are filed under this name."""
    window_start: float
    window_end: float
    samples_file: str
    """Relative to the run folder."""
    latency: LatencySummary = field(metadata=FLAT)
    status_counts: dict[str, int]
    resources: Resources = field(metadata=FLAT)
    generator_limited: bool
    meets_slo: bool
    stability: Stability | None = field(default=None, metadata=FLAT)
    percentile_ci_ms: dict[str, list[float | None]] = field(default_factory=dict)
    """95% distribution-free intervals [low, high] of p50/p90/p99/p99.9 from order statistics (binomial
    bounds on the rank); None where the samples are too few to bound that side (measure/confidence.py)."""
    histogram: str = field(default="", repr=False, compare=False, metadata=SKIP)
    """HdrHistogram of the successful latencies (µs, base64); written to histograms.json, not run.json."""
    failure_kinds: dict[str, int] = field(default_factory=dict)
    """Failed requests of the window by kind ("HTTP 503", "timeout", "connection refused", "never sent",
    ...; load/failures.py), only the kinds that occurred. Empty for runs written before kinds were
    counted: read those from status_counts (failures.kinds_from_status_counts)."""
    server_metrics: ServerMetricsDelta | None = None
    """The server's own counters over the step's Locust run (measure/server_metrics.py); None where the
    framework exposes none or the run predates the scrape."""

    def __post_init__(self) -> None:
        if self.mode != self.MODE:
            raise ValueError(f"{type(self).__name__} has mode {self.MODE!r}, not {self.mode!r}")


@dataclass(frozen=True, kw_only=True)
class ClosedStep(Step):
    """N users sending back to back; latency from each request's actual send."""

    MODE: ClassVar[str] = "closed"
    mode: str = "closed"
    users: int
    window_covered_s: float
    """Seconds of the window the load covered (shorter only when the request budget ran out)."""
    request_budget_spent: bool


GOODPUT = "goodput: successful responses completed inside the window"


@dataclass(frozen=True)
class ProbeSegment(Record):
    """One open-loop run of an adaptive probe: its own arrival seed, window and raw samples file."""

    name: str
    seed: int
    window_start: float
    window_end: float
    samples_file: str
    """Every row of that run (warm-up and drain included), relative to the run folder."""
    requests: int
    """Requests sent in its measured window."""


@dataclass(frozen=True, kw_only=True)
class OpenStep(Step):
    """Poisson arrivals at a fixed rate; latency from each request's intended send time."""

    MODE: ClassVar[str] = "open"
    mode: str = "open"
    rate_rps: float
    seed: int
    purpose: str = ""
    """FIXED_LOAD, SLO_PROBE or SLO_REPEAT."""
    latency_from: str = "intended send time"
    intended_requests: int
    not_answered: int
    send_lag_p99_ms: float
    in_flight_at_end: int = 0
    """Sent in the window, not answered by its end (answered later or never): not in the goodput."""
    throughput_is: str = ""
    """GOODPUT for runs that count completions inside the window; empty for older runs, which counted
    successful requests *sent* in it (overstating an overloaded server)."""
    verdict: ProbeVerdict | None = field(default=None, metadata=FLAT)
    """A search probe's or confirmation's early-stopping verdict (None: the fixed load, older runs)."""
    segments: list[ProbeSegment] = field(default_factory=list)
    """An adaptive probe's runs, in order. With more than one, ``samples_file`` holds the rows sent in
    their measured windows (pooled, the figures' source) and the window spans them all."""
    fresh_start: bool = False
    """Measured on a server started afresh for this confirmation."""

    @property
    def measured_s(self) -> float:
        """Measured seconds: the segments' windows (gaps between them excluded), else the window."""
        if self.segments:
            return sum(s.window_end - s.window_start for s in self.segments)
        return self.window_end - self.window_start
    held_back_sends: int | None = None
    """Sends that waited for a slot under the in-flight cap: the server had stopped answering (its stall,
    not the generator's). None for runs written before it was recorded."""
    own_lag_p99_ms: float | None = None
    """The generator's own scheduling lag, p99: send lag minus the time held back by the cap. The
    generator-limited rule judges this, not send_lag_p99_ms (load/send_lag.py)."""

    def probe(self, slo_p99_ms: float, max_error_rate: float) -> Probe:
        """This step as an SLO verdict (a search probe or a confirmation).

        With an early-stopping verdict it passes only when that says "pass"; older steps keep the
        sample rule (p99 and error rate within the SLO)."""
        lat = self.latency
        passed = (self.verdict.passed if self.verdict is not None
                  else passes(lat.p99_ms, lat.error_rate, slo_p99_ms, max_error_rate))
        return Probe(self.rate_rps, lat.p99_ms, lat.error_rate, lat.throughput_rps, passed, self.seed,
                     self.generator_limited, self.verdict, self.fresh_start, round(self.measured_s, 3))


# --- the SLO search -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SloSearch(Record):
    """The highest arrival rate meeting the SLO in every confirmation, its bracket, and those confirmations.

    The headline is the median achieved throughput of the confirmations at the held rate (fresh-seed
    repeats, or without repeats the search's own probe there); it is derived, never stored twice. Runs
    written before the held rule (``held_rate_rps`` None) keep their old reading: every confirmation at
    the best rate, passed or not.
    """

    best_rate_rps: float
    """Highest probed rate that passed its search probe (0 when none did)."""
    lowest_failing_rps: float | None
    """The bracket's upper end: the lowest rate that failed, in the search or in a confirmation."""
    resolution: float
    """Relative gap between the best passing and the lowest failing search rate (NaN without both)."""
    probes: list[Probe] = field(default_factory=list)
    confirmations: list[Probe] = field(default_factory=list)
    """Every confirmation, at every rate tried; the held rate's are the headline's."""
    held_rate_rps: float | None = None
    """Highest offered rate at which every confirmation met the SLO (0: none held)."""
    schedule_seed: int | None = None
    """The run's random seed from which every probe's arrival seed was drawn (recorded to reproduce)."""
    fresh_start_ready_s: list[float] = field(default_factory=list)
    """Time to ready of each fresh server start made for a confirmation."""
    fresh_start_note: str = ""
    """Why no confirmation ran on a fresh start where the profile asks for one (a remote target)."""
    provable_floor_rps: float | None = None
    """The profile's lowest provable rate (``Profile.provable_floor_rps``); None for older runs."""
    stopped_at_floor: bool = False
    """Nothing passed and the search stopped at that floor rather than on measured failures."""

    @classmethod
    def of(cls, result: SearchResult, confirmed: Confirmation, schedule_seed: int | None = None, *,
           fresh_start_ready_s: list[float] | None = None, fresh_start_note: str = "",
           provable_floor_rps: float | None = None) -> Self:
        return cls(result.best_rate_rps, confirmed.lowest_failing_rps, result.resolution, list(result.probes),
                   list(confirmed.confirmations), confirmed.held_rate_rps, schedule_seed,
                   list(fresh_start_ready_s or []), fresh_start_note, provable_floor_rps,
                   result.stopped_at_floor)

    @property
    def outcomes(self) -> dict[str, list[float]]:
        """Rates by outcome over the search probes and the confirmations ("pass", "fail", "undecided"),
        each list sorted and without repeats."""
        rates: dict[str, set[float]] = {"pass": set(), "fail": set(), "undecided": set()}
        for probe in [*self.probes, *self.confirmations]:
            rates.setdefault(probe.outcome, set()).add(probe.rate_rps)
        return {outcome: sorted(found) for outcome, found in rates.items()}

    @property
    def slo_rate_rps(self) -> float:
        """The offered rate the headline stands on (the held rate; the best rate for older runs)."""
        return self.best_rate_rps if self.held_rate_rps is None else self.held_rate_rps

    @property
    def held(self) -> bool:
        return self.slo_rate_rps > 0

    @property
    def bracket_rps(self) -> tuple[float, float | None]:
        """[highest rate that held, lowest rate that failed]."""
        return (self.slo_rate_rps, self.lowest_failing_rps)

    @property
    def headline_confirmations(self) -> list[Probe]:
        if self.held_rate_rps is None:
            return list(self.confirmations)
        return [c for c in self.confirmations if c.rate_rps == self.held_rate_rps]

    @property
    def failed_confirmations(self) -> list[Probe]:
        """Confirmations that did not pass: failed, or undecided at their time bound."""
        return [c for c in self.confirmations if not c.passed]

    @property
    def fresh_start_confirmations(self) -> list[Probe]:
        return [c for c in self.confirmations if c.fresh_start]

    @property
    def repeats(self) -> int:
        return len(self.headline_confirmations)

    @property
    def repeats_passed(self) -> int:
        return sum(1 for c in self.headline_confirmations if c.passed)

    @property
    def achieved_rps(self) -> list[float]:
        return [c.achieved_rps for c in self.headline_confirmations]

    @property
    def p99_ms(self) -> list[float]:
        return [c.p99_ms for c in self.headline_confirmations]

    @property
    def throughput_rps(self) -> float:
        """Median achieved throughput of the headline's confirmations (0 when no rate held)."""
        achieved = self.achieved_rps
        return float(np.median(achieved)) if achieved and self.held else 0.0

    @property
    def spread_rps(self) -> tuple[float, float]:
        achieved = self.achieved_rps
        return (min(achieved), max(achieved)) if achieved and self.held else (0.0, 0.0)


# --- the summary ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Overhead(Record):
    """What serving costs against the in-process reference."""

    latency_ms_at_1_user: float
    """p50 at one user minus the in-process single-request p50."""
    throughput_fraction: float | None = None
    """Throughput at the SLO over in-process sequential throughput."""
    throughput_fraction_of_batched: float | None = None


@dataclass(frozen=True)
class Summary(Record):
    """The headline figures of a run, computed from its steps (summary.summarize_run) and nothing else."""

    throughput_at_slo_rps: float = 0.0
    throughput_at_slo_spread: tuple[float, float] | None = None
    slo_rate_rps: float | None = None
    """The offered rate that passed the search (the throughput is what was achieved)."""
    slo_source: str = ""
    """How the SLO throughput was measured: "open-loop search" (or "closed-loop steps" in older runs)."""
    slo_p99_ms: float | None = None
    fixed_load_rps: float | None = None
    p50_ms_at_fixed_load: float | None = None
    p99_ms_at_fixed_load: float | None = None
    fixed_load_meets_slo: bool | None = None
    peak_throughput_rps: float | None = None
    peak_at_users: int | None = None
    p50_ms_at_1_user: float | None = None
    p99_ms_at_1_user: float | None = None
    cpu_ms_per_request_at_peak: float | None = None
    cpu_ms_per_request_at_fixed_load: float | None = None
    mem_peak_mib: float | None = None
    any_generator_limited: bool = False
    unstable_steps: int = 0
    overhead: Overhead | None = None
    cost: Cost | None = None
    """None when the server's memory was not measured (remote, container): no cost is invented."""
    p99_at_fixed_load_enough: bool | None = None
    """Enough successful requests at the fixed load for a bounded 95% interval of its p99 (368); below
    that the p99 is shown as "too few samples" and is not a regression metric."""


# --- the run --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slo(Record):
    p99_ms: float
    max_error_rate: float = 0.001


@dataclass(frozen=True)
class CpuSets(Record):
    server: list[int]
    """Empty for a remote target: its CPUs are not ours."""
    loadgen: list[int]


@dataclass(frozen=True)
class ModelInfo(Record):
    dir: str
    manifest: dict[str, Any] = field(default_factory=dict)
    """The model build's manifest.json (source, key, dtype, versions); empty when unreadable."""
    variant: str = "fp32"
    """fp32 (the export) or int8 (its dynamic quantisation): part of what makes two runs comparable."""
    evaluation: VariantEvaluation | None = None
    """Both variants' accuracy and flips (the int8 folder's evaluation.json); None for an fp32-only run."""


@dataclass(frozen=True)
class Idle(Record):
    """The started server before any load."""

    cpu_util: float
    mem_bytes: int
    processes: int
    memory_kind: str


@dataclass(frozen=True)
class StopReport(Record):
    """How the server's stop went: what needed SIGKILL and anything left running or listening."""

    stop_s: float
    needed_sigkill: list[str] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)
    left_listening: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GitInfo(Record):
    commit: str | None
    dirty: bool = False


@dataclass(frozen=True)
class Machine(Record):
    hostname: str = ""
    cpu_model: str = ""
    logical_cpus: int | None = None
    memory_gib: float | None = None
    kernel: str = ""
    os: str = ""
    python: str = ""
    load_average_at_start: list[float] = field(default_factory=list)
    timestamp: float | None = None


@dataclass(kw_only=True)
class RunRecord(Record):
    """One benchmark run, complete, failed or interrupted: run.json."""

    schema_version: int = SCHEMA_VERSION
    run_id: str = ""
    framework: str
    preset: str
    started_at: str = ""
    git: GitInfo | None = None
    machine: Machine | None = None
    # what was run
    display_name: str = ""
    protocol: str = ""
    transport: str = "rest"
    """The wire protocol the load and the parity gate spoke (PROTOCOL=rest|grpc): runs of different
    transports are ranked and tracked apart, and compared only in the REST vs gRPC table."""
    notes: str = ""
    preset_note: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Knobs set on the command line beyond the preset (None values dropped)."""
    tuning_evidence: dict[str, Any] | None = None
    """tuned.json behind a tuned preset."""
    tunables: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    slo: Slo | None = None
    cpus: CpuSets | None = None
    price_family: str = ""
    """The instance family asked for with --price-family; empty: the cheapest fitting c7i/m7i/r7i."""
    harness_versions: dict[str, str | None] = field(default_factory=dict)
    model: ModelInfo | None = None
    target: str | None = None
    """Base URL of a deployment benchmarked without launching it."""
    loadgen_workers: int = 1
    loadgen_remote_workers: int = 0
    # how it was served
    launch: str = "local"
    image: str | None = None
    docker_run: str | None = None
    image_command: bool | None = None
    container_tunables: dict[str, Any] | None = None
    """The tunables the container was started with (docker mode applies them or refuses to run)."""
    server_versions: dict[str, str | None] = field(default_factory=dict)
    framework_version: str = ""
    server_metrics: str | None = None
    metrics_endpoint: str = ""
    """The framework's own metrics endpoint scraped around each step, or why none was ("exposes nothing")."""
    exposed_listeners: list[str] = field(default_factory=list)
    """Listening sockets of the server's processes not on loopback ("ADDRESS:PORT"), seen after start."""
    """Why server-side CPU, memory and processes are unavailable, when they are."""
    # what was measured
    reference: Reference | None = None
    generator_ceiling: Ceiling | None = None
    time_to_ready_s: float | None = None
    ports: dict[str, int] = field(default_factory=dict)
    idle: Idle | None = None
    parity: ParityResult | None = None
    steps: list[ClosedStep] = field(default_factory=list)
    open_steps: list[OpenStep] = field(default_factory=list)
    slo_search: SloSearch | None = None
    summary: Summary | None = None
    scenarios_run: list[str] = field(default_factory=list)
    """The scenarios asked for, in order ("steady" is the base protocol above; see servingbench/scenarios)."""
    scenarios: ScenarioResults | None = None
    # how it ended
    server_log_tail: str = ""
    stop: StopReport | None = None
    status: str = "running"
    failure_reason: str | None = None
    finished_at: str | None = None
    folder: Path | None = field(default=None, compare=False, metadata=SKIP)
    """Where the run was read from (not written: a run folder can be moved)."""

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise SchemaError(f"RunRecord reads schema {SCHEMA_VERSION}, not {version!r} (use read_run)")
        return super().from_dict(data)

    @property
    def all_steps(self) -> list[Step]:
        return [*self.steps, *self.open_steps]

    def histograms(self) -> dict[str, str]:
        """Each measured step's HdrHistogram by step name: histograms.json."""
        return {s.name: s.histogram for s in self.all_steps if s.histogram}

    def set_launch(self, facts: Mapping[str, Any]) -> None:
        """Record what a Target says about its launch; only launch fields, each read by its type."""
        unknown = set(facts) - LAUNCH_FIELDS
        if unknown:
            raise ValueError(f"not launch fields of the run record: {', '.join(sorted(unknown))}")
        for name, value in facts.items():
            setattr(self, name, read_field(RunRecord, name, value))

    def fixed_load_step(self) -> OpenStep | None:
        return next((s for s in self.open_steps if s.purpose == FIXED_LOAD), None)


def read_run(data: Any, folder: Path) -> RunRecord:
    """A run.json document as a RunRecord, whatever schema this harness reads; SchemaError otherwise."""
    from servingbench.record import schema_v1

    if not isinstance(data, dict):
        raise SchemaError(f"{folder / 'run.json'} is not a JSON object")
    version = data.get("schema_version", 1)
    try:
        if version == SCHEMA_VERSION:
            record = RunRecord.from_dict(data)
        elif version == 1:
            record = RunRecord.from_dict(schema_v1.upgrade(data))
        else:
            raise SchemaError(_unknown_version(data, version, folder))
    except SchemaError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"{folder / 'run.json'} (schema {version}) does not fit the run record: "
                          f"{exc}") from exc
    record.folder = folder
    return record


def _unknown_version(data: dict, version: object, folder: Path) -> str:
    again = (f"make bench FRAMEWORK={data.get('framework', '?')} PRESET={data.get('preset', '?')} "
             f"PROFILE={(data.get('profile') or {}).get('name', '?')}")
    return (f"{folder} has run.json schema {version!r}; this servingbench reads schemas 1 and "
            f"{SCHEMA_VERSION}. It was written by another version of servingbench: read it with that "
            f"version (update this checkout), or move the folder out of results/ and measure again with "
            f"`{again}`.")
