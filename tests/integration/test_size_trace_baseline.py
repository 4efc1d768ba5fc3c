"""SCENARIO=size and SCENARIO=trace through the real CLI against the real baseline server (quick profile,
scenario only, a tiny trace): complete runs whose page figures equal the raw samples, nothing left running."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from servingbench.envs import REPO
from servingbench.measure import stats
from servingbench.measure.timeline import timeline
from tests.test_e2e_bench import assert_nothing_left, only_run

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def bench(results: Path, *args: str) -> tuple[Path, dict, str]:
    cmd = [sys.executable, "-m", "servingbench", "bench", "--framework", "baseline", "--profile", "quick",
           "--results", str(results), *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    folder, run = only_run(results)
    assert run["status"] == "complete", run.get("failure_reason")
    run["_folder"] = str(folder)
    assert_nothing_left(run)
    return folder, run, output


def shown(html: str, field: str) -> float:
    return float(re.search(rf'data-field="{field}" data-value="([^"]+)"', html).group(1))


def test_size_through_the_cli(tmp_path, model_dir):
    folder, run, output = bench(tmp_path, "--scenario", "size")
    assert run["scenarios_run"] == ["size"] and run["steps"] == [] and "size 4/4" in output
    result = run["scenarios"]["size"]
    assert [p["tokens"] for p in result["points"]] == [8, 64, 128, 256] and result["max_length"] == 128
    page = (folder / "report.html").read_text().split('id="scenario-size"')[1]
    cpu = {}
    for point in result["points"]:
        step = point["step"]
        assert step["ok"] > 0 and step["errors"] == 0 and point["tokens_max"] == point["tokens"]
        samples = np.load(folder / step["samples_file"])
        window = stats.sent_in_window(samples, step["window_start"], step["window_end"])
        row = page.split(f'<tr data-tokens="{point["tokens"]}"')[1].split("</tr>")[0]
        assert shown(row, "p99_ms") == stats.summarize(window, 1.0).p99_ms == step["p99_ms"]
        cpu[point["tokens"]] = shown(row, "cpu_ms_per_request")
    # CPU per request grows with length up to the truncation, and no further (the encoder sees 128)
    assert cpu[8] < cpu[64] < cpu[128] and cpu[256] < 1.5 * cpu[128], cpu


def test_trace_through_the_cli(tmp_path, model_dir):
    offsets = [0.0, 0.3, 0.6, 1.0] + [1.2 + i * 0.02 for i in range(40)] + [2.5, 3.0, 3.5, 3.9]
    trace = tmp_path / "tiny.csv"
    trace.write_text("# a test trace\noffset_s,text_id\n" + "".join(f"{o:.3f},{i % 126}\n"
                                                                     for i, o in enumerate(offsets)))
    folder, run, _ = bench(tmp_path / "results", "--scenario", "trace", "--trace", str(trace),
                           "--trace-speed", "2")
    result = run["scenarios"]["trace"]
    assert result["arrivals"] == len(offsets) and result["trace_s"] == 2 and result["speed"] == 2.0
    samples = np.load(folder / result["step"]["samples_file"])
    assert samples.shape[0] == len(offsets) and result["step"]["failure_kinds"] == {}
    line = timeline(samples, result["timeline_start"], result["trace_s"], result["slo_p99_ms"])
    assert line.offered == result["timeline"]["offered"] and sum(line.offered) == len(offsets)
    assert line.offered == [44, 4]  # at twice the pace the 40-arrival burst falls in the first second
    page = (folder / "report.html").read_text().split('id="scenario-trace"')[1]
    assert shown(page, "seconds_over_slo") == line.seconds_over_slo
    assert shown(page, "goodput_ratio") == 1.0
    intended = np.sort(samples[:, 0]) - result["timeline_start"]
    assert np.allclose(intended, np.array(offsets) / 2, atol=1e-6)  # sent at the trace's times
    json.dumps(result)
