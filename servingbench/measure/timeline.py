"""Per-second figures of an open-loop replay: offered load, goodput, failures and p99, second by second.

From the raw samples (columns: intended send wall time s, latency ms from it, status; load/locust.py) of
a window ``[start, start + seconds)``. A second's offered load and failures are the requests *sent* in it
(intended time), its goodput the successful responses *completed* in it, its p99 that of its successful
requests (nearest rank, measure/stats.py). A second is over the SLO when more than 1% of its requests failed
or took longer than the SLO's p99 bound: its p99 with failures counted as infinitely slow is over the
bound. With fewer than 100 requests in a second that means any one bad request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from servingbench.load.failures import is_ok
from servingbench.measure.stats import completed_ok_in_window, exact_percentiles

P99_BUDGET = 0.01


@dataclass(frozen=True)
class Timeline:
    offered: list[int]
    goodput: list[int]
    failed: list[int]
    p99_ms: list[float | None]
    over_slo: list[bool]

    @property
    def seconds_over_slo(self) -> int:
        return int(sum(self.over_slo))


def _second(samples: np.ndarray, done: np.ndarray, lo: float, slo_ms: float) -> tuple:
    sent = samples[(samples[:, 0] >= lo) & (samples[:, 0] < lo + 1.0)]
    ok = is_ok(sent[:, 2])
    latencies = sent[ok, 1]
    p99 = exact_percentiles(latencies)["p99"] if latencies.size else None
    bad = int((~ok).sum() + (latencies > slo_ms).sum())
    goodput = int((is_ok(samples[:, 2]) & (done >= lo) & (done < lo + 1.0)).sum())
    return int(sent.shape[0]), goodput, int((~ok).sum()), p99, bool(bad > P99_BUDGET * sent.shape[0])


def timeline(samples: np.ndarray, start: float, seconds: int, slo_ms: float) -> Timeline:
    """Second k covers [start + k, start + k + 1), for k < ``seconds``."""
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, samples.shape[1] if samples.ndim == 2 else 3)
    done = samples[:, 0] + np.nan_to_num(samples[:, 1], nan=np.inf) / 1000.0
    rows = [_second(samples, done, start + k, slo_ms) for k in range(seconds)]
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return Timeline(*(list(c) for c in columns))


def goodput_ratio(samples: np.ndarray, start: float, end: float, arrivals: int) -> float:
    """Successful responses completed in [start, end) over the arrivals offered (NaN for none)."""
    return completed_ok_in_window(samples, start, end) / arrivals if arrivals else float("nan")
