"""poll_until on the real clock: short intervals, checks that succeed late, never, or raise."""

from __future__ import annotations

import time

import pytest

from servingbench.polling import poll_until


class Countdown:
    """A check that is false for its first ``n - 1`` calls, then true; raises ``error`` on the early ones
    when given one."""

    def __init__(self, n: int, error: type[BaseException] | None = None) -> None:
        self.n, self.calls, self.error = n, 0, error

    def __call__(self) -> int:
        self.calls += 1
        if self.calls < self.n and self.error is not None:
            raise self.error(f"not yet ({self.calls})")
        return self.calls if self.calls >= self.n else 0


def test_returns_the_value_once_the_check_holds_sleeping_between_attempts():
    check = Countdown(4)
    started = time.monotonic()
    polled = poll_until(check, timeout_s=5.0, interval_s=0.02)
    took = time.monotonic() - started
    assert polled.done and not polled.timed_out
    assert (polled.value, polled.attempts, check.calls) == (4, 4, 4)
    assert 3 * 0.02 <= took < 1.0  # three sleeps between four attempts, no more
    assert polled.error is None


def test_first_attempt_is_immediate():
    started = time.monotonic()
    polled = poll_until(lambda: True, timeout_s=5.0, interval_s=1.0)
    assert polled.done and polled.attempts == 1
    assert time.monotonic() - started < 0.5


def test_times_out_with_the_last_value_and_keeps_the_interval():
    check = Countdown(10_000)
    polled = poll_until(check, until=lambda v: v > 0, timeout_s=0.2, interval_s=0.05)
    assert polled.timed_out
    assert polled.value == 0 and polled.elapsed_s > 0.2
    assert 4 <= polled.attempts <= 7  # ~0.2 / 0.05 + 1, not a busy loop
    assert polled.elapsed_s < 1.0


def test_timeout_counts_from_started_at():
    polled = poll_until(lambda: False, timeout_s=0.5, interval_s=0.01, started_at=time.monotonic() - 1.0)
    assert polled.timed_out and polled.attempts == 1 and polled.elapsed_s > 1.0


def test_retried_exceptions_are_failed_attempts():
    check = Countdown(3, error=ConnectionError)
    polled = poll_until(check, timeout_s=5.0, interval_s=0.01, retry=(OSError,))
    assert polled.done and polled.value == 3 and polled.attempts == 3
    assert polled.error is None  # the attempt that succeeded clears it


def test_the_last_retried_exception_is_kept_on_timeout():
    check = Countdown(10_000, error=ConnectionError)
    polled = poll_until(check, timeout_s=0.1, interval_s=0.02, retry=(OSError,))
    assert polled.timed_out and polled.value is None
    assert isinstance(polled.error, ConnectionError)
    assert str(polled.error) == f"not yet ({check.calls})"


def test_other_exceptions_propagate_at_once():
    check = Countdown(3, error=KeyError)
    with pytest.raises(KeyError):
        poll_until(check, timeout_s=5.0, interval_s=0.01, retry=(OSError,))
    assert check.calls == 1


def test_max_attempts_bounds_the_poll_without_a_last_sleep():
    check = Countdown(10_000, error=RuntimeError)
    started = time.monotonic()
    polled = poll_until(check, timeout_s=60.0, interval_s=0.05, retry=(Exception,), max_attempts=3)
    took = time.monotonic() - started
    assert polled.timed_out and polled.attempts == check.calls == 3
    assert 2 * 0.05 <= took < 0.5  # two sleeps between three attempts, none after the last
    assert isinstance(polled.error, RuntimeError)
