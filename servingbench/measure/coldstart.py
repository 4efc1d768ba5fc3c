"""Cold-start measurement: the first correct prediction after spawn, the start-up split, and spreads.

Why its own poller: the launcher's readiness loop (servers/readiness.py) waits for the adapter's idea of
ready every 0.25 s, one request at a time, and a request sent in a framework's gap between "port open"
and "model routed" can hang (Ray Serve). Here requests go out every ``interval_s`` from the moment of
spawn, a few in flight at once, and the clock stops at the first answer whose prediction equals the
in-process reference: what a caller of a freshly scaled-up replica waits for.
"""

from __future__ import annotations

import http.client
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from servingbench.adapter import HttpRequest, Prediction
from servingbench.measure.confidence import percentile_ci
from servingbench.measure.parity import SCORE_TOLERANCE, answer_problem
from servingbench.polling import poll_until
from servingbench.record.serial import Record

POLL_INTERVAL_S = 0.05
POLL_IN_FLIGHT = 4
POLL_TIMEOUT_S = 10.0
TICK_S = 0.005
"""How often the poll sends when due and collects answers: 5 ms, so a first correct answer is seen within
5 ms (its time is the attempt's own end stamp either way)."""


@dataclass(frozen=True)
class FirstCorrect(Record):
    """When the first correct prediction came back, seconds from spawn."""

    first_correct_s: float
    first_answer_s: float | None
    """The first HTTP answer of any kind (the port open, an error page): the gap to the correct one is
    the framework's start-up after its socket is up."""
    attempts: int
    last_failure: str = ""
    """What the last wrong attempt before it got (refused, HTTP 503, ...)."""


def correct(answer: list[Prediction], reference: Prediction, labels: list[str] | None) -> bool:
    """One text's served answer equals the in-process one (the parity gate's rule)."""
    if answer_problem(answer, labels) is not None:
        return False
    label, score = answer[0]
    return label == reference[0] and abs(score - reference[1]) <= SCORE_TOLERANCE


Attempt = tuple[float, bool, bool, str]
"""(monotonic time it ended, got an HTTP answer, answer correct, failure text)."""


def _attempt(send: Callable[[HttpRequest, float], tuple[int, bytes]], decode: Callable[[int, bytes], list],
             request: HttpRequest, is_correct: Callable[[list[Prediction]], bool]) -> Attempt:
    try:
        status, body = send(request, POLL_TIMEOUT_S)
    except (OSError, http.client.HTTPException) as exc:
        return time.monotonic(), False, False, f"{type(exc).__name__}: {exc}"[:200]
    ended = time.monotonic()
    try:
        ok = is_correct(decode(status, body))
        return ended, True, ok, "" if ok else f"HTTP {status}: wrong prediction"
    except Exception as exc:  # any undecodable answer is a not-yet-ready answer
        return ended, True, False, f"HTTP {status}: {type(exc).__name__}: {str(exc)[:150]}"


def poll_first_correct(send: Callable[[HttpRequest, float], tuple[int, bytes]],
                       decode: Callable[[int, bytes], list], request: HttpRequest,
                       is_correct: Callable[[list[Prediction]], bool], *, started_at: float,
                       timeout_s: float, exited: Callable[[], int | None],
                       interval_s: float = POLL_INTERVAL_S, in_flight: int = POLL_IN_FLIGHT) -> FirstCorrect:
    """Send ``request`` every ``interval_s`` (at most ``in_flight`` outstanding) until an answer is
    correct; seconds from ``started_at`` (monotonic, the spawn). Waits for the outstanding ones before it
    returns, so that nothing of the poll overlaps what is measured next. RuntimeError when the server
    exits or ``timeout_s`` passes first."""
    pending: list[Future[Attempt]] = []
    done: list[Attempt] = []
    attempts, next_send = 0, started_at
    with ThreadPoolExecutor(in_flight, thread_name_prefix="coldstart-poll") as pool:

        def tick() -> bool:
            """Send when due, collect what finished; whether a correct answer has come back."""
            nonlocal pending, attempts, next_send
            now = time.monotonic()
            if exited() is not None:
                raise RuntimeError(f"the server exited (code {exited()}) before its first correct prediction")
            if len(pending) < in_flight and now >= next_send:
                pending.append(pool.submit(_attempt, send, decode, request, is_correct))
                attempts, next_send = attempts + 1, now + interval_s
            finished = [f for f in pending if f.done()]
            pending = [f for f in pending if not f.done()]
            done.extend(sorted((f.result() for f in finished), key=lambda a: a[0]))
            return any(a[2] for a in done)

        if not poll_until(tick, timeout_s=timeout_s, interval_s=TICK_S, started_at=started_at).done:
            last = done[-1][3] if done else "no answer"
            raise RuntimeError(f"no correct prediction within {timeout_s:.0f} s of spawn (last: {last})")
    return first_correct_of(done, started_at, attempts)


