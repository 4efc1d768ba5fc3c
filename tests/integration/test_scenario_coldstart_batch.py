"""SCENARIO=coldstart,batch through the real CLI against the real baseline server (quick profile: 2 fresh
starts, a 512-text job): figures equal the raw samples and the page shows them; nothing left running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest

from servingbench.envs import REPO
from servingbench.scenarios.batch import analyse_job
from servingbench.servers.procs import listening_on

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory, model_dir) -> tuple[Path, dict, str]:
    results = tmp_path_factory.mktemp("results")
    cmd = [sys.executable, "-m", "servingbench", "bench", "--framework", "baseline", "--profile", "quick",
           "--scenario", "coldstart,batch", "--results", str(results)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (folder,) = [p for p in results.iterdir() if not p.name.startswith(".")]
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "complete", run.get("failure_reason")
    return folder, run, (folder / "report.html").read_text()


def test_coldstart_times_every_start_and_leaves_nothing_running(scenario_run):
    folder, run, page = scenario_run
    result = run["scenarios"]["coldstart"]
    starts = result["starts"]
    assert len(starts) == 2 and not run["scenarios"]["failed"]
    for s in starts:
        first = s["first"]["first_correct_s"]
        assert 0 < first <= s["time_to_ready_s"] < 60 and s["first_request_ms"] > 0
        assert s["idle_mem_mib"] > 50 and s["processes"] >= 1
        split = s["split"]  # the shared model's load line: parts add up to the first correct prediction
        assert split["loads"] == 1 and split["model_load_s"] > 0
        parts = split["startup_s"] + split["model_load_s"] + split["after_load_s"]
        assert parts == pytest.approx(first, abs=0.01)
        start_folder = folder / s["folder"]
        assert (start_folder / "server.log").is_file() and (start_folder / "model_load.events").is_file()
        pid = int((start_folder / "server.pid").read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    firsts = sorted(s["first"]["first_correct_s"] for s in starts)
    assert result["first_correct_s"]["median"] == firsts[0]  # nearest-rank median of two
    assert result["first_correct_s"]["max"] == firsts[1]
    assert result["keep_warm"]["usd_per_hour"] > 0
    spread = result["first_correct_s"]
    assert f"{spread['median']:.2f} [{spread['min']:.2f}-{spread['max']:.2f}]" in page
    assert listening_on(list((run.get("ports") or {}).values())) == []


def test_batch_figures_equal_the_raw_samples_and_the_page(scenario_run):
    folder, run, page = scenario_run
    result = run["scenarios"]["batch"]
    assert result["job_texts"] == 512 and [s["texts_per_request"] for s in result["sizes"]] == [1, 8, 32, 128]
    for s in result["sizes"]:
        assert not s["refused"] and s["ok_texts"] == 512 and s["failure_kinds"] == {}
        again = analyse_job(np.load(folder / s["samples_file"]), s["texts_per_request"], s["requests"])
        assert again.texts_per_s == s["texts_per_s"] and again.wall_s == s["wall_s"]
        assert f'<tr data-size="{s["texts_per_request"]}"><td>{s["texts_per_request"]}</td>' in page
        assert f'<td class="tps">{s["texts_per_s"]:.1f}</td>' in page
        assert s["cpu_ms_per_text"] > 0 and s["reference"]["texts_per_s"] > 0
