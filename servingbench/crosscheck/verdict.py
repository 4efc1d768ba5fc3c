"""Our SLO headline against LoadGen's verdicts: the typed cross-check record and the agreement rule.

The rule (issue 10): LoadGen, run at our SLO rate with the same p99 bound, should call it VALID, allowing
10% (VALID at 0.9x our rate is still agreement: our search has a resolution and the machine drifts); and
at 1.25x our rate it should call it INVALID (else our headline sits well below what the server holds).
A LoadGen run "holds" only when it is VALID *and* its failed requests stay within the SLO's error budget:
LoadGen knows nothing of HTTP errors (every answer completes its query), so the client counts them.
Disagreements are recorded and printed as DISAGREE with the reason, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servingbench.crosscheck.summary import LoadgenSummary
from servingbench.record.run_record import SLO_PROBE, SLO_REPEAT, Machine, RunRecord
from servingbench.record.serial import Record

CROSSCHECK_FILE = "crosscheck.json"
CROSSCHECK_SCHEMA = 1
ABOVE_FACTOR = 1.25
ALLOWANCE = 0.10
AGREE, DISAGREE = "AGREE", "DISAGREE"


@dataclass(frozen=True)
class Confirmed(Record):
    """One of our confirmations at the held rate: its p99 and 95% order-statistic interval."""

    p99_ms: float
    p99_ci_ms: list[float | None] = field(default_factory=list)
    achieved_rps: float = 0.0
    passed: bool = True


@dataclass(frozen=True)
class OurHeadline(Record):
    """What our run said: the held rate, its bracket and the p99 of the confirmations there."""

    run_id: str
    held_rate_rps: float
    """The highest offered rate at which every confirmation met the SLO."""
    achieved_rps: float
    lowest_failing_rps: float | None
    slo_p99_ms: float
    max_error_rate: float
    confirmations: list[Confirmed] = field(default_factory=list)
    probe_s: float | None = None

    @classmethod
    def of(cls, run: RunRecord) -> OurHeadline:
        """The headline of a complete run; ValueError when it has none to check."""
        search, slo = run.slo_search, run.slo
        if search is None or slo is None or not search.held:
            raise ValueError(f"run {run.run_id} held no rate within its SLO: there is no headline to "
                             "cross-check")
        held = search.slo_rate_rps
        steps = [s for s in run.open_steps if s.purpose == SLO_REPEAT and s.rate_rps == held]
        if not steps:  # no repeats (quick): the search's own probe at the held rate
            steps = [s for s in run.open_steps if s.purpose == SLO_PROBE and s.rate_rps == held][-1:]
        confirmed = [Confirmed(s.latency.p99_ms, list(s.percentile_ci_ms.get("p99", [])),
                               s.latency.throughput_rps, s.meets_slo) for s in steps]
        return cls(run.run_id, held, search.throughput_rps, search.lowest_failing_rps, slo.p99_ms,
                   slo.max_error_rate, confirmed, (run.profile or {}).get("probe_s"))

    @property
    def worst(self) -> Confirmed | None:
        """The confirmation with the highest p99 (every one had to pass)."""
        return max(self.confirmations, key=lambda c: c.p99_ms, default=None)


@dataclass(frozen=True)
class LoadgenRun(Record):
    """One LoadGen Server-scenario run at ``factor`` x our held rate."""

    factor: float
    target_qps: float
    summary: LoadgenSummary
    issued: int
    ok: int
    failures: dict[str, int] = field(default_factory=dict)
    connections_opened: int = 0
    client_p99_ms: float | None = None
    """Issue to answer in the client (LoadGen's latency less its own issue delay)."""
    folder: str = ""
    """LoadGen's logs, relative to the run folder."""

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def error_rate(self) -> float:
        return self.failed / self.issued if self.issued else 0.0

    def holds(self, max_error_rate: float) -> bool:
        """LoadGen's VALID with failures inside the SLO's error budget."""
        return self.summary.valid and self.error_rate <= max_error_rate


@dataclass(frozen=True)
class Agreement(Record):
    """One of the two claims the cross-check tests, and whether LoadGen agreed."""

    claim: str
    verdict: str
    """AGREE or DISAGREE."""
    reason: str


@dataclass(frozen=True)
class CrossCheck(Record):
    """crosscheck.json beside a run: our headline, every LoadGen run, the agreement, what differs."""

    framework: str
    preset: str
    created_at: str
    ours: OurHeadline
    runs: list[LoadgenRun]
    agreements: list[Agreement]
    schema_version: int = CROSSCHECK_SCHEMA
    loadgen_version: str = ""
    loadgen_duration_s: float = 0.0
    threads: int = 0
    server_cpus: list[int] = field(default_factory=list)
    loadgen_cpus: list[int] = field(default_factory=list)
    machine: Machine | None = None
    known_difference: str = ""

    @property
    def agree(self) -> bool:
        return all(a.verdict == AGREE for a in self.agreements)


def run_at(runs: list[LoadgenRun], factor: float) -> LoadgenRun | None:
    return next((r for r in runs if abs(r.factor - factor) < 1e-9), None)


def needs_lower_rate(ours: OurHeadline, runs: list[LoadgenRun], allowance: float = ALLOWANCE) -> bool:
    """After the run at our rate: did it fail to hold, so that the allowance (1 - allowance)x is tried?"""
    at_rate = run_at(runs, 1.0)
    if at_rate is None or run_at(runs, 1 - allowance) is not None:
        return False
    return not at_rate.holds(ours.max_error_rate)


def judge(ours: OurHeadline, runs: list[LoadgenRun], above: float = ABOVE_FACTOR,
          allowance: float = ALLOWANCE) -> list[Agreement]:
    """The two claims: our rate holds under LoadGen (within ``allowance``), ``above`` x it does not."""
    return [_judge_rate(ours, runs, allowance), _judge_above(ours, runs, above)]


def _describe(run: LoadgenRun) -> str:
    p99 = run.summary.p99_ms
    errors = f", {run.failed} failed ({run.error_rate:.2%})" if run.failed else ""
    return (f"LoadGen {run.summary.result} at {run.target_qps:.1f} req/s ({run.factor:g}x), "
            f"p99 {p99:.1f} ms{errors}" if p99 is not None else f"LoadGen {run.summary.result}{errors}")


def _judge_rate(ours: OurHeadline, runs: list[LoadgenRun], allowance: float) -> Agreement:
    claim = f"our held rate {ours.held_rate_rps:.1f} req/s holds (VALID, allowing {allowance:.0%})"
    at_rate, lower = run_at(runs, 1.0), run_at(runs, 1 - allowance)
    if at_rate is None:
        return Agreement(claim, DISAGREE, "LoadGen did not run at our rate")
    if at_rate.holds(ours.max_error_rate):
        return Agreement(claim, AGREE, _describe(at_rate))
    if lower is not None and lower.holds(ours.max_error_rate):
        return Agreement(claim, AGREE, f"{_describe(at_rate)}; {_describe(lower)}: within {allowance:.0%}")
    tried = "; ".join(_describe(r) for r in (at_rate, lower) if r is not None)
    return Agreement(claim, DISAGREE, f"{tried}: LoadGen does not hold our headline")


def _judge_above(ours: OurHeadline, runs: list[LoadgenRun], above: float) -> Agreement:
    claim = f"{above:g}x our rate ({ours.held_rate_rps * above:.1f} req/s) fails (INVALID)"
    run = run_at(runs, above)
    if run is None:
        return Agreement(claim, DISAGREE, f"LoadGen did not run at {above:g}x")
    if run.holds(ours.max_error_rate):
        return Agreement(claim, DISAGREE, f"{_describe(run)}: the server holds more than our headline says")
    return Agreement(claim, AGREE, _describe(run))
