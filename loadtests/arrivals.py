"""Open-loop arrival schedules: when each request is meant to be sent, fixed by a seed."""

from __future__ import annotations

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
