"""Resource use of a server's whole process tree, sampled in the background with psutil.

CPU seconds are summed over every process ever seen in the tree (a worker that exits keeps the CPU it
used); memory is PSS where the kernel offers it (shared pages split fairly between processes, so
forked workers are not double counted), else RSS.

A step's figures are cut from the timestamped samples over its measured window (:func:`window_usage`),
not taken between two samples around the whole load run, whose start, warm-up and drain are not the
window the latency describes. Each sample also carries the monitor's own cumulative CPU time, so the
cost of watching (it runs in the harness, on the load generator's CPUs) can be charged to the generator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import psutil

from servingbench.servers.procs import ProcessTree

SAMPLE_INTERVAL_S = 0.5
"""Measured on the 2-CPU VM: one sample costs 3-10 ms of CPU (about 3 ms finding the tree's members among
all the machine's processes, 0.5 ms or more per member reading PSS from smaps_rollup); in a quick
baseline bench the monitor used 2.0-2.1% of the load generator's one CPU at 0.5 s, so 0.25 s would
take ~4%, more for a framework with many workers. Halving the interval would buy little: under the
steady load of a measured window a cumulative CPU counter is close to linear between samples, so
interpolating at the window's edges is already accurate. The cost actually paid is recorded with
every step (Resources.monitor_cpu_util) and counted in the generator's budget."""


@dataclass(frozen=True)
class Sample:
    t: float
    """Wall-clock time (time.time(), the clock of the load's timestamps) at which the CPU was read."""
    cpu_s: float
    """Cumulative CPU seconds of the tree (every process ever seen)."""
    mem_bytes: int
    rss_bytes: int
    processes: int
    monitor_cpu_s: float = 0.0
    """Cumulative CPU seconds the monitor itself spent sampling, up to and including this sample."""


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
    start: float = 0.0
    end: float = 0.0
    """The interval [start, end] (wall clock) these figures cover."""
    monitor_cpu_s: float = 0.0
    """CPU seconds the monitor spent sampling during [start, end]."""


def window_usage(samples: Sequence[Sample], start: float, end: float,
                 memory_kind: str = "PSS") -> Usage | None:
    """Use over [start, end] from timestamped samples (in time order); None with too few to say.

    CPU (the tree's and the monitor's) is a cumulative counter, so its value at each edge is interpolated
    linearly between the two samples that bracket the edge: the difference is then the CPU spent inside
    the window, without the up to one interval of warm-up or drain that the nearest samples would add.
    A window reaching beyond the samples is clipped to them (``start``/``end`` of the result say so).
    Memory is a level, not a counter: peak and mean are of the samples inside the window, with the
    bracketing samples added when fewer than 2 lie inside.
    """
    if len(samples) < 2:
        return None
    times = np.array([s.t for s in samples])
    lo, hi = max(start, float(times[0])), min(end, float(times[-1]))
    if hi <= lo:
        return None
    cpu_lo, cpu_hi = np.interp([lo, hi], times, [s.cpu_s for s in samples])
    own_lo, own_hi = np.interp([lo, hi], times, [s.monitor_cpu_s for s in samples])
    levels = _level_samples(samples, times, lo, hi)
    mems = np.array([s.mem_bytes for s in levels])
    return Usage(
        cpu_s=float(cpu_hi - cpu_lo),
        cpu_util=float(cpu_hi - cpu_lo) / (hi - lo),
        mem_peak_bytes=int(mems.max()),
        mem_mean_bytes=int(mems.mean()),
        processes=max(s.processes for s in levels),
        memory_kind=memory_kind,
        start=lo,
        end=hi,
        monitor_cpu_s=float(own_hi - own_lo),
    )


def _level_samples(samples: Sequence[Sample], times: np.ndarray, lo: float, hi: float) -> list[Sample]:
    """The samples inside [lo, hi], or (fewer than 2 inside) those plus the one before and the one after."""
    first = int(np.searchsorted(times, lo, side="left"))
    past = int(np.searchsorted(times, hi, side="right"))
    if past - first >= 2:
        return list(samples[first:past])
    return list(samples[max(0, first - 1):min(len(samples), past + 1)])


class TreeMonitor:
    """Samples a ProcessTree every ``interval`` seconds until stopped."""

    def __init__(self, tree: ProcessTree, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.tree = tree
        self.interval = interval
        self.samples: list[Sample] = []
        self._cpu: dict[tuple[int, float], float] = {}
        self._own_cpu_s = 0.0
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
        """Take one sample now (also called at step boundaries, so a window's end is bracketed).

        Its own cost is measured with the calling thread's CPU clock and accumulated in the sample."""
        with self._lock:
            began = time.thread_time()
            procs = self.tree.refresh()
            t = self._read_cpu(procs)
            mem, rss = self._read_memory(procs)
            self._own_cpu_s += time.thread_time() - began
            sample = Sample(t, sum(self._cpu.values()), mem, rss, len(procs), self._own_cpu_s)
            self.samples.append(sample)
            return sample

    def _read_cpu(self, procs: list[psutil.Process]) -> float:
        """Update every live process's CPU seconds; returns the wall-clock midpoint of the reads."""
        before = time.time()
        for proc in procs:
            try:
                times = proc.cpu_times()
                self._cpu[(proc.pid, proc.create_time())] = times.user + times.system
            except psutil.Error:
                continue
        return (before + time.time()) / 2

    def _read_memory(self, procs: list[psutil.Process]) -> tuple[int, int]:
        """(PSS or RSS, RSS) summed over the live processes."""
        mem = rss = 0
        for proc in procs:
            try:
                rss_i = proc.memory_info().rss
                try:
                    mem_i = proc.memory_full_info().pss
                except (psutil.AccessDenied, AttributeError):
                    self.memory_kind = "RSS"
                    mem_i = rss_i
            except psutil.Error:
                continue
            rss += rss_i
            mem += mem_i
        return mem, rss

    def window(self, start: float, end: float) -> Usage | None:
        """Use over the wall-clock window [start, end] from the samples taken so far."""
        with self._lock:
            samples = list(self.samples)
        return window_usage(samples, start, end, self.memory_kind)

    def usage(self, start: Sample, end: Sample) -> Usage:
        """Use between two samples taken with :meth:`sample`."""
        usage = self.window(start.t, end.t)
        if usage is None:  # the same sample twice: nothing elapsed
            return Usage(0.0, 0.0, start.mem_bytes, start.mem_bytes, start.processes, self.memory_kind,
                         start.t, end.t)
        return usage
