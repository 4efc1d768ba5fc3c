"""One bounded Locust run against a server, on the load generator's CPUs, with raw samples back.

Each load step is its own headless Locust process: users, time and request count are bounded, and
the process's own CPU use is measured so that a step where the generator itself ran out of CPU is
flagged instead of being reported as the server's limit.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from servingbench.adapter import Adapter, GrpcRequest, HttpRequest
from servingbench.envs import REPO
from servingbench.polling import poll_until
from servingbench.servers.spawn import spawn_pinned

LOCUSTFILE = REPO / "loadtests" / "locustfile.py"
GENERATOR_SATURATED = 0.90
"""Generator CPU use (fraction of its CPUs) above which a step is flagged as generator-limited."""


class LoadError(RuntimeError):
    pass


def write_requests(adapter: Adapter, texts: list[str], path: Path, protocol: str = "rest",
                   per_request: int = 1) -> Path:
    """Encode one request per ``per_request`` consecutive texts (the last may hold fewer) with the adapter's
    codec (its gRPC codec for ``protocol="grpc"``), for Locust to replay in order."""
    rows: list[dict] = []
    for i in range(0, len(texts), per_request):
        chunk = texts[i:i + per_request]
        if protocol == "grpc":
            call = adapter.grpc.codec.encode(chunk)  # type: ignore[union-attr]
            rows.append({"transport": "grpc", "method": call.method,
                         "body": base64.b64encode(call.body).decode("ascii")})
            continue
        req = adapter.encode(chunk)
        rows.append({"method": req.method, "path": req.path, "headers": req.headers,
                     "body": base64.b64encode(req.body).decode("ascii")})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
    return path


def read_request_rows(path: str | Path) -> list[dict]:
    return json.loads(Path(path).read_text())


def decode_requests(rows: list[dict]) -> list[HttpRequest | GrpcRequest]:
    return [GrpcRequest(r["method"], base64.b64decode(r["body"])) if r.get("transport") == "grpc"
            else HttpRequest(r["method"], r["path"], base64.b64decode(r["body"]), r["headers"]) for r in rows]


def read_requests(path: str | Path) -> list[HttpRequest | GrpcRequest]:
    return decode_requests(read_request_rows(path))


@dataclass(frozen=True)
class Distribution:
    """How the load generator is spread: local worker processes, and workers on other machines.

    With ``remote_workers`` > 0 every load step's master binds ``bind`` (host:port, reachable from
    the other machines) and waits for them; each remote machine runs
    ``servingbench loadgen-worker --master <host>:<port>``, which rejoins every step.
    """

    local_workers: int = 1
    remote_workers: int = 0
    bind: str = "127.0.0.1:0"

    @property
    def total(self) -> int:
        return self.local_workers + self.remote_workers

    @property
    def distributed(self) -> bool:
        return self.total > 1

    def master_address(self) -> tuple[str, int]:
        host, _, port = self.bind.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"LOADGEN_MASTER must be host:port, got {self.bind!r}")
        if int(port) == 0:
            from servingbench.servers.net import free_port

            return host or "127.0.0.1", free_port()
        return host or "127.0.0.1", int(port)


TAIL_S = 1.0
"""Load continues this long past the requested time. Locust's run-time clock starts before the test_start
event the windows are measured from (seen: load ended 0.4 s before test_start + run time), and a
distributed master's clock before its workers start; without the tail a measured window ending at
test_start + run time would be partly empty and its throughput too low (7% on a 6 s window)."""


@dataclass(frozen=True)
class LoadResult:
    samples: np.ndarray
    """Rows of (start time s, latency ms, HTTP status; 0 = no response)."""
    test_start: float
    wall_s: float
    generator_cpu_util: float
    """Locust's CPU seconds per wall second, as a fraction of the CPUs it was given."""
    log_path: Path


Command = tuple[list[str], dict[str, str], Path]
"""(argv, environment, log file) of one Locust process."""


