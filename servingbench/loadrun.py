"""One bounded Locust run against a server, on the load generator's CPUs, with raw samples back.

Each load step is its own headless Locust process: users, time and request count are bounded, and
the process's own CPU use is measured so that a step where the generator itself ran out of CPU is
flagged instead of being reported as the server's limit.
"""

from __future__ import annotations

import base64
import json
import os
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
) -> LoadResult:
    """Run Locust with ``users`` users for ``run_time_s`` seconds (or ``max_requests``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / f"{name}.samples.npy"
    log_path = out_dir / f"{name}.locust.log"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        SB_REQUESTS=str(requests_file),
        SB_SAMPLES_OUT=str(samples_path),
        SB_MAX_REQUESTS=str(max_requests),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env or {})
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", base_url, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{max(1, round(run_time_s))}s", "--stop-timeout", "5",
        "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]
    started = time.time()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        )
        handle = psutil.Process(proc.pid)
        cpu = 0.0
        try:
            while proc.poll() is None:
                try:
                    t = handle.cpu_times()
                    cpu = t.user + t.system
                except psutil.Error:
                    pass
                time.sleep(0.2)
                if time.time() - started > run_time_s + 60:
                    raise LoadError(f"Locust did not stop within {run_time_s + 60:.0f} s; see {log_path}")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    wall = time.time() - started
    if proc.returncode != 0 or not samples_path.exists():
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise LoadError(f"Locust failed (exit {proc.returncode}); last lines of {log_path}:\n  "
                        + "\n  ".join(tail))
    samples = np.load(samples_path)
    test_start = float((out_dir / f"{name}.samples.npy.start").read_text())
    return LoadResult(samples, test_start, wall, cpu / wall / max(1, len(cpus)), log_path)


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
) -> LoadResult:
    """Poisson arrivals at ``rate_rps`` for ``duration_s`` seconds, latency from intended send time.

    Bounded: the schedule has about rate x duration requests, at most ``max_in_flight`` are
    outstanding, and whatever is unanswered ``drain_s`` after the last arrival counts as failed.
    """
    expected = int(rate_rps * duration_s)
    return run_locust(
        requests_file, base_url, users=1, run_time_s=duration_s + drain_s + 5,
        max_requests=expected * 2 + 100, cpus=cpus, out_dir=out_dir, name=name,
        extra_env={
            "SB_MODE": "open", "SB_RATE": f"{rate_rps:.6f}", "SB_DURATION": f"{duration_s:.3f}",
            "SB_SEED": str(seed), "SB_DRAIN_S": f"{drain_s:.1f}", "SB_MAX_IN_FLIGHT": str(max_in_flight),
        },
    )
