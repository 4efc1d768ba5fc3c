"""Synthetic servers for the SLO verdict, the adaptive probe and the search: sample streams, no processes.

A ``SyntheticServer`` answers an open-loop schedule with latencies drawn from a model of its own (fast
under its capacity, queueing over it, optionally bimodal or failing), and writes the rows exactly as the
locustfile does (send time s, latency ms, HTTP status, send lag ms) into ``<name>.samples.npy``. Passed as
``StepContext.open_loop`` it stands where Locust and a framework would, so the real step, pooling, verdict
and search code runs on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from servingbench.frameworks import load_adapter
from servingbench.load.locust import LoadResult
from servingbench.load.steps import StepContext
from servingbench.servers.target import HttpTarget


def poisson_rows(rate_rps: float, seconds: float, rng: np.random.Generator, *, t0: float = 0.0,
                 median_ms: float = 20.0, slow_fraction: float = 0.0, slow_ms: float = 400.0,
                 fail_fraction: float = 0.0) -> np.ndarray:
    """Rows of a Poisson schedule over [t0, t0 + seconds): lognormal latencies around ``median_ms``, a
    ``slow_fraction`` at ``slow_ms`` (bimodal), a ``fail_fraction`` answered 503."""
    n = int(rng.poisson(rate_rps * seconds))
    sent = np.sort(rng.uniform(t0, t0 + seconds, n))
    latency_ms = rng.lognormal(np.log(median_ms), 0.3, n)
    slow = rng.random(n) < slow_fraction
    latency_ms = np.where(slow, slow_ms * rng.uniform(0.9, 1.1, n), latency_ms)
    status = np.where(rng.random(n) < fail_fraction, 503.0, 200.0)
    return np.column_stack([sent, latency_ms, status, np.full(n, 0.2)])


@dataclass
class SyntheticServer:
    """An open-loop runner (``run_open_loop``'s signature) over a modelled server.

    Under ``capacity_rps`` latencies sit around ``median_ms``; above it every request waits in a growing
    queue (far over any SLO). ``slow_fraction`` makes it bimodal at every rate. ``fresh_slow_fraction``
    and ``fresh_capacity_rps`` replace those after ``restart()`` (a server that comes up worse on a fresh
    start)."""

    capacity_rps: float = 100.0
    median_ms: float = 20.0
    slow_fraction: float = 0.0
    fresh_slow_fraction: float | None = None
    fresh_capacity_rps: float | None = None
    clock: float = 1000.0
    calls: list[tuple[str, float, float, int]] = field(default_factory=list)
    """(name, rate, seconds measured + warm-up, seed) of every run."""
    restarts: int = 0

    def restart(self) -> None:
        self.restarts += 1
        if self.fresh_slow_fraction is not None:
            self.slow_fraction = self.fresh_slow_fraction
        if self.fresh_capacity_rps is not None:
            self.capacity_rps = self.fresh_capacity_rps

    def __call__(self, requests_file: Path, base_url: str, *, rate_rps: float, duration_s: float, seed: int,
                 cpus: tuple[int, ...], out_dir: Path, name: str, **_ignored: object) -> LoadResult:
        self.calls.append((name, rate_rps, duration_s, seed))
        rng = np.random.default_rng(seed)
        t0 = self.clock
        self.clock += duration_s + 5.0
        rows = poisson_rows(rate_rps, duration_s, rng, t0=t0, median_ms=self.median_ms,
                            slow_fraction=self.slow_fraction)
        if rate_rps > self.capacity_rps and rows.size:  # the queue grows by the excess arrivals
            rows[:, 1] += (rows[:, 0] - t0) * (rate_rps - self.capacity_rps) / self.capacity_rps * 1000.0
        out_dir.mkdir(parents=True, exist_ok=True)
        np.save(out_dir / f"{name}.samples.npy", rows)
        return LoadResult(rows, t0, duration_s + 2.0, 0.2, out_dir / f"{name}.locust.log")


def synthetic_context(tmp_path: Path, server: SyntheticServer, slo_p99_ms: float = 100.0) -> StepContext:
    """A step context whose open-loop runs go to ``server`` (no monitor: nothing to watch)."""
    target = HttpTarget(load_adapter("baseline"), "127.0.0.1", 9, kind="local")
    load_dir = tmp_path / "load"
    load_dir.mkdir(parents=True, exist_ok=True)
    return StepContext(target, None, load_dir / "requests.json", load_dir, (0,), slo_p99_ms, open_loop=server)