def run_locust(
    requests_file: Path,
    base_url: str,
    *,
    users: int,
    run_time_s: float,
    max_requests: int,
    cpus: tuple[int, ...],
    out_dir: Path,
    name: str,
    options: dict[str, str] | None = None,
    distribution: Distribution | None = None,
) -> LoadResult:
    """Run Locust with ``users`` users for ``run_time_s`` seconds (or ``max_requests``).

    ``options`` are extra ``--sb-*`` options of the locustfile (the open-loop schedule). With a
    distributed ``distribution`` a Locust master runs with local worker processes on ``cpus`` (and
    waits for remote ones); the master gathers every raw sample from the workers. Every local process
    is in its own session and is killed by process group if it outlives its time limit.
    """
    dist = distribution or Distribution()
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / f"{name}.samples.npy"
    log_path = out_dir / f"{name}.locust.log"
    env = dict(os.environ, SB_SAMPLES_OUT=str(samples_path), PYTHONUNBUFFERED="1")
    sb = {"--sb-requests": str(requests_file), "--sb-max-requests": str(max_requests),
          "--sb-workers": str(dist.total), **(options or {})}
    load = ["--headless", "--host", base_url, "--users", str(users), "--spawn-rate", str(users),
            "--only-summary", "--exit-code-on-error", "0", *itertools.chain.from_iterable(sb.items())]
    commands = _commands(load, env, log_path, run_time_s, dist, out_dir, name)
    started = time.time()
    limit = run_time_s + (210 if dist.distributed else 60)
    returncode, cpu_s = _run_processes(commands, cpus, limit)
    wall = time.time() - started
    if returncode != 0 or not samples_path.exists():
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise LoadError(f"Locust failed (exit {returncode}); last lines of {log_path}:\n  "
                        + "\n  ".join(tail))
    samples = np.load(samples_path)
    test_start = float((out_dir / f"{name}.samples.npy.start").read_text())
    return LoadResult(samples, test_start, wall, cpu_s / wall / max(1, len(cpus)), log_path)


def _commands(load: list[str], env: dict[str, str], log_path: Path, run_time_s: float, dist: Distribution,
              out_dir: Path, name: str) -> list[Command]:
    """One headless Locust, or a master (first) with its local workers."""
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    if not dist.distributed:
        run_time = max(1, math.ceil(run_time_s + TAIL_S))
        return [([*base, *load, "--stop-timeout", "5", "--run-time", f"{run_time}s"], env, log_path)]
    host, port = dist.master_address()
    master = ["--master", "--master-bind-host", host, "--master-bind-port", str(port),
              "--expect-workers", str(dist.total), "--expect-workers-max-wait", "120",
              # workers drop in-flight requests at stop (after the measured window), so that they
              # answer the master's quit at once; --run-time is only a safety bound: SB_RUN_TIME stops
              "--stop-timeout", "0", "--run-time", f"{round(run_time_s) + 90}s"]
    commands: list[Command] = [([*base, *load, *master], dict(env, SB_RUN_TIME=f"{run_time_s + TAIL_S:.3f}"),
                                log_path)]
    master_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    for i in range(dist.local_workers):
        commands.append(([*base, "--worker", "--master-host", master_host, "--master-port", str(port)], env,
                         out_dir / f"{name}.worker{i}.log"))
    return commands


