"""Beyond one machine: a remote target (nothing launched) and Locust as master + workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from servingbench.adapter import Tunables
from servingbench.cpusets import split_cpus
from servingbench.envs import REPO
from servingbench.frameworks import load_adapter
from servingbench.load.ceiling import start_noop, stop_noop
from servingbench.load.locust import Distribution, run_locust, run_open_loop
from servingbench.profiles import Profile
from servingbench.run import BenchConfig, run_bench
from servingbench.servers.local import free_port, launched

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TINY = Profile("tiny", "test: one closed step, a 2-probe search", warmup_s=1, users=(2,), step_warmup_s=1,
               step_s=3, windows=2, reference_s=0, fixed_rate_rps=10, open_warmup_s=1, open_s=3,
               slo_probes=2, probe_s=3, repeats=1, ceiling_s=0)


def test_remote_target_is_benchmarked_without_launching_and_without_invented_metrics(model_dir, tmp_path):
    server_cpus, loadgen_cpus = split_cpus()
    adapter = load_adapter("baseline")
    with launched(adapter, Tunables(), run_dir=tmp_path / "theirs", model_dir=model_dir,
                  cpus=server_cpus) as server:
        before = {p.pid for p in psutil.process_iter()}
        config = BenchConfig("baseline", "default", TINY, 1000.0, server_cpus, loadgen_cpus,
                             results_root=tmp_path / "results", target=server.base_url)
        folder = run_bench(config, model_dir, out=lambda _msg: None)
        started = {p.pid for p in psutil.process_iter()} - before
        assert not [p for p in started if psutil.pid_exists(p) and "uvicorn" in " ".join(
            psutil.Process(p).cmdline())], "a remote run must not launch a server"
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "complete", run.get("failure_reason")
    assert run["target"] == server.base_url and run["parity"]["passed"]
    assert run["time_to_ready_s"] is None and "unavailable" in run["server_metrics"]
    for step in run["steps"] + run["open_steps"]:
        assert step["server_cpu_s"] is None and step["mem_peak_mib"] is None
        assert step["ok"] > 0
    assert run["summary"]["cost"] is None  # no memory measured: no cost figure invented


def test_wrong_framework_at_target_fails_clearly(model_dir, tmp_path):
    server_cpus, loadgen_cpus = split_cpus()
    with launched(load_adapter("baseline"), Tunables(), run_dir=tmp_path / "theirs", model_dir=model_dir,
                  cpus=server_cpus) as server:
        config = BenchConfig("seldon", "default", TINY, 1000.0, server_cpus, loadgen_cpus,
                             results_root=tmp_path / "results", target=server.base_url)
        folder = run_bench(config, model_dir, out=lambda _msg: None)
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "failed" and "does not answer" in run["failure_reason"]


def test_distributed_locust_gathers_every_workers_samples(tmp_path):
    server_cpus, loadgen_cpus = split_cpus()
    requests_file = tmp_path / "requests.json"
    requests_file.write_text('[{"method": "POST", "path": "/p", "headers": {}, "body": "e30="}]')
    started = time.time()
    proc, port = start_noop(server_cpus, tmp_path / "noop.log")
    url = f"http://127.0.0.1:{port}"
    two_local = Distribution(local_workers=2)
    try:
        closed = run_locust(requests_file, url, users=4, run_time_s=4, max_requests=100_000,
                            cpus=loadgen_cpus, out_dir=tmp_path, name="closed", distribution=two_local)
        opened = run_open_loop(requests_file, url, rate_rps=60, duration_s=4, seed=5, cpus=loadgen_cpus,
                               out_dir=tmp_path, name="open", distribution=two_local, drain_s=2)
    finally:
        stop_noop(proc)
    assert closed.samples.shape[0] > 200 and (closed.samples[:, 2] == 200).all()
    # two Poisson schedules at 30 req/s each: about 240 arrivals in 4 s, every one answered
    assert 150 < opened.samples.shape[0] < 350 and (opened.samples[:, 2] == 200).all()
    for worker in (0, 1):
        assert (tmp_path / f"open.worker{worker}.log").is_file()
    assert_no_locust_left(requests_file, started)


def test_a_worker_on_another_machine_joins_every_step(tmp_path):
    """`servingbench loadgen-worker` (as on a second machine) serves two consecutive steps' masters."""
    server_cpus, loadgen_cpus = split_cpus()
    requests_file = tmp_path / "requests.json"
    requests_file.write_text('[{"method": "POST", "path": "/p", "headers": {}, "body": "e30="}]')
    started = time.time()
    proc, port = start_noop(server_cpus, tmp_path / "noop.log")
    master = f"127.0.0.1:{free_port()}"
    remote = subprocess.Popen([sys.executable, "-m", "servingbench", "loadgen-worker", "--master", master],
                              cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    spread = Distribution(local_workers=1, remote_workers=1, bind=master)
    url = f"http://127.0.0.1:{port}"
    try:
        first = run_open_loop(requests_file, url, rate_rps=40, duration_s=3, seed=9, cpus=loadgen_cpus,
                              out_dir=tmp_path, name="first", distribution=spread, drain_s=2)
        second = run_locust(requests_file, url, users=2, run_time_s=3, max_requests=50_000, cpus=loadgen_cpus,
                            out_dir=tmp_path, name="second", distribution=spread)
    finally:
        stop_noop(proc)
        os.killpg(remote.pid, signal.SIGINT)
        remote.wait(timeout=20)
    # two schedules of 20 req/s over 3 s: ~120 arrivals; one local worker alone would give ~60
    assert 80 < first.samples.shape[0] < 170 and (first.samples[:, 2] == 200).all()
    assert second.samples.shape[0] > 100
    assert_no_locust_left(requests_file, started)


def assert_no_locust_left(requests_file, since: float) -> None:
    """No master (it names the requests file) and no worker started since ``since`` is still running."""
    def ours(proc: psutil.Process) -> bool:
        line = " ".join(proc.info["cmdline"] or [])
        worker = str(REPO / "loadtests") in line and "--worker" in line and proc.info["create_time"] >= since
        return str(requests_file) in line or worker

    leftovers = [p for p in psutil.process_iter(["cmdline", "create_time"]) if ours(p)]
    assert leftovers == [], "no Locust master or worker may outlive its run"
