"""A confirmation on a fresh server start, for real: the baseline stopped, started again, gated, probed."""

from __future__ import annotations

import json

import pytest

from servingbench.cpusets import split_cpus
from servingbench.profiles import Profile
from servingbench.report.pages import write_run_report
from servingbench.run import BenchConfig, run_bench
from servingbench.servers.procs import listening_on

pytestmark = [pytest.mark.slow, pytest.mark.integration]

FRESH = Profile("tiny-fresh", "test: one closed step, a 2-probe search, 2 confirmations (1 on a fresh start)",
                warmup_s=2, users=(1,), step_warmup_s=1, step_s=3, windows=2, reference_s=0,
                fixed_rate_rps=10, open_warmup_s=1, open_s=3, slo_probes=2, probe_s=4, repeats=2,
                ceiling_s=0, slo_confidence=0.9, probe_max_s=8, probe_looks=2, fresh_start=True)
"""The search starts at the one-user closed-loop rate, under the baseline's capacity; three rounds leave room
for a busy machine to fail a confirmation and the next rate to be confirmed."""


def test_the_last_confirmation_runs_on_a_freshly_started_server(model_dir, tmp_path):
    server_cpus, loadgen_cpus = split_cpus()
    messages: list[str] = []
    config = BenchConfig("baseline", "default", FRESH, 1000.0, server_cpus, loadgen_cpus,
                         results_root=tmp_path / "results")
    folder = run_bench(config, model_dir, out=messages.append)
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "complete", run.get("failure_reason")
    confirmations = run["slo_search"]["confirmations"]
    fresh = [i for i, c in enumerate(confirmations) if c["fresh_start"]]
    assert fresh, messages
    for i in fresh:  # the second of its round: the first one at that rate passed on the old server
        before = confirmations[i - 1]
        assert before["rate_rps"] == confirmations[i]["rate_rps"] and before["passed"]
        assert not before["fresh_start"]
    starts = run["slo_search"]["fresh_start_ready_s"]
    assert len(starts) == len(fresh) and all(s > 0 for s in starts)
    assert sum("parity passed" in m for m in messages) == 1 + len(fresh)  # the gate after every fresh start
    assert (folder / "load" / "warmup_fresh1.samples.npy").is_file()
    assert run["stop"]["left_running"] == [] and listening_on(list(run["ports"].values())) == []
    assert len([s for s in run["open_steps"] if s["fresh_start"]]) == len(fresh)
    assert "data-fresh-start" in write_run_report(folder).read_text()
