"""The one "wait until X or a deadline" loop: call a check, stop when its value satisfies ``until``, else
sleep and call it again, until the time (or the number of attempts) runs out.

Why one helper: readiness, stops, the generator's no-op server, metric scrapes, Locust's master and the
cold-start poll each hand-rolled the same deadline arithmetic. Here the caller says only what to check,
how often and for how long; what a timeout means (an error, a warning, a value shown as it is) stays with
the caller, which gets the last value and the last retried exception back.

Time is ``time.monotonic`` (immune to clock steps); ``started_at`` lets a caller count from an earlier
moment (a spawn) rather than from the first attempt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Polled(Generic[T]):
    """How a poll ended: ``done`` when ``until`` held in time; ``value`` is the last value the check
    returned (None if it never returned), ``error`` the last exception it raised that was retried."""

    done: bool
    value: T | None
    attempts: int
    elapsed_s: float
    error: BaseException | None = None

    @property
    def timed_out(self) -> bool:
        return not self.done


def poll_until(check: Callable[[], T], *, timeout_s: float, interval_s: float,
               until: Callable[[T], bool] = bool, retry: tuple[type[BaseException], ...] = (),
               max_attempts: int | None = None, started_at: float | None = None) -> Polled[T]:
    """Call ``check`` until ``until(value)`` holds, sleeping ``interval_s`` between attempts.

    The first attempt is immediate and there is always one. The poll ends unsuccessfully once more than
    ``timeout_s`` has passed since ``started_at`` (default: now) after an attempt, or after
    ``max_attempts`` attempts. An exception of a type in ``retry`` counts as a failed attempt (kept in
    ``error``); any other propagates at once.
    """
    start = time.monotonic() if started_at is None else started_at
    value: T | None = None
    error: BaseException | None = None
    attempts = 0
    limit = math.inf if max_attempts is None else max_attempts
    while True:
        attempts += 1
        try:
            value = check()
        except retry as exc:
            error = exc
        else:
            error = None
            if until(value):
                return Polled(True, value, attempts, time.monotonic() - start)
        elapsed = time.monotonic() - start
        if elapsed > timeout_s or attempts >= limit:
            return Polled(False, value, attempts, elapsed, error)
        time.sleep(interval_s)
