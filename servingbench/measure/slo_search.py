"""Search for the highest arrival rate a server sustains within its latency objective.

This is the idea of MLPerf's Server scenario: Poisson arrivals at a fixed rate, latency measured from
each request's intended send time, and the result is the highest rate whose p99 stays under the SLO
with (almost) no errors. A probe's ``passed`` is its early-stopping verdict (measure/probe_verdict.py):
"pass" only; "undecided" at its time bound counts as not passed, like "fail", but is recorded as such.
The search is bounded in probes and deterministic for a given sequence of probe outcomes. A rate counts
as the headline only when every confirmation at it passes too (``confirm``): a failed confirmation sends
the search below it, within a bounded number of rounds. Schedules' seeds are drawn by the caller (fresh
per run and recorded), so two frameworks never share one arrival sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from servingbench.measure.probe_verdict import ProbeVerdict
from servingbench.record.serial import FLAT, Record


@dataclass(frozen=True)
class Probe(Record):
    """One open-loop measurement at a fixed rate and its verdict: a search probe or a confirmation."""

    rate_rps: float
    p99_ms: float
    error_rate: float
    achieved_rps: float
    passed: bool
    """The early-stopping verdict was "pass" (runs before it: sample p99 and errors within the SLO)."""
    seed: int
    generator_limited: bool = False
    verdict: ProbeVerdict | None = field(default=None, metadata=FLAT)
    """None for runs written before the early-stopping rule."""
    fresh_start: bool = False
    """Measured on a server started afresh for it (between-start variance), not the search's server."""
    measured_s: float | None = None
    """Measured seconds over all its segments (adaptive length); None for older runs."""

    @property
    def outcome(self) -> str:
        """"pass", "fail" or "undecided"; older runs have only passed or failed."""
        if self.verdict is not None:
            return self.verdict.outcome
        return "pass" if self.passed else "fail"


@dataclass
class SearchResult:
    best_rate_rps: float
    """Highest probed rate that passed (0 when none did)."""
    probes: list[Probe] = field(default_factory=list)
    lowest_failing_rps: float | None = None
    resolution: float = 0.0
    """Relative gap between the best passing and the lowest failing rate when the search stopped."""
    stopped_at_floor: bool = False
    """Nothing passed and the next rate down was below ``floor_rps``: the search ended there, not on a
    measured failure of every lower rate (the profile cannot prove the SLO below its floor)."""


def seed_for(rate_rps: float, repeat: int = 0) -> int:
    """The arrival schedule's seed: fixed by the rate (and repeat number), not by the search path."""
    return round(rate_rps * 100) * 10 + repeat


def passes(p99_ms: float, error_rate: float, slo_p99_ms: float, max_error_rate: float) -> bool:
    return p99_ms == p99_ms and p99_ms <= slo_p99_ms and error_rate <= max_error_rate  # NaN fails


def search(
    measure: Callable[[float, int], Probe],
    *,
    start_rps: float,
    max_probes: int,
    tolerance: float = 0.05,
    floor_rps: float = 0.5,
    seed_of: Callable[[float], int] = seed_for,
) -> SearchResult:
    """Find the highest passing rate with at most ``max_probes`` calls of ``measure(rate, seed)``.

    Starts at ``start_rps`` (e.g. the closed-loop peak), doubles while probes pass, halves while
    they fail, then bisects between the best pass and the lowest fail until their gap is within
    ``tolerance`` (relative) or the probes are spent. Halving stops below ``floor_rps``: the profile's
    lowest provable rate (``Profile.provable_floor_rps``), under which a probe cannot pass however good
    the server, so probing there would only spend time.
    """
    if start_rps <= 0 or max_probes < 1:
        raise ValueError("start_rps must be > 0 and max_probes >= 1")
    result = SearchResult(best_rate_rps=0.0)
    lo: float | None = None  # best passing rate
    hi: float | None = None  # lowest failing rate
    rate = start_rps
    for _ in range(max_probes):
        probe = measure(rate, seed_of(rate))
        result.probes.append(probe)
        if probe.passed:
            lo = rate if lo is None else max(lo, rate)
        else:
            hi = rate if hi is None else min(hi, rate)
        if lo is not None and hi is not None:
            if (hi - lo) / hi <= tolerance:
                break
            rate = (lo + hi) / 2
        elif lo is not None:
            rate = lo * 2
        else:
            rate = hi / 2 if hi is not None else rate
            if rate < floor_rps:
                result.stopped_at_floor = True
                break
        rate = round(rate, 2)
    result.best_rate_rps = lo or 0.0
    result.lowest_failing_rps = hi
    result.resolution = (hi - lo) / hi if (lo is not None and hi) else float("nan")
    return result


@dataclass
class Confirmation:
    """What the confirmations established: the highest rate at which every one of them met the SLO."""

    held_rate_rps: float
    """0 when no rate held in every confirmation within the rounds allowed."""
    confirmations: list[Probe] = field(default_factory=list)
    """Every confirmation run, at every rate tried (the held rate's are the headline's)."""
    lowest_failing_rps: float | None = None
    """The lowest rate that failed, in the search or in a confirmation: the bracket's upper end."""


def confirm(measure: Callable[[float, int], Probe], result: SearchResult, *, repeats: int, max_rounds: int,
            seed_of: Callable[[float], int], step_down: float = 0.8,
            fresh_start: Callable[[], None] | None = None) -> Confirmation:
    """Confirm the search's best rate ``repeats`` times; if one confirmation fails, try lower.

    A rate holds only when all its confirmations pass (an undecided one is not a pass; the first that
    does not pass ends that round). The next candidate is the highest rate below it that passed its search
    probe, else ``step_down`` of it; at most ``max_rounds`` rates are tried, so a run stays bounded and says
    "no rate held" otherwise. ``fresh_start``, when given, restarts the server before the last
    confirmation of every round (once the others passed), so a rate holds only if it holds across starts.
    """
    failing = result.lowest_failing_rps
    candidate = result.best_rate_rps
    done: list[Probe] = []
    for _ in range(max(0, max_rounds)):
        if candidate <= 0:
            break
        held = True
        for k in range(repeats):
            if fresh_start is not None and repeats > 1 and k == repeats - 1:
                fresh_start()
            probe = measure(candidate, seed_of(candidate))
            done.append(probe)
            if not probe.passed:
                held = False
                break
        if held:
            return Confirmation(candidate, done, failing)
        failing = candidate if failing is None else min(failing, candidate)
        lower = [p.rate_rps for p in result.probes if p.passed and p.rate_rps < candidate]
        candidate = round(max(lower) if lower else candidate * step_down, 2)
    return Confirmation(0.0, done, failing)
