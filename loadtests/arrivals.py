"""Open-loop arrival schedules: when each request is meant to be sent, fixed by a seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def poisson_schedule(rate_rps: float, duration_s: float, seed: int) -> np.ndarray:
    """Send offsets (s from start) of a Poisson process: exponential gaps with mean 1/rate.

    The same (rate, duration, seed) always gives the same schedule, so a search over rates and a
    repeat of a measurement send the same arrivals.
    """
    if rate_rps <= 0 or duration_s <= 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    expected = int(rate_rps * duration_s)
    gaps = rng.exponential(1.0 / rate_rps, size=expected + 10 * int(np.sqrt(expected)) + 50)
    times = np.cumsum(gaps)
    while times[-1] < duration_s:  # rare: draw more until the window is covered
        more = rng.exponential(1.0 / rate_rps, size=expected + 50)
        times = np.concatenate([times, times[-1] + np.cumsum(more)])
    return times[times < duration_s]


def piecewise_poisson(phases: Sequence[tuple[float, float]], seed: int) -> np.ndarray:
    """Send offsets of a Poisson process whose rate changes by phase: ``[(rate_rps, seconds), ...]``.

    Each phase is its own Poisson stretch (seeded from ``seed`` and its position), shifted to where the
    phase starts: the arrival process of a burst (steady, burst, steady) or an overload ramp. A phase at
    rate 0 is a pause.
    """
    parts, start = [], 0.0
    for i, (rate, seconds) in enumerate(phases):
        if seconds < 0 or rate < 0:
            raise ValueError(f"phase {i}: rate and duration must be >= 0, got ({rate}, {seconds})")
        parts.append(start + poisson_schedule(rate, seconds, seed * 1000 + i))
        start += seconds
    return np.concatenate(parts) if parts else np.zeros(0)



def share_of_schedule(table: np.ndarray | None, workers: int, index: int, rate_rps: float, duration_s: float,
                      seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """One load process's arrivals: offsets (s from start) and, for a schedule that names them, request
    indices.

    No ``table``: a Poisson schedule at rate/N with its own seed per process (their superposition is
    Poisson at the full rate). A given schedule: every N-th arrival starting at this process's index.
    """
    if table is None:
        return poisson_schedule(rate_rps / workers, duration_s, seed * 1000 + index), None
    table = np.asarray(table, dtype=np.float64)
    share = table[index % workers::workers] if workers > 1 else table
    if share.ndim == 2:
        return share[:, 0], share[:, 1].astype(np.int64)
    return share, None


class CapHold:
    """Whether a late send is the in-flight cap's doing (the server's stall) or the generator's own.

    The open-loop schedule is one loop: it sleeps until a request's intended time, waits for a free slot
    when the cap is full (the server has stopped answering), then spawns the request. Once it has waited,
    it is behind, and every request it then sends until it catches up again (sleeps until an intended time)
    is late because of that wait: the seconds it spends on each overdue request pile up with the backlog
    (measured: ~50 µs an iteration, 6 ms of "own" lag 1.2 s into a backlog, and a 512-deep backlog makes
    it hundreds), but against a server that answers there would be no backlog. Such a send's lag up to its
    dispatch is held back: the server's. A send the loop reaches without having waited since it last caught
    up is late, if at all, by the generator's own doing (late wake-ups, a busy event loop).
    """

    def __init__(self) -> None:
        self.behind_the_cap = False

    def caught_up(self) -> None:
        """The loop slept until an intended time: it is on schedule again."""
        self.behind_the_cap = False

    def waited(self) -> None:
        """The loop waited for an in-flight slot."""
        self.behind_the_cap = True

    def held_ms(self, intended: float, now: float) -> float:
        """How much of a send's lag at dispatch (``now``, perf-counter seconds) the cap owes."""
        return max(0.0, (now - intended) * 1000) if self.behind_the_cap else 0.0
