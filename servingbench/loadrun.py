"""One bounded Locust run against a server, on the load generator's CPUs, with raw samples back.

Each load step is its own headless Locust process: users, time and request count are bounded, and
the process's own CPU use is measured so that a step where the generator itself ran out of CPU is
flagged instead of being reported as the server's limit.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from servingbench.adapter import Adapter, HttpRequest
from servingbench.envs import REPO

LOCUSTFILE = REPO / "loadtests" / "locustfile.py"
GENERATOR_SATURATED = 0.90
"""Generator CPU use (fraction of its CPUs) above which a step is flagged as generator-limited."""


class LoadError(RuntimeError):
    pass


def write_requests(adapter: Adapter, texts: list[str], path: Path) -> Path:
    """Encode one request per text with the adapter's codec, for Locust to replay."""
    rows = []
    for text in texts:
        req = adapter.encode([text])
        rows.append({"method": req.method, "path": req.path, "headers": req.headers,
                     "body": base64.b64encode(req.body).decode("ascii")})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
    return path


def read_requests(path: str | Path) -> list[HttpRequest]:
    rows = json.loads(Path(path).read_text())
    return [HttpRequest(r["method"], r["path"], base64.b64decode(r["body"]), r["headers"]) for r in rows]


@dataclass(frozen=True)
class LoadResult:
    samples: np.ndarray
    """Rows of (start time s, latency ms, HTTP status; 0 = no response)."""
    test_start: float
    wall_s: float
    generator_cpu_util: float
    """Locust's CPU seconds per wall second, as a fraction of the CPUs it was given."""
    log_path: Path


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
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> LoadResult:
    """Run Locust with ``users`` users for ``run_time_s`` seconds (or ``max_requests``).

    ``workers`` > 1 runs a Locust master and that many worker processes on ``cpus``; the master
    gathers every raw sample from the workers. Every process is in its own session and is killed by
    process group if it outlives its time limit.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / f"{name}.samples.npy"
    log_path = out_dir / f"{name}.locust.log"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        SB_REQUESTS=str(requests_file),
        SB_SAMPLES_OUT=str(samples_path),
        SB_MAX_REQUESTS=str(max_requests),
        SB_WORKERS=str(workers),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env or {})
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    load = ["--headless", "--host", base_url, "--users", str(users), "--spawn-rate", str(users),
            "--stop-timeout", "5", "--only-summary", "--exit-code-on-error", "0"]
    commands: list[tuple[list[str], dict[str, str], Path]] = []
    if workers <= 1:
        commands.append(([*base, *load, "--run-time", f"{max(1, round(run_time_s))}s"], env, log_path))
    else:
        from servingbench.launcher import free_port

        port = free_port()
        master = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                  "--expect-workers", str(workers), "--expect-workers-max-wait", "60",
                  "--run-time", f"{round(run_time_s) + 90}s"]  # a safety bound: SB_RUN_TIME stops it
        commands.append(([*base, *load, *master], dict(env, SB_RUN_TIME=f"{run_time_s:.3f}"), log_path))
        for i in range(workers):
            commands.append(([*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                             dict(env, SB_WORKER_INDEX=str(i)), out_dir / f"{name}.worker{i}.log"))
    started = time.time()
    procs: list[subprocess.Popen] = []
    cpu: dict[int, float] = {}
    try:
        for argv, proc_env, log in commands:
            with open(log, "wb") as fh:
                procs.append(subprocess.Popen(
                    argv, env=proc_env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                    preexec_fn=lambda: os.sched_setaffinity(0, cpus),
                ))
        handles = [psutil.Process(p.pid) for p in procs]
        limit = run_time_s + (150 if workers > 1 else 60)
        while procs[0].poll() is None:
            for handle in handles:
                try:
                    t = handle.cpu_times()
                    cpu[handle.pid] = t.user + t.system
                except psutil.Error:
                    pass
            time.sleep(0.2)
            if time.time() - started > limit:
                raise LoadError(f"Locust did not stop within {limit:.0f} s; see {log_path}")
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
    wall = time.time() - started
    master = procs[0]
    if master.returncode != 0 or not samples_path.exists():
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise LoadError(f"Locust failed (exit {master.returncode}); last lines of {log_path}:\n  "
                        + "\n  ".join(tail))
    samples = np.load(samples_path)
    test_start = float((out_dir / f"{name}.samples.npy.start").read_text())
    return LoadResult(samples, test_start, wall, sum(cpu.values()) / wall / max(1, len(cpus)), log_path)


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
    workers: int = 1,
) -> LoadResult:
    """Poisson arrivals at ``rate_rps`` for ``duration_s`` seconds, latency from intended send time.

    Bounded: the schedule has about rate x duration requests, at most ``max_in_flight`` are
    outstanding, and whatever is unanswered ``drain_s`` after the last arrival counts as failed.
    """
    expected = int(rate_rps * duration_s)
    return run_locust(
        requests_file, base_url, users=workers, run_time_s=duration_s + drain_s + 5,
        max_requests=expected * 2 + 100, cpus=cpus, out_dir=out_dir, name=name, workers=workers,
        extra_env={
            "SB_MODE": "open", "SB_RATE": f"{rate_rps:.6f}", "SB_DURATION": f"{duration_s:.3f}",
            "SB_SEED": str(seed), "SB_DRAIN_S": f"{drain_s:.1f}", "SB_MAX_IN_FLIGHT": str(max_in_flight),
        },
    )
