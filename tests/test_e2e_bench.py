"""End-to-end: the real CLI benchmarks real servers with real Locust, and fails cleanly when it should."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from servingbench.envs import REPO
from servingbench.measure import stats
from servingbench.servers.procs import listening_on

pytestmark = [pytest.mark.slow]


def bench(results: Path, *args: str, **kwargs) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "servingbench", "bench", "--profile", "quick",
           "--results", str(results), *args]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)


def only_run(results: Path) -> tuple[Path, dict]:
    runs = [p for p in results.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs
    assert not [p for p in results.iterdir() if p.name.startswith(".partial")]
    return runs[0], json.loads((runs[0] / "run.json").read_text())


def assert_nothing_left(run: dict) -> None:
    ports = list((run.get("ports") or {}).values())
    assert listening_on(ports) == [], "a port of the server is still listening"
    pid_file = Path(run.get("_folder", "")) / "server" / "server.pid"
    if pid_file.is_file():
        pid = int(pid_file.read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("framework", ["baseline", "rayserve"])
def test_quick_bench_writes_a_complete_honest_run(framework, tmp_path, model_dir):
    proc = bench(tmp_path, "--framework", framework)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    folder, run = only_run(tmp_path)
    run["_folder"] = str(folder)
    assert run["status"] == "complete", run.get("failure_reason")
    assert run["parity"]["passed"] and run["parity"]["sentences"] >= 100
    assert run["time_to_ready_s"] > 0 and run["framework_version"]
    assert set(run["cpus"]["server"]).isdisjoint(run["cpus"]["loadgen"])
    assert [s["users"] for s in run["steps"]] == [1, 4, 16]
    for step in run["steps"]:
        assert step["ok"] > 0 and step["throughput_rps"] > 0
        assert step["p50_ms"] <= step["p90_ms"] <= step["p99_ms"] <= step["p999_ms"] <= step["max_ms"]
        assert step["cpu_ms_per_request"] > 0 and step["mem_peak_mib"] > 10
        # resources cover the measured window; the monitor's own CPU is charged to the generator
        assert step["resources_start"] == step["window_start"] and step["resources_end"] <= step["window_end"]
        assert 0 < step["monitor_cpu_util"] < 0.1 and step["generator_cpu_util"] > step["monitor_cpu_util"]
        # the reported percentiles are exactly those of the raw samples in the measured window
        raw = np.load(folder / step["samples_file"])
        window = stats.in_window(raw, step["window_start"], step["window_end"])
        assert stats.summarize(window, step["duration_s"]).p99_ms == step["p99_ms"]
    assert (folder / "steps.csv").is_file() and (folder / "histograms.json").is_file()
    page = (folder / "report.html").read_text()
    assert run["run_id"] in page and "<svg" in page and "http://" not in page.split("<svg")[0]
    assert f"[{framework} " in output and "closed loop 3/3" in output  # progress on the terminal
    assert_nothing_left(run)


def test_unknown_framework_lists_the_valid_ones(tmp_path):
    proc = bench(tmp_path, "--framework", "nope")
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "unknown framework 'nope'" in output and "baseline" in output and "rayserve" in output


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _partial_file(results: Path, name: str):
    def find():
        hits = list(results.glob(f".partial-*/{name}"))
        return hits[0] if hits else None

    return find


def test_server_dying_mid_run_is_a_failed_run(tmp_path, model_dir):
    proc = bench(tmp_path, "--framework", "baseline")
    pid_file = _wait_for(_partial_file(tmp_path, "server/server.pid"), 300, "the server to start")
    _wait_for(_partial_file(tmp_path, "load/closed_u1.locust.log"), 300, "the first step")
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, output
    folder, run = only_run(tmp_path)
    assert run["status"] == "failed"
    assert "exited with code" in run["failure_reason"] and "Last lines of" in run["failure_reason"]
    run["_folder"] = str(folder)
    assert_nothing_left(run)


def test_ctrl_c_stops_everything_and_marks_the_run_interrupted(tmp_path, model_dir):
    proc = bench(tmp_path, "--framework", "baseline")
    pid_file = _wait_for(_partial_file(tmp_path, "server/server.pid"), 300, "the server to start")
    _wait_for(_partial_file(tmp_path, "load/warmup.locust.log"), 300, "the load to start")
    server_pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    _, run = only_run(tmp_path)
    assert run["status"] == "interrupted"
    assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    # Locust, started in its own group, is gone too
    locust = [p for p in psutil.process_iter(["cmdline"]) if "locust" in " ".join(p.info["cmdline"] or [])
              and str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert locust == []
