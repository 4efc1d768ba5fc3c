"""Small run folders for the report tests, written the way results.py publishes them.

Only test data: the figures are chosen by the tests, so each assertion knows exactly what a page must show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def step(users: int, rps: float, p50: float, p99: float, *, t0: float = 1000.0, cpu_ms: float = 5.0,
         mem: float = 150.0, slo_ms: float = 100.0) -> dict:
    return {
        "mode": "closed", "users": users, "window_start": t0, "window_end": t0 + 5.0,
        "samples_file": f"load/closed_u{users}.samples.npy", "requests": int(rps * 5), "ok": int(rps * 5),
        "errors": 0, "error_rate": 0.0, "throughput_rps": rps, "mean_ms": p50, "p50_ms": p50,
        "p90_ms": (p50 + p99) / 2, "p99_ms": p99, "p999_ms": p99, "max_ms": p99, "duration_s": 5,
        "status_counts": {"200": int(rps * 5)}, "server_cpu_s": 1.0, "server_cpu_util": 0.5,
        "cpu_ms_per_request": cpu_ms, "mem_peak_mib": mem, "mem_mean_mib": mem, "memory_kind": "PSS",
        "processes": 1, "generator_cpu_util": 0.2, "generator_limited": False, "meets_slo": p99 <= slo_ms,
    }


def write_run(
    root: Path,
    framework: str = "baseline",
    preset: str = "default",
    started: str = "2026-01-01T00:00:00+00:00",
    *,
    status: str = "complete",
    reason: str | None = None,
    tput: float = 50.0,
    p99_1: float = 30.0,
    cpu_ms: float = 5.0,
    mem: float = 150.0,
    profile: str = "quick",
    parity: bool = True,
    extra: dict | None = None,
    summary_extra: dict | None = None,
    samples: bool = True,
) -> Path:
    """A published run folder ``root/<run_id>`` with run.json, steps, samples and a server log."""
    stamp = started[:19].replace("-", "").replace(":", "") + "Z"
    run_id = f"{stamp}-{framework}-{preset}"
    folder = root / run_id
    (folder / "load").mkdir(parents=True)
    (folder / "server").mkdir()
    (folder / "server" / "server.log").write_text("INFO started\nINFO ready\n")
    record: dict = {
        "schema_version": 1, "run_id": run_id, "framework": framework, "preset": preset,
        "display_name": framework.capitalize(), "started_at": started, "finished_at": started,
        "status": status, "failure_reason": reason,
        "git": {"commit": "a" * 40, "dirty": False},
        "machine": {"cpu_model": "Test CPU", "logical_cpus": 2, "memory_gib": 8.0, "os": "Linux-test",
                    "python": "3.11.7"},
        "tunables": {"workers": 1, "threads_per_worker": 1, "max_batch_size": 1, "max_batch_delay_ms": 0.0},
        "profile": {"name": profile, "description": "test", "warmup_s": 3, "users": [1, 4],
                    "step_warmup_s": 2, "step_s": 5, "reference_s": 4, "max_requests_per_step": 1000},
        "slo": {"p99_ms": 100.0, "max_error_rate": 0.001},
        "cpus": {"server": [0], "loadgen": [1]},
        "harness_versions": {"locust": "2.47.0", "numpy": "2.4.6"},
        "model": {"dir": "/models/x", "manifest": {"source": "test model", "model_key": "abc"}},
        "framework_version": "1.2.3",
    }
    if status == "complete":
        steps = [step(1, tput / 2, 10.0, p99_1, cpu_ms=cpu_ms, mem=mem),
                 step(4, tput, 40.0, 90.0, cpu_ms=cpu_ms, mem=mem)]
        record.update(
            time_to_ready_s=3.0,
            reference={"single_p50_ms": 8.0, "single_p99_ms": 12.0, "sequential_rps": 100.0, "threads": 1,
                       "cpus": [0], "batch_size": 32, "batched_sentences_per_s": 200.0},
            parity={"passed": parity, "sentences": 10, "label_mismatches": 0 if parity else 3,
                    "max_score_diff": 1e-7, "tolerance": 1e-4, "accuracy": 0.9, "failures": [],
                    "error": None},
            steps=steps,
            summary={"peak_throughput_rps": tput, "peak_at_users": 4, "throughput_at_slo_rps": tput,
                     "slo_users": 4, "p50_ms_at_1_user": 10.0, "p99_ms_at_1_user": p99_1,
                     "cpu_ms_per_request_at_peak": cpu_ms, "mem_peak_mib": mem,
                     "any_generator_limited": False, **(summary_extra or {})},
        )
        if samples:
            rng = np.random.default_rng(0)
            for s in steps:
                n = 50
                lat = rng.uniform(s["p50_ms"] / 2, s["p99_ms"], n)
                start = np.linspace(s["window_start"], s["window_end"] - 0.5, n)
                rows = np.column_stack([start, lat, np.full(n, 200.0)])
                np.save(folder / s["samples_file"], rows)
    record.update(extra or {})
    (folder / "run.json").write_text(json.dumps(record, indent=2))
    return folder
