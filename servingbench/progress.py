"""Progress for long commands: the step, elapsed and time left of one run, and of the whole job.

``Progress`` is one benchmark run's line prefix ("[rayserve 2:10, ~3:05 left]"). ``JobProgress`` is a
job of several runs (``make compare``, ``make tune``): position (i of N), elapsed and an ETA for the
whole job. The ETA starts from each unit's planned seconds and is corrected by how long the finished
units really took against their plan (profiles plan for the worst case, so runs often finish early).
On a terminal the job is a live ``rich`` progress bar with the run's lines printed above it; otherwise
(CI logs, a pipe) every line carries the job's position as plain text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, TextColumn
from rich.progress import Progress as RichProgress

from servingbench.adapter import Adapter


class Progress:
    """Terminal progress of one run: framework, step, time left."""

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


def eta_s(planned_s: Sequence[float], finished_s: Sequence[float], current_elapsed_s: float = 0.0) -> float:
    """Seconds left in a job of ``planned_s`` units, the first ``len(finished_s)`` done in ``finished_s``
    seconds and the next one running for ``current_elapsed_s``.

    The plan of what is left is scaled by the finished units' actual/planned ratio (1 before any has
    finished); the running unit counts what is left of its scaled plan, never less than nothing.
    """
    done = len(finished_s)
    if done > len(planned_s):
        raise ValueError(f"{done} units finished of a job of {len(planned_s)}")
    planned_done = sum(planned_s[:done])
    ratio = sum(finished_s) / planned_done if done and planned_done > 0 else 1.0
    if done == len(planned_s):
        return 0.0
    current = max(0.0, planned_s[done] * ratio - current_elapsed_s)
    return current + ratio * sum(planned_s[done + 1:])


class JobProgress:
    """A job of planned units: ``start(label)`` gives the ``out`` for the unit's own lines, ``finish()``
    records its duration. Use as a context manager so the live display is closed."""

    def __init__(self, name: str, planned_s: Sequence[float], out: Callable[[str], None] | None = None,
                 live: bool | None = None, console: Console | None = None) -> None:
        self.name = name
        self.console = console
        self.planned_s = list(planned_s)
        self.finished_s: list[float] = []
        self.started = time.monotonic()
        self.unit_started = self.started
        self.label = ""
        self._print = out or print
        self.live = sys.stdout.isatty() if live is None else live
        self._bar: RichProgress | None = None
        self._task = None

    # --- the job's position -------------------------------------------------------------------------
    @property
    def position(self) -> int:
        """1-based index of the running unit (or of the last one, once all are done)."""
        return min(len(self.finished_s) + 1, len(self.planned_s))

    def eta_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        running = now - self.unit_started if len(self.finished_s) < len(self.planned_s) else 0.0
        return eta_s(self.planned_s, self.finished_s, running)

    def status(self, now: float | None = None) -> str:
        """"compare 3/14 bentoml (tuned), 12:04 elapsed, ~41:10 left"."""
        now = time.monotonic() if now is None else now
        label = f" {self.label}" if self.label else ""
        return (f"{self.name} {self.position}/{len(self.planned_s)}{label}, {_clock(now - self.started)} "
                f"elapsed, ~{_clock(self.eta_s(now))} left")

    def replan_rest(self, rest_s: Sequence[float]) -> None:
        """A new plan for what is left, the running unit first (a search that fits more or fewer
        candidates than planned); finished units keep their plan, which the ETA's correction needs."""
        self.planned_s = [*self.planned_s[:len(self.finished_s)], *rest_s]
        self._refresh()

    # --- units --------------------------------------------------------------------------------------
    def start(self, label: str) -> Callable[[str], None]:
        self.label = label
        self.unit_started = time.monotonic()
        self.say(f"=== {self.status()} ===")
        return self.say

    def finish(self) -> None:
        self.finished_s.append(time.monotonic() - self.unit_started)
        self._refresh()

    def say(self, message: str) -> None:
        """One line of the running unit: above the live bar, or prefixed with the job's status."""
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
            self._refresh()
        else:
            self._print(f"[{self.status()}] {message}" if not message.startswith("===") else message)

    # --- the live display ---------------------------------------------------------------------------
    def __enter__(self) -> JobProgress:
        if self.live:
            columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[eta]}"))
            self._bar = RichProgress(*columns, console=self.console or Console(), transient=False)
            self._task = self._bar.add_task(self.name, total=max(1.0, sum(self.planned_s)), eta="")
            self._bar.start()
            self._refresh()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._refresh()
            self._bar.stop()
            self._bar = None

    def _refresh(self) -> None:
        if self._bar is None or self._task is None:
            return
        now = time.monotonic()
        left = self.eta_s(now)
        spent = now - self.started
        self._bar.update(self._task, total=max(1.0, spent + left), completed=spent,
                         description=f"{self.name} {self.position}/{len(self.planned_s)} {self.label}",
                         eta=f"{_clock(spent)} elapsed, ~{_clock(left)} left")


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on (a whole comparison runs for hours)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
