"""Open-loop send lag, split into the generator's own share and the server's, and the generator-limited rule.

A request sent after its intended time is late for one of two reasons. Either the generator could not keep
its own schedule (its event loop woke late or was busy: the generator's limit), or the in-flight cap was
full because the server had stopped answering, and the send waited for a slot, or for the backlog such a
wait leaves (the server's stall). The locustfile records both per request: the send lag, and the part of
it held back by the cap (loadtests.arrivals.CapHold says which part that is). Seen before the split:
overload probes flagged GENERATOR-LIMITED at 4-25% generator CPU, their lag all the server's.

A step is generator-limited only when the generator's CPU was saturated, or its *own* scheduling lag
(send lag minus the held-back part) exceeded SEND_LAG_LIMIT_MS at p99 and the generator was not shown to
keep that rate against a no-op server. The last clause is the issue's "lag measured against a no-op server
at the same rate": the ceiling measurement (load/ceiling.py) runs the same Poisson schedule against the
no-op server, and where the generator kept its own lag within the limit there at a rate at least the
step's, a larger own lag in the step came from the server (a burst of answers after a stall keeps the loop
busy catching up), not from what the generator can do at that rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from servingbench.load.locust import GENERATOR_SATURATED
from servingbench.measure import stats

SEND_LAG_LIMIT_MS = 10.0
"""Open loop: an own scheduling lag above this at p99 means the generator could not keep the schedule."""
LAG, HELD = 3, 4
"""Columns of an open-loop sample row: send lag ms, and the part of it held back by the in-flight cap."""


@dataclass(frozen=True)
class SendLags:
    """The send lag of a window of open-loop requests, and what of it the server owes."""

    p99_ms: float
    """All of the lag (as recorded before the split)."""
    own_p99_ms: float
    """The generator's own scheduling lag: lag minus the time the send was held back by the cap."""
    held_back: int
    """Sends that waited for an in-flight slot: the server had stopped answering."""


def send_lags(window: np.ndarray) -> SendLags:
    """Lags of the requests sent in ``window`` (never-sent requests have none); NaN without any."""
    if window.ndim != 2 or window.shape[0] == 0 or window.shape[1] <= LAG:
        return SendLags(float("nan"), float("nan"), 0)
    lag = window[:, LAG]
    held = window[:, HELD] if window.shape[1] > HELD else np.zeros_like(lag)  # older samples: not recorded
    sent = ~np.isnan(lag)
    own = lag[sent] - np.nan_to_num(held[sent])
    return SendLags(_p99(lag[sent]), _p99(np.maximum(own, 0.0)), int((np.nan_to_num(held[sent]) > 0).sum()))


def _p99(values: np.ndarray) -> float:
    return stats.exact_percentiles(values)["p99"] if values.size else float("nan")


def generator_limited(generator_cpu_util: float, own_lag_p99_ms: float, rate_rps: float,
                      keeps_schedule_rps: float | None = None) -> bool:
    """The open-loop rule (see the module docstring). ``keeps_schedule_rps``: the highest rate at which
    the generator kept its own lag within the limit against the no-op server (None: not measured)."""
    if generator_cpu_util >= GENERATOR_SATURATED:
        return True
    if not own_lag_p99_ms > SEND_LAG_LIMIT_MS:  # NaN (nothing sent) is not late
        return False
    return keeps_schedule_rps is None or rate_rps > keeps_schedule_rps
