"""The load generator's own ceiling: Locust against the no-op server, on the same CPUs as a run.

If a framework's throughput comes near this number, the figure says more about the load generator
than about the framework; the report prints the ceiling beside every run and flags such steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from servingbench.envs import REPO
from servingbench.load.locust import GENERATOR_SATURATED, Distribution, run_locust
from servingbench.measure import stats
from servingbench.serial import Record
from servingbench.servers.net import HOST, free_port
from servingbench.servers.procs import ProcessTree
from servingbench.servers.spawn import spawn_pinned


def start_noop(cpus: tuple[int, ...], log_path: Path, stall_every: float = 0.0,
               stall_for: float = 0.0, service_ms: float = 0.0) -> tuple[subprocess.Popen, int]:
    """Start the no-op server pinned to ``cpus``; returns the process and its port once it answers."""
    import http.client

    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - the server owns it for its lifetime
    argv = [sys.executable, "-m", "servingbench.load.noop_server", "--port", str(port),
            "--stall-every", str(stall_every), "--stall-for", str(stall_for), "--service-ms", str(service_ms)]
    proc = spawn_pinned(argv, cpus=cpus, env=dict(os.environ), cwd=REPO, log=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/ready")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    stop_noop(proc)
    raise RuntimeError(f"the no-op server did not start; see {log_path}")


def stop_noop(proc: subprocess.Popen) -> None:
    ProcessTree(proc.pid).stop(timeout_s=5)
    proc.wait(timeout=5)


@dataclass(frozen=True)
class Ceiling(Record):
    """The load generator's throughput against a server that does nothing, and what bounded it."""

    rps: float
    p50_ms: float | None = None
    users: int | None = None
    seconds: float | None = None
    generator_cpu_util: float | None = None
    bound: str = ""
    cpus: list[int] | None = None
    workers: int | None = None


def measure_ceiling(requests_file: Path, server_cpus: tuple[int, ...], loadgen_cpus: tuple[int, ...],
                    users: int, seconds: float, out_dir: Path,
                    distribution: Distribution | None = None) -> Ceiling:
    """Closed-loop Locust at ``users`` users against the no-op server for ``seconds``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc, port = start_noop(server_cpus, out_dir / "noop_server.log")
    try:
        warm = min(2.0, seconds / 3)
        result = run_locust(requests_file, f"http://{HOST}:{port}", users=users, run_time_s=seconds + warm,
                            max_requests=2_000_000, cpus=loadgen_cpus, out_dir=out_dir, name="ceiling",
                            distribution=distribution)
    finally:
        stop_noop(proc)
    start = result.test_start + warm
    summary = stats.summarize(stats.in_window(result.samples, start, start + seconds), seconds)
    saturated = result.generator_cpu_util >= GENERATOR_SATURATED
    return Ceiling(
        rps=summary.throughput_rps,
        p50_ms=summary.p50_ms,
        users=users,
        seconds=seconds,
        generator_cpu_util=result.generator_cpu_util,
        bound="load generator" if saturated else "no-op server (the generator's ceiling is higher)",
        cpus=list(loadgen_cpus),
        workers=(distribution or Distribution()).total,
    )
