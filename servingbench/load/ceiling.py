"""The load generator's own ceiling: Locust against the no-op server, on the same CPUs as a run.

If a framework's throughput comes near this number, the figure says more about the load generator
than about the framework; the report prints the ceiling beside every run and flags such steps.

Two measurements against the same no-op server: closed loop (how many requests per second the generator
can produce at all), then the open-loop Poisson schedule at OPEN_FRACTION of that rate (whether the
generator keeps its own schedule there: its scheduling lag, with nothing for the server to stall). The
second is what an open-loop step's lag is judged against (load/send_lag.py): below the rate kept here,
a late send in a step is the server's doing, not the generator's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from servingbench.envs import REPO
from servingbench.load.locust import GENERATOR_SATURATED, Distribution, LoadResult, run_locust, run_open_loop
from servingbench.load.send_lag import SEND_LAG_LIMIT_MS, send_lags
from servingbench.measure import stats
from servingbench.polling import poll_until
from servingbench.record.serial import Record
from servingbench.servers.net import HOST, free_port
from servingbench.servers.procs import ProcessTree
from servingbench.servers.spawn import spawn_pinned


def start_noop(cpus: tuple[int, ...], log_path: Path, stall_every: float = 0.0,
               stall_for: float = 0.0, service_ms: float = 0.0,
               protocol: str = "rest") -> tuple[subprocess.Popen, int]:
    """Start the no-op server pinned to ``cpus`` (its gRPC twin for ``protocol="grpc"``: no stalls, no
    service time); returns the process and its port once it answers."""
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - the server owns it for its lifetime
    if protocol == "grpc":
        argv = [sys.executable, "-m", "servingbench.load.noop_grpc_server", "--port", str(port)]
    else:
        argv = [sys.executable, "-m", "servingbench.load.noop_server", "--port", str(port),
                "--stall-every", str(stall_every), "--stall-for", str(stall_for),
                "--service-ms", str(service_ms)]
    proc = spawn_pinned(argv, cpus=cpus, env=dict(os.environ), cwd=REPO, log=log)
    answers = _grpc_answers if protocol == "grpc" else _http_answers

    def state() -> str:
        if answers(port):
            return "ready"
        return "starting" if proc.poll() is None else "exited"

    if poll_until(state, until=lambda s: s != "starting", timeout_s=30, interval_s=0.1).value == "ready":
        return proc, port
    stop_noop(proc)
    raise RuntimeError(f"the no-op server did not start; see {log_path}")


def _http_answers(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        conn.request("GET", "/ready")
        return conn.getresponse().status == 200
    except OSError:
        return False


def _grpc_answers(port: int) -> bool:
    import grpc

    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        try:
            channel.unary_unary("/servingbench.Noop/Ready")(b"", timeout=2)
            return True
        except grpc.RpcError:
            return False


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
    open_rate_rps: float | None = None
    """The open-loop check's Poisson rate against the no-op server (None: not run, older runs)."""
    open_lag_p99_ms: float | None = None
    """The generator's own scheduling lag at that rate, p99 (nothing is held back by a no-op server)."""
    open_generator_cpu_util: float | None = None

    @property
    def keeps_schedule_rps(self) -> float | None:
        """The rate up to which the generator kept its own schedule against the no-op server, if it did."""
        if self.open_rate_rps is None or self.open_lag_p99_ms is None:
            return None
        saturated = (self.open_generator_cpu_util or 0.0) >= GENERATOR_SATURATED
        kept = self.open_lag_p99_ms <= SEND_LAG_LIMIT_MS and not saturated
        return self.open_rate_rps if kept else None


OPEN_FRACTION = 0.125
"""The open-loop check runs at this fraction of the closed-loop ceiling. Open loop costs the generator far
more per request (a greenlet each, Poisson bursts): on this 2-CPU machine (one load CPU, closed ceiling
~2000 req/s) its own lag p99 against the no-op server was 12 ms at 1/2 of the ceiling, 15-16 ms at 1/4 and
8.5-10.7 ms at 1/8 (~250-290 req/s, 35-38% CPU), the top of the SLO rates frameworks reach here. A check
that does not keep its schedule vouches for nothing: steps are then judged by their own lag alone."""


def measure_ceiling(requests_file: Path, server_cpus: tuple[int, ...], loadgen_cpus: tuple[int, ...],
                    users: int, seconds: float, out_dir: Path,
                    distribution: Distribution | None = None, protocol: str = "rest") -> Ceiling:
    """Closed-loop Locust at ``users`` users against the no-op server for ``seconds``, then the open-loop
    schedule at OPEN_FRACTION of the rate reached, for as long. ``protocol="grpc"``: the gRPC no-op server,
    driven by the gRPC user with ``requests_file``'s pre-serialized calls."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc, port = start_noop(server_cpus, out_dir / "noop_server.log", protocol=protocol)
    url = f"{'grpc' if protocol == 'grpc' else 'http'}://{HOST}:{port}"
    warm = min(2.0, seconds / 3)
    try:
        result = run_locust(requests_file, url, users=users, run_time_s=seconds + warm,
                            max_requests=2_000_000, cpus=loadgen_cpus, out_dir=out_dir, name="ceiling",
                            distribution=distribution)
        start = result.test_start + warm
        summary = stats.summarize(stats.in_window(result.samples, start, start + seconds), seconds)
        open_rate = round(summary.throughput_rps * OPEN_FRACTION, 1)
        opened = run_open_loop(requests_file, url, rate_rps=open_rate, duration_s=seconds + warm, seed=1,
                               cpus=loadgen_cpus, out_dir=out_dir, name="ceiling_open", drain_s=2.0,
                               distribution=distribution) if open_rate > 0 else None
    finally:
        stop_noop(proc)
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
        **_open_check(opened, open_rate, warm, seconds),
    )


def _open_check(opened: LoadResult | None, rate_rps: float, warm_s: float,
                seconds: float) -> dict[str, float]:
    """The open-loop check's fields of the Ceiling: its rate, the generator's own lag p99 and its CPU."""
    if opened is None:
        return {}
    start = opened.test_start + warm_s
    lags = send_lags(stats.sent_in_window(opened.samples, start, start + seconds))
    return {"open_rate_rps": rate_rps, "open_lag_p99_ms": lags.own_p99_ms,
            "open_generator_cpu_util": opened.generator_cpu_util}
