"""Resource use of a server's whole process tree, sampled in the background with psutil.

CPU seconds are summed over every process ever seen in the tree (a worker that exits keeps the CPU it
used); memory is PSS where the kernel offers it (shared pages split fairly between processes, so
forked workers are not double counted), else RSS.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from servingbench.servers.procs import ProcessTree


@dataclass(frozen=True)
class Sample:
    t: float
    cpu_s: float
    mem_bytes: int
    rss_bytes: int
    processes: int


@dataclass(frozen=True)
class Usage:
    """Resource use over a window."""

    cpu_s: float
    cpu_util: float
    """CPU seconds per wall second (1.0 = one full CPU)."""
    mem_peak_bytes: int
    mem_mean_bytes: int
    processes: int
    memory_kind: str


class TreeMonitor:
    """Samples a ProcessTree every ``interval`` seconds until stopped."""

    def __init__(self, tree: ProcessTree, interval: float = 0.5) -> None:
        self.tree = tree
        self.interval = interval
        self.samples: list[Sample] = []
        self._cpu: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="tree-monitor", daemon=True)
        self.memory_kind = "PSS"

    def __enter__(self) -> TreeMonitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> Sample:
        """Take one sample now (also called at step boundaries for exact CPU windows)."""
        with self._lock:
            mem = rss = 0
            procs = self.tree.refresh()
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    self._cpu[(proc.pid, proc.create_time())] = times.user + times.system
                    rss_i = proc.memory_info().rss
                    rss += rss_i
                    try:
                        mem += proc.memory_full_info().pss
                    except (psutil.AccessDenied, AttributeError):
                        self.memory_kind = "RSS"
                        mem += rss_i
                except psutil.Error:
                    continue
            sample = Sample(time.time(), sum(self._cpu.values()), mem, rss, len(procs))
            self.samples.append(sample)
            return sample

    def usage(self, start: Sample, end: Sample) -> Usage:
        """Use between two samples taken with :meth:`sample`."""
        inside = [s for s in self.samples if start.t <= s.t <= end.t] or [start, end]
        wall = max(end.t - start.t, 1e-9)
        cpu = end.cpu_s - start.cpu_s
        mems = [s.mem_bytes for s in inside]
        return Usage(
            cpu_s=cpu,
            cpu_util=cpu / wall,
            mem_peak_bytes=max(mems),
            mem_mean_bytes=int(sum(mems) / len(mems)),
            processes=max(s.processes for s in inside),
            memory_kind=self.memory_kind,
        )
