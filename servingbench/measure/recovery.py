"""A burst's aftermath second by second: p99 and goodput over time, and when p99 is back under the SLO.

The timeline cuts an open-loop run into 1-s bins of its measured window. A bin's p99 (and its failures)
are of the requests *sent* in it, latency from the intended send time, so a queue left by the burst
shows in the bins whose requests waited in it; its goodput counts the successes *completed* in it.

"Back under the SLO" (:func:`recovery`): the first bin at or after the burst's end that begins
``HOLD_S`` good bins in a row: p99 within the SLO and failures within the SLO's error rate (a bin with no
request sent judges nothing, either way, and neither breaks nor extends the run). The recovery time is that
bin's start minus the burst's end (0: it never went over, or was under again at once); a run that never
holds the SLO that long after the burst is "not back under the SLO within the run". Why a run of good
seconds rather than "every later second": on a shared machine one slow second near the run's end (seen:
BentoML, 2 s at 180-270 ms, 13 s after a burst it had absorbed without one) would otherwise undo a recovery
the server had made; such later seconds over the SLO are counted as relapses instead, beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from servingbench.load.failures import is_ok
from servingbench.measure import stats
from servingbench.record.serial import Record

HOLD_S = 5
"""Good bins in a row that make a recovery (empty bins aside)."""


@dataclass(frozen=True)
class Second(Record):
    """One bin of the timeline."""

    t_s: float
    """The bin's start, seconds from the window's start."""
    sent: int
    """Requests whose intended send time fell in the bin."""
    ok: int
    failed: int
    p99_ms: float | None
    """Nearest-rank p99 of the successful requests sent in the bin (None: none)."""
    goodput_rps: float
    """Successes completed in the bin, per second."""

    def good(self, slo_p99_ms: float, max_error_rate: float) -> bool | None:
        """Within the SLO (None: nothing was sent, the bin judges nothing)."""
        if self.sent == 0:
            return None
        p99_ok = self.p99_ms is not None and self.p99_ms <= slo_p99_ms
        return p99_ok and self.failed / self.sent <= max_error_rate


def timeline(samples: np.ndarray, start: float, end: float, bin_s: float = 1.0) -> list[Second]:
    """The bins of [start, end) (wall-clock seconds) from raw open-loop samples."""
    bins: list[Second] = []
    done = samples[:, 0] + np.nan_to_num(samples[:, 1], nan=np.inf) / 1000.0 if samples.size else samples
    ok_rows = is_ok(samples[:, 2]) if samples.size else np.zeros(0, dtype=bool)
    for k in range(max(0, math.floor((end - start) / bin_s + 1e-9))):  # whole bins: a sliver is noise
        a, b = start + k * bin_s, start + (k + 1) * bin_s
        window = stats.sent_in_window(samples, a, b)
        lat = stats.ok_latencies(window)
        completed = int((ok_rows & (done >= a) & (done < b)).sum()) if samples.size else 0
        bins.append(Second(t_s=round(k * bin_s, 6), sent=int(window.shape[0]), ok=int(lat.size),
                           failed=int(window.shape[0] - lat.size),
                           p99_ms=stats.exact_percentiles(lat)["p99"] if lat.size else None,
                           goodput_rps=completed / (b - a)))
    return bins


@dataclass(frozen=True)
class Recovery(Record):
    """How p99 came back under the SLO after the burst."""

    recovered: bool
    recovery_s: float | None
    """Seconds from the burst's end to the recovery point (None: not recovered within the run)."""
    exceeded: bool
    """Some bin from the burst's start on was over the SLO."""
    bad_seconds: int
    """Bins from the burst's start on that were over the SLO."""
    bad_before: int
    """Bins before the burst already over the SLO (the base load did not hold it)."""
    rule: str
    note: str
    relapses: int = 0
    """Bins over the SLO after the recovery's good run: the SLO missed again later (noise or relapse)."""


RULE = (f"the first 1-s bin at or after the burst's end that begins {HOLD_S} good bins in a row (p99 <= SLO "
        f"and failures within the SLO's error rate; bins with no request sent are skipped)")


def _first_hold(verdicts: list[bool | None], after: list[int]) -> tuple[int | None, int | None]:
    """(index of the first bin that starts HOLD_S good bins in a row, index of the bin completing them)."""
    start, good = None, 0
    for i in after:
        if verdicts[i] is None:
            continue
        if verdicts[i] is False:
            start, good = None, 0
            continue
        start = i if start is None else start
        good += 1
        if good >= HOLD_S:
            return start, i
    return None, None


def recovery(seconds: list[Second], burst_start_s: float, burst_end_s: float, slo_p99_ms: float,
             max_error_rate: float) -> Recovery:
    """The recovery of the module docstring (times in seconds from the window's start)."""
    verdicts = [s.good(slo_p99_ms, max_error_rate) for s in seconds]
    pairs = list(zip(seconds, verdicts, strict=True))
    bad_before = sum(1 for s, g in pairs if s.t_s < burst_start_s and g is False)
    bad = sum(1 for s, g in pairs if s.t_s >= burst_start_s and g is False)
    after = [i for i, s in enumerate(seconds) if s.t_s >= burst_end_s - 1e-9]
    point, held_to = _first_hold(verdicts, after)
    if point is None or held_to is None:
        end_s = seconds[-1].t_s + 1 if seconds else burst_end_s
        return Recovery(False, None, bad > 0, bad, bad_before, RULE,
                        f"p99 not back under the SLO within the run (not {HOLD_S} s in a row in the "
                        f"{end_s - burst_end_s:.0f} s after the burst)")
    relapses = sum(1 for g in verdicts[held_to + 1:] if g is False)
    rec_s = max(0.0, seconds[point].t_s - burst_end_s)
    before_point = sum(1 for s, g in pairs[:point] if s.t_s >= burst_start_s and g is False)
    note = ("p99 stayed under the SLO through the burst" if before_point == 0 else
            f"p99 back under the SLO {rec_s:.0f} s after the burst's end")
    if relapses:
        note += f" (over it again in {relapses} later second{'s' if relapses != 1 else ''})"
    return Recovery(True, rec_s, bad > 0, bad, bad_before, RULE, note, relapses)
