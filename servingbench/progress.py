"""Progress lines for long commands: which step, elapsed, and time left for the whole job."""

from __future__ import annotations

import time
from collections.abc import Callable

from servingbench.adapter import Adapter


class Progress:
    """Terminal progress: framework, step, time left."""

    def __init__(self, framework: str, total_s: float, out: Callable[[str], None] = print) -> None:
        self.framework = framework
        self.total_s = total_s
        self.started = time.monotonic()
        self.out = out

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        left = max(0.0, self.total_s - elapsed)
        self.out(f"[{self.framework} {_clock(elapsed)}, ~{_clock(left)} left] {message}")


def adapter_start_estimate(adapter: Adapter) -> float:
    """Seconds to budget for start, parity and stop in the time-left estimate."""
    return 15.0 + adapter.stop_timeout_s / 2


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