def first_correct_of(attempts: Sequence[Attempt], started_at: float, count: int) -> FirstCorrect:
    """The earliest correct attempt (and earliest HTTP answer) among the finished ones."""
    ordered = sorted(attempts, key=lambda a: a[0])
    good = [a for a in ordered if a[2]]
    if not good:
        raise ValueError("no correct attempt")
    answered = [a for a in ordered if a[1]]
    before = [a for a in ordered if a[0] < good[0][0] and not a[2]]
    return FirstCorrect(
        first_correct_s=round(good[0][0] - started_at, 4),
        first_answer_s=round(answered[0][0] - started_at, 4) if answered else None,
        attempts=count, last_failure=before[-1][3] if before else "")


@dataclass(frozen=True)
class ModelLoad(Record):
    """One model load, as shared_model.predictor logs it (wall-clock seconds)."""

    pid: int
    process_start: float
    """The loading process's start (from /proc: ~10 ms); NaN when unknown."""
    load_start: float
    load_end: float


def read_model_loads(path: Path) -> list[ModelLoad]:
    """The lines of a model_load.events file; [] when the file is absent; malformed lines are skipped."""
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return []
    loads = []
    for line in lines:
        parts = line.split()
        try:
            loads.append(ModelLoad(int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3])))
        except (ValueError, IndexError):
            continue
    return loads


@dataclass(frozen=True)
class StartupSplit(Record):
    """Process start to first correct prediction in parts that add up to it (seconds).

    From the first model load to finish (the one that can answer first): the framework's start-up
    before that model process existed, imports in it before the load, the load, and the rest (the
    framework registering and routing to the model, the first inference)."""

    before_model_process_s: float | None
    """Spawn to the start of the process that loaded the model (0 when it is the spawned process
    itself); None when /proc gave no process start."""
    imports_s: float | None
    """That process's start to the model load: imports of the framework, its glue, ONNX Runtime."""
    startup_s: float
    """Spawn to the model load's start (the two above together)."""
    model_load_s: float
    after_load_s: float
    """Model loaded to the first correct prediction."""
    loads: int
    """Model loads logged before the first correct prediction (one per worker or replica)."""


def startup_split(spawn_wall: float, first_correct_s: float,
                  loads: Sequence[ModelLoad]) -> StartupSplit | None:
    """The split of ``first_correct_s`` (from ``spawn_wall``, wall clock) by the earliest finished model
    load; None when no load was logged before the first correct prediction."""
    answered_at = spawn_wall + first_correct_s
    before = sorted((load for load in loads if load.load_end <= answered_at + 0.05), key=lambda x: x.load_end)
    if not before:
        return None
    first = before[0]
    startup = max(0.0, first.load_start - spawn_wall)
    proc_start = first.process_start
    known = math.isfinite(proc_start)
    before_proc = min(startup, max(0.0, proc_start - spawn_wall)) if known else None
    return StartupSplit(
        before_model_process_s=round(before_proc, 3) if before_proc is not None else None,
        imports_s=round(startup - before_proc, 3) if before_proc is not None else None,
        startup_s=round(startup, 3),
        model_load_s=round(first.load_end - first.load_start, 3),
        after_load_s=round(max(0.0, answered_at - first.load_end), 3),
        loads=len(before),
    )


@dataclass(frozen=True)
class Spread(Record):
    """A figure over N starts: nearest-rank median, min, max and, where N allows, the median's 95%
    distribution-free interval (order statistics; N >= 6). ``minmax_coverage``: how surely [min, max]
    holds the true median (1 - 2 * 0.5^N: 0.94 for 5 starts, 0.5 for 2)."""

    n: int
    median: float
    min: float
    max: float
    ci_low: float | None = None
    ci_high: float | None = None
    minmax_coverage: float = 0.0


def spread(values: Sequence[float]) -> Spread | None:
    """The Spread of the finite values; None when there are none."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return None
    ci = percentile_ci(data, 0.5)
    return Spread(n=int(data.size), median=float(ci.estimate), min=float(data.min()), max=float(data.max()),
                  ci_low=ci.low if ci.enough else None, ci_high=ci.high if ci.enough else None,
                  minmax_coverage=round(1 - 2 * 0.5 ** data.size, 4))
