"""One bounded Locust run against a server, on the load generator's CPUs, with raw samples back.

Each load step is its own headless Locust process: users, time and request count are bounded, and
the process's own CPU use is measured so that a step where the generator itself ran out of CPU is
flagged instead of being reported as the server's limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from servingbench.envs import REPO

LOCUSTFILE = REPO / "loadtests" / "locustfile.py"
GENERATOR_SATURATED = 0.90
"""Generator CPU use (fraction of its CPUs) above which a step is flagged as generator-limited."""


class LoadError(RuntimeError):
    pass


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
    framework: str,
    base_url: str,
    *,
    users: int,
    run_time_s: float,
    max_requests: int,
    cpus: tuple[int, ...],
    out_dir: Path,
    name: str,
) -> LoadResult:
    """Run closed-loop Locust with ``users`` users for ``run_time_s`` seconds (or ``max_requests``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / f"{name}.samples.npy"
    log_path = out_dir / f"{name}.locust.log"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        SB_FRAMEWORK=framework,
        SB_SAMPLES_OUT=str(samples_path),
        SB_MAX_REQUESTS=str(max_requests),
        PYTHONUNBUFFERED="1",
    )
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
