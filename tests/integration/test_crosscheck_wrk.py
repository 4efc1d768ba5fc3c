"""Cross-check: the harness's Locust numbers agree with wrk, an independent load tool, within 15%.

Both drive the same real baseline server with the same request at the same concurrency, from the
same load-generator CPUs. If the harness mis-measured throughput or latency (wrong window, wrong
units, counting errors as successes), the two would disagree.

One connection each: below saturation, latency is the server's service time plus each tool's own small
overhead. At saturation (seen with 4 connections) both tools agree on throughput, but they queue their
connections on a one-CPU server differently, which moves the median by up to 20%: a property of the
closed loop, not a measurement error, so it is no fair test of the harness.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from servingbench import stats
from servingbench.adapter import Tunables
from servingbench.cpusets import split_cpus
from servingbench.frameworks import load_adapter
from servingbench.launcher import launched
from servingbench.loadrun import run_locust, write_requests

pytestmark = [pytest.mark.slow, pytest.mark.integration]
USERS, WARMUP_S, MEASURE_S = 1, 3.0, 12.0
TEXT = "The plot was thin but the acting was wonderful and I would happily watch it again."
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk_lua(adapter, path) -> None:
    req = adapter.encode([TEXT])
    body = req.body.decode("utf-8").replace("\\", "\\\\").replace('"', '\\"')
    lines = [f'wrk.method = "{req.method}"', f'wrk.body = "{body}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in req.headers.items()]
    path.write_text("\n".join(lines) + "\n")


def parse_wrk(output: str) -> tuple[float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"\n\s+50%\s+([\d.]+)(us|ms|s)\b", output).groups()
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, float(value) * UNITS[unit], int(errors.group(1)) if errors else 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk missing: run scripts/install-system-deps.sh")
def test_locust_and_wrk_agree_on_throughput_and_median(model_dir, tmp_path):
    adapter = load_adapter("baseline")
    server_cpus, loadgen_cpus = split_cpus()
    requests_file = tmp_path / "requests.json"
    write_requests(adapter, [TEXT], requests_file)
    wrk_lua(adapter, tmp_path / "post.lua")
    with launched(adapter, Tunables(), run_dir=tmp_path / "srv", model_dir=model_dir,
                  cpus=server_cpus) as server:
        run_locust(requests_file, server.base_url, users=USERS, run_time_s=5, max_requests=100_000,
                   cpus=loadgen_cpus, out_dir=tmp_path, name="warm")
        ours = run_locust(requests_file, server.base_url, users=USERS, run_time_s=WARMUP_S + MEASURE_S,
                          max_requests=100_000, cpus=loadgen_cpus, out_dir=tmp_path, name="locust")
        cpu_list = ",".join(map(str, loadgen_cpus))
        wrk = subprocess.run(
            ["taskset", "-c", cpu_list, "wrk", "-t1", f"-c{USERS}", f"-d{int(MEASURE_S)}s", "--latency",
             "-s", str(tmp_path / "post.lua"), server.base_url + adapter.encode([TEXT]).path],
            capture_output=True, text=True, timeout=MEASURE_S + 30,
        )
    assert wrk.returncode == 0, wrk.stderr
    start = ours.test_start + WARMUP_S
    summary = stats.summarize(stats.in_window(ours.samples, start, start + MEASURE_S), MEASURE_S)
    wrk_rps, wrk_p50, wrk_errors = parse_wrk(wrk.stdout)
    assert summary.errors == 0 and wrk_errors == 0
    report = f"locust {summary.throughput_rps:.1f} req/s p50 {summary.p50_ms:.2f} ms; " \
             f"wrk {wrk_rps:.1f} req/s p50 {wrk_p50:.2f} ms"
    print(report)  # shown with -s or -rP: the agreement itself, not only pass/fail
    assert abs(summary.throughput_rps - wrk_rps) / wrk_rps <= 0.15, report
    assert abs(summary.p50_ms - wrk_p50) / wrk_p50 <= 0.15, report
