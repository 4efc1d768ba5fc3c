"""A synthetic open-loop runner that honours the schedule it is given and the requests it names: the size
and trace scenarios' real code (requests files, schedules, steps, timeline, records, pages) runs on it
with no process.

Latency = ``base_ms`` + ``per_byte_ms`` x the request body's bytes (so longer texts are slower), plus a
queue during [slow_from, slow_to) of the schedule (a burst the server cannot follow), and every request
whose index is in ``fail_indices`` answers 503. Rows as the locustfile writes them (intended send wall
time s, latency ms, status, send lag ms, held-back ms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loadtests.arrivals import poisson_schedule
from servingbench.load.locust import LoadResult, read_requests


@dataclass
class ReplayServer:
    base_ms: float = 5.0
    per_byte_ms: float = 0.02
    slow_from: float = -1.0
    slow_to: float = -1.0
    slow_ms: float = 400.0
    fail_indices: frozenset[int] = frozenset()
    clock: float = 5000.0
    calls: list[dict] = field(default_factory=list)

    def __call__(self, requests_file: Path, base_url: str, *, rate_rps: float, duration_s: float, seed: int,
                 cpus: tuple[int, ...], out_dir: Path, name: str, schedule: np.ndarray | None = None,
                 **_ignored: object) -> LoadResult:
        requests = read_requests(requests_file)
        if schedule is None:
            offsets, picks = poisson_schedule(rate_rps, duration_s, seed), None
        else:
            table = np.asarray(schedule, dtype=np.float64)
            offsets, picks = (table[:, 0], table[:, 1].astype(int)) if table.ndim == 2 else (table, None)
        index = picks if picks is not None else np.arange(offsets.size) % len(requests)
        sizes = np.array([len(requests[i].body) for i in index], dtype=np.float64)
        latency = self.base_ms + self.per_byte_ms * sizes
        latency = np.where((offsets >= self.slow_from) & (offsets < self.slow_to), self.slow_ms, latency)
        status = np.array([503.0 if int(i) in self.fail_indices else 200.0 for i in range(offsets.size)])
        t0 = self.clock
        self.clock += duration_s + 20.0
        rows = np.column_stack([t0 + offsets, latency, status, np.full(offsets.size, 0.3),
                                np.zeros(offsets.size)])
        out_dir.mkdir(parents=True, exist_ok=True)
        np.save(out_dir / f"{name}.samples.npy", rows)
        self.calls.append({"name": name, "rate": rate_rps, "duration": duration_s, "seed": seed,
                           "requests": len(requests), "picks": index, "offsets": offsets})
        return LoadResult(rows, t0, duration_s + 2.0, 0.2, out_dir / f"{name}.locust.log")
