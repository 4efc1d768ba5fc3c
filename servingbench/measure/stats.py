"""Latency statistics from raw samples: exact percentiles, throughput, errors, and an HDR histogram.

Percentiles use the nearest-rank definition on the raw latencies, so
every reported value is a latency that some request really had. The HDR histogram (microsecond
resolution, 3 significant digits) is kept beside them for plotting distributions and merging runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

from servingbench.load.failures import is_no_answer, is_ok
from servingbench.record.serial import Record

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
HDR_MAX_US = 120_000_000


@dataclass(frozen=True)
class LatencySummary(Record):
    """Summary of one measured window. Latencies in milliseconds."""

    requests: int
    ok: int
    errors: int
    error_rate: float
    throughput_rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    duration_s: float


def exact_percentiles(latencies_ms: np.ndarray) -> dict[str, float]:
    if latencies_ms.size == 0:
        return {key: float("nan") for key in PERCENTILES}
    ordered = np.sort(latencies_ms)
    n = ordered.size
    # nearest rank: the smallest sample with at least p% of samples at or below it. The epsilon
    # keeps 99.9% of 1000 at rank 999 despite binary floating point (numpy's inverted_cdf says 1000).
    ranks = [min(n, max(1, int(np.ceil(p / 100.0 * n - 1e-9)))) for p in PERCENTILES.values()]
    return {key: float(ordered[r - 1]) for key, r in zip(PERCENTILES, ranks, strict=True)}


def in_window(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    """Samples (start time s, latency ms, status) whose response completed inside [start, end)."""
    if samples.size == 0:
        return samples.reshape(0, 3)
    done = samples[:, 0] + samples[:, 1] / 1000.0
    return samples[(done >= start) & (done < end)]


def sent_in_window(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    """Samples whose (intended) send time lies in [start, end): the open-loop window."""
    if samples.size == 0:
        return samples.reshape(0, samples.shape[1] if samples.ndim == 2 else 3)
    return samples[(samples[:, 0] >= start) & (samples[:, 0] < end)]


def completed_ok_in_window(samples: np.ndarray, start: float, end: float) -> int:
    """Successful responses that completed inside [start, end), whenever they were sent.

    Open-loop goodput counts these: a request sent in the window but answered after it did not add to
    the window's throughput (counting it overstated an overloaded server's rate about 2x)."""
    if samples.size == 0:
        return 0
    ok = ok_mask(samples)
    done = samples[:, 0] + samples[:, 1] / 1000.0
    return int((ok & (done >= start) & (done < end)).sum())


def in_flight_at(samples: np.ndarray, start: float, end: float) -> int:
    """Requests sent in [start, end) that had no answer yet at ``end`` (answered later, or never)."""
    if samples.size == 0:
        return 0
    sent = (samples[:, 0] >= start) & (samples[:, 0] < end)
    done = samples[:, 0] + np.nan_to_num(samples[:, 1], nan=np.inf) / 1000.0
    unanswered = is_no_answer(samples[:, 2])
    return int((sent & (unanswered | (done >= end))).sum())


def ok_mask(samples: np.ndarray) -> np.ndarray:
    """Rows answered with a 2xx status."""
    if samples.size == 0:
        return np.zeros(0, dtype=bool)
    return is_ok(samples[:, 2])


def ok_latencies(samples: np.ndarray) -> np.ndarray:
    return samples[ok_mask(samples), 1] if samples.size else np.zeros(0)


def status_counts(samples: np.ndarray) -> dict[str, int]:
    """{"200": n, "503": m, "-2": k}: HTTP statuses and the codes of load/failures.py, as written."""
    if samples.size == 0:
        return {}
    values, counts = np.unique(samples[:, 2], return_counts=True)
    return {str(int(v)): int(n) for v, n in zip(values, counts, strict=True)}


def covered_s(samples: np.ndarray, start: float, end: float) -> float:
    """How much of [start, end) the load covered, up to its last completed request.

    When the request budget ran out, throughput over the full window would be too low; divide by this
    instead (only then: a server that stalled at the end must not shorten its own window)."""
    if samples.size == 0:
        return end - start
    last_done = float(np.max(samples[:, 0] + samples[:, 1] / 1000.0))
    return max(0.0, min(end, last_done) - start)


def summarize(window: np.ndarray, duration_s: float) -> LatencySummary:
    """Throughput counts successful responses; percentiles are of successful requests only."""
    ok_lat = ok_latencies(window)
    pct = exact_percentiles(ok_lat)
    requests = int(window.shape[0])
    ok = int(ok_lat.size)
    return LatencySummary(
        requests=requests,
        ok=ok,
        errors=requests - ok,
        error_rate=(requests - ok) / requests if requests else 0.0,
        throughput_rps=ok / duration_s if duration_s > 0 else float("nan"),
        mean_ms=float(ok_lat.mean()) if ok_lat.size else float("nan"),
        p50_ms=pct["p50"],
        p90_ms=pct["p90"],
        p99_ms=pct["p99"],
        p999_ms=pct["p999"],
        max_ms=float(ok_lat.max()) if ok_lat.size else float("nan"),
        duration_s=duration_s,
    )


def hdr_histogram(latencies_ms: np.ndarray) -> HdrHistogram:
    hist = HdrHistogram(1, HDR_MAX_US, 3)
    for us in np.clip(np.rint(latencies_ms * 1000.0), 1, HDR_MAX_US).astype(np.int64):
        hist.record_value(int(us))
    return hist


def encode_histogram(latencies_ms: np.ndarray) -> str:
    """Compressed HdrHistogram (base64), readable by every HdrHistogram implementation."""
    return hdr_histogram(latencies_ms).encode().decode("ascii")


def cdf_points(latencies_ms: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(latency ms, cumulative fraction) for plotting, from the raw samples."""
    if latencies_ms.size == 0:
        return np.zeros(0), np.zeros(0)
    ordered = np.sort(latencies_ms)
    idx = np.unique(np.linspace(0, ordered.size - 1, min(points, ordered.size)).astype(int))
    return ordered[idx], (idx + 1) / ordered.size
