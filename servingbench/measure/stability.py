"""perf_analyzer's stability rule: a measurement is stable when consecutive windows agree.

The measured part of a step is cut into equal windows; throughput and p99 are computed per window;
the step is stable when the spread (max - min) / median of each stays within its limit. A step that is
not stable is reported as such, never silently averaged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from servingbench.measure import stats
from servingbench.record.serial import Record

THROUGHPUT_SPREAD = 0.10
P99_SPREAD = 0.25
MIN_PER_WINDOW = 200
"""Below this many requests in a window, its p99 is one of its two slowest requests: too few to judge."""


def _spread(values: list[float]) -> float:
    arr = np.array([v for v in values if v == v])
    if arr.size < 2 or np.median(arr) == 0:
        return float("nan")
    return float((arr.max() - arr.min()) / np.median(arr))


@dataclass(frozen=True)
class Stability(Record):
    """Per-window figures of one step's measured part and the verdict of the rule."""

    window_throughput_rps: list[float]
    window_p99_ms: list[float]
    window_requests: list[int]
    throughput_spread: float
    p99_spread: float
    stable: bool | None
    """None: too few requests per window to say (a longer step or a higher rate would tell)."""
    rule: str


def stability(samples: np.ndarray, start: float, end: float, windows: int,
              by_send_time: bool = False) -> Stability:
    """Per-window throughput and p99 over [start, end) and whether they agree."""
    edges = np.linspace(start, end, windows + 1)
    select = stats.sent_in_window if by_send_time else stats.in_window
    tputs, p99s, counts = [], [], []
    for lo, hi in itertools.pairwise(edges):
        summary = stats.summarize(select(samples, lo, hi), hi - lo)
        tputs.append(summary.throughput_rps)
        p99s.append(summary.p99_ms)
        counts.append(summary.requests)
    t_spread, p_spread = _spread(tputs), _spread(p99s)
    judged = min(counts, default=0) >= MIN_PER_WINDOW
    return Stability(
        window_throughput_rps=tputs,
        window_p99_ms=p99s,
        window_requests=counts,
        throughput_spread=t_spread,
        p99_spread=p_spread,
        stable=bool(t_spread <= THROUGHPUT_SPREAD and p_spread <= P99_SPREAD) if judged else None,
        rule=f"throughput spread <= {THROUGHPUT_SPREAD:.0%} and p99 spread <= {P99_SPREAD:.0%} "
             f"across {windows} consecutive windows of at least {MIN_PER_WINDOW} requests",
    )


def combined(parts: list[Stability]) -> Stability | None:
    """One verdict over several measurements at the same load (an adaptive probe's segments): every
    window of every part, judged by the same rule, so a segment unlike the others shows as unstable."""
    if not parts:
        return None
    tputs = [v for p in parts for v in p.window_throughput_rps]
    p99s = [v for p in parts for v in p.window_p99_ms]
    counts = [v for p in parts for v in p.window_requests]
    t_spread, p_spread = _spread(tputs), _spread(p99s)
    judged = min(counts, default=0) >= MIN_PER_WINDOW
    return Stability(
        window_throughput_rps=tputs, window_p99_ms=p99s, window_requests=counts,
        throughput_spread=t_spread, p99_spread=p_spread,
        stable=bool(t_spread <= THROUGHPUT_SPREAD and p_spread <= P99_SPREAD) if judged else None,
        rule=f"{parts[0].rule}, over the windows of {len(parts)} segments",
    )