def _run_processes(commands: list[Command], cpus: tuple[int, ...], limit_s: float) -> tuple[int, float]:
    """Start every process, wait for the first (the master) within ``limit_s``, end the others.

    Returns the master's exit code and the CPU seconds all of them used (sampled while they ran)."""
    procs: list[subprocess.Popen] = []
    cpu: dict[int, float] = {}
    try:
        for argv, proc_env, log in commands:
            with open(log, "wb") as fh:
                procs.append(spawn_pinned(argv, cpus=cpus, env=proc_env, cwd=REPO, log=fh))
        handles = [psutil.Process(p.pid) for p in procs]

        def master_exited() -> bool:
            """Whether the master has exited; while it runs, sample everyone's CPU seconds."""
            if procs[0].poll() is not None:
                return True
            for handle in handles:
                with contextlib.suppress(psutil.Error):
                    t = handle.cpu_times()
                    cpu[handle.pid] = t.user + t.system
            return False

        if not poll_until(master_exited, timeout_s=limit_s, interval_s=0.2).done:
            raise LoadError(f"Locust did not stop within {limit_s:.0f} s; see {commands[0][2]}")
        # The workers sent their samples before reporting stopped; they would wait 60 s for the gone
        # master's heartbeat before exiting on their own, so end them now.
        for proc in procs[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs[1:]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return procs[0].returncode, sum(cpu.values())


def run_open_loop(
    requests_file: Path,
    base_url: str,
    *,
    rate_rps: float,
    duration_s: float,
    seed: int,
    cpus: tuple[int, ...],
    out_dir: Path,
    name: str,
    drain_s: float = 10.0,
    max_in_flight: int = 512,
    distribution: Distribution | None = None,
    schedule: np.ndarray | None = None,
) -> LoadResult:
    """Poisson arrivals at ``rate_rps`` for ``duration_s`` seconds, latency from intended send time.

    Bounded: the schedule has about rate x duration requests, at most ``max_in_flight`` are
    outstanding per load process, and whatever is unanswered ``drain_s`` after the last arrival
    counts as failed. Distributed, each of the N workers runs one user at rate/N.

    ``schedule`` replaces the Poisson draw by given arrivals (offsets in seconds, sorted, below
    ``duration_s``; an optional second column names the request index): bursts, ramps, a replayed trace.
    """
    dist = distribution or Distribution()
    expected = int(rate_rps * duration_s)
    options = {
        "--sb-mode": "open", "--sb-rate": f"{rate_rps:.6f}", "--sb-duration": f"{duration_s:.3f}",
        "--sb-seed": str(seed), "--sb-drain": f"{drain_s:.1f}", "--sb-max-in-flight": str(max_in_flight),
    }
    if schedule is not None:
        expected = check_schedule(schedule, duration_s)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{name}.schedule.npy"
        np.save(path, np.asarray(schedule, dtype=np.float64))
        options["--sb-schedule"] = str(path)
    return run_locust(
        requests_file, base_url, users=dist.total, run_time_s=duration_s + drain_s + 5,
        max_requests=expected * 2 + 100, cpus=cpus, out_dir=out_dir, name=name, distribution=dist,
        options=options,
    )


def check_schedule(schedule: np.ndarray, duration_s: float) -> int:
    """The number of arrivals of a given schedule; ValueError unless its offsets are sorted, >= 0 and
    inside ``duration_s`` (the bound of the run)."""
    table = np.asarray(schedule, dtype=np.float64)
    if table.ndim not in (1, 2) or table.size == 0:
        raise ValueError("an arrival schedule needs at least one arrival (offsets, optionally request "
                         "indices)")
    offsets = table[:, 0] if table.ndim == 2 else table
    if not np.all(np.isfinite(offsets)) or offsets[0] < 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("arrival offsets must be finite, >= 0 and sorted")
    if offsets[-1] > duration_s:
        raise ValueError(f"the last arrival ({offsets[-1]:.3f} s) is past the run's {duration_s:.3f} s")
    return int(offsets.size)


def serve_as_workers(master: str, processes: int = 1, cpus: tuple[int, ...] | None = None) -> int:
    """Run Locust workers for a harness on another machine until Ctrl-C.

    The harness starts a fresh master for every load step and sends each step's settings and the
    framework's requests to its workers, so a worker here needs only the master's address. Workers exit
    when a step ends; each is restarted at once to join the next step.
    """
    host, _, port = master.rpartition(":")
    if not host or not port.isdigit():
        print(f"error: --master must be host:port, got {master!r}", file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", host,
            "--master-port", port, "--loglevel", "WARNING"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    def start() -> subprocess.Popen:
        return spawn_pinned(argv, cpus=cpus, env=env, cwd=REPO)

    print(f"[loadgen-worker] {processes} Locust worker(s) for the master at {master}; Ctrl-C to stop",
          file=sys.stderr)
    procs = [start() for _ in range(processes)]
    try:
        while True:
            time.sleep(0.5)
            for i, proc in enumerate(procs):
                if proc.poll() is not None:  # its step is over: join the next one
                    procs[i] = start()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
