"""Open-loop arrival schedules: when each request is meant to be sent, fixed by a seed."""

from __future__ import annotations

import bisect

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


class CapWaits:
    """How long the schedule loop was blocked on the in-flight cap, to tell held-back sends from late ones.

    The open-loop schedule is one loop: it sleeps until a request's intended time, waits for a free slot
    when the cap is full (the server has stopped answering), then spawns the request. A request's send lag
    is then partly the cap's (the server's stall) and partly the generator's own (late wake-ups, a busy
    event loop). ``held(intended, now)`` is the time the loop spent waiting for a slot between the two:
    the part of the lag the server owes. Waits are kept as cumulative sums, so each lookup is a bisection
    even when thousands of overdue sends follow one long stall.
    """

    def __init__(self) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._before: list[float] = []
        """Total waited before each wait began."""

    def add(self, start: float, end: float) -> None:
        if end <= start:
            return
        self._before.append(self._before[-1] + self._ends[-1] - self._starts[-1] if self._starts else 0.0)
        self._starts.append(start)
        self._ends.append(end)

    def _waited_until(self, t: float) -> float:
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return 0.0
        return self._before[i] + min(t, self._ends[i]) - self._starts[i]

    def held(self, since: float, until: float) -> float:
        """Seconds waited for a slot within [since, until]."""
        return max(0.0, self._waited_until(until) - self._waited_until(since))
