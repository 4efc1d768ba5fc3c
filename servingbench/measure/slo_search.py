"""Search for the highest arrival rate a server sustains within its latency objective.

This is the idea of MLPerf's Server scenario: Poisson arrivals at a fixed rate, latency measured from
each request's intended send time, and the result is the highest rate whose p99 stays under the SLO
with (almost) no errors. The search is bounded in probes, deterministic for a given sequence of probe
outcomes, and every probe uses a seed derived from its rate, so a repeat sends the same arrivals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from servingbench.serial import Record


@dataclass(frozen=True)
class Probe(Record):
    """One open-loop measurement at a fixed rate and its verdict: a search probe or a confirmation."""

    rate_rps: float
    p99_ms: float
    error_rate: float
    achieved_rps: float
    passed: bool
    seed: int
    generator_limited: bool = False


@dataclass
class SearchResult:
    best_rate_rps: float
    """Highest probed rate that passed (0 when none did)."""
    probes: list[Probe] = field(default_factory=list)
    lowest_failing_rps: float | None = None
    resolution: float = 0.0
    """Relative gap between the best passing and the lowest failing rate when the search stopped."""


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
) -> SearchResult:
    """Find the highest passing rate with at most ``max_probes`` calls of ``measure(rate, seed)``.

    Starts at ``start_rps`` (e.g. the closed-loop peak), doubles while probes pass, halves while
    they fail, then bisects between the best pass and the lowest fail until their gap is within
    ``tolerance`` (relative) or the probes are spent.
    """
    if start_rps <= 0 or max_probes < 1:
        raise ValueError("start_rps must be > 0 and max_probes >= 1")
    result = SearchResult(best_rate_rps=0.0)
    lo: float | None = None  # best passing rate
    hi: float | None = None  # lowest failing rate
    rate = start_rps
    for _ in range(max_probes):
        probe = measure(rate, seed_for(rate))
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
                break
        rate = round(rate, 2)
    result.best_rate_rps = lo or 0.0
    result.lowest_failing_rps = hi
    result.resolution = (hi - lo) / hi if (lo is not None and hi) else float("nan")
    return result
