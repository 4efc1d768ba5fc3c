"""Overload and burst against the real baseline server through the CLI, with real Locust: the run records
both scenarios without a steady protocol (RATE_FROM=40: the rate given), and the run page's figures equal
the raw samples'.

Kept short (about 70 s of which 40 s load) with SCENARIO_TIME_SCALE=0.34: 2 s measured per overload rate,
a 2 s burst. The assertions are about honesty (figures equal samples, the verdict's inputs, nothing left
listening), not about the baseline's performance, which such short windows do not pin down.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from servingbench.envs import REPO
from servingbench.measure.goodput_curve import judge_curve
from servingbench.measure.recovery import recovery, timeline
from servingbench.record.results import load_run
from tests.scenario_pages import check_burst_page, check_overload_page
from tests.test_e2e_bench import assert_nothing_left, only_run

pytestmark = [pytest.mark.slow]
RATE, SCALE = 40.0, 0.34


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory, model_dir) -> tuple[Path, dict, str]:
    results = tmp_path_factory.mktemp("scenarios")
    cmd = [sys.executable, "-m", "servingbench", "bench", "--framework", "baseline", "--profile", "quick",
           "--results", str(results), "--scenario", "overload,burst", "--rate-from", str(RATE),
           "--scenario-time-scale", str(SCALE)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder, run = only_run(results)
    run["_folder"] = str(folder)
    return folder, run, proc.stdout


def test_overload_on_the_real_baseline_is_recorded_and_its_page_equals_the_samples(scenario_run):
    folder, run, output = scenario_run
    assert run["status"] == "complete", run.get("failure_reason")
    assert run["scenarios_run"] == ["overload", "burst"] and not run["open_steps"]  # no steady protocol
    record = load_run(folder)
    assert record is not None and record.scenarios is not None
    over = record.scenarios.overload
    assert over is not None and over.rate.source == "given" and over.rate.rps == RATE
    assert [s.offered_rps for s in over.steps] == [RATE * m for m in over.multiples]
    assert all(s.completed_ok > 0 for s in over.steps)
    assert over.verdict == judge_curve([s.curve_point() for s in over.steps])
    html = (folder / "report.html").read_text()
    assert check_overload_page(html, folder) == len(over.multiples)
    assert f'data-verdict="{over.verdict.verdict}"' in html and "durations scaled by 0.34" in html
    assert "overload verdict:" in output
    assert_nothing_left(run)


def test_burst_on_the_real_baseline_is_recorded_and_its_page_equals_the_samples(scenario_run):
    folder, _, _ = scenario_run
    record = load_run(folder)
    assert record is not None and record.scenarios is not None and not record.scenarios.failed
    burst = record.scenarios.burst
    assert burst is not None
    samples = np.load(folder / burst.step.samples_file)
    start, end = burst.step.window_start, burst.step.window_end
    assert timeline(samples, start, end) == burst.timeline
    assert recovery(burst.timeline, burst.before_s, burst.before_s + burst.burst_s, 100.0, 0.001) == \
        burst.recovery
    assert [p.name for p in burst.phases] == ["before", "burst", "after"]
    assert burst.phases[1].sent > burst.phases[0].sent  # the burst sent more per second
    html = (folder / "report.html").read_text()
    assert check_burst_page(html, folder) == len(burst.timeline)
