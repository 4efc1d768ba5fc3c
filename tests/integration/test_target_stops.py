"""A target that stops answering fails the run, with the step where it happened and the earlier steps kept."""

from __future__ import annotations

import json
import os
import signal

import pytest

from servingbench.adapter import Tunables
from servingbench.cpusets import split_cpus
from servingbench.frameworks import load_adapter
from servingbench.profiles import Profile
from servingbench.run import BenchConfig, run_bench
from servingbench.servers.local import launched

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TWO_STEPS = Profile("tiny", "test: two closed steps, then the fixed load", warmup_s=1, users=(1, 2),
                    step_warmup_s=1, step_s=3, windows=2, reference_s=0, fixed_rate_rps=10, open_warmup_s=1,
                    open_s=3, slo_probes=2, probe_s=3, repeats=1, ceiling_s=0)


def test_remote_target_killed_mid_run_fails_the_run_at_that_step(model_dir, tmp_path):
    server_cpus, loadgen_cpus = split_cpus()
    messages: list[str] = []
    with launched(load_adapter("baseline"), Tunables(), run_dir=tmp_path / "theirs", model_dir=model_dir,
                  cpus=server_cpus) as server:

        def out(message: str) -> None:
            """Kill the target (our own process group) once the first closed step has been reported."""
            messages.append(message)
            if "] closed loop 2/2" in message:
                os.killpg(server.pid, signal.SIGKILL)

        config = BenchConfig("baseline", "default", TWO_STEPS, 1000.0, server_cpus, loadgen_cpus,
                             results_root=tmp_path / "results", target=server.base_url)
        folder = run_bench(config, model_dir, out=out)
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "failed", messages
    assert "stopped answering during closed-loop step 2 (2 users)" in run["failure_reason"]
    assert [s["users"] for s in run["steps"]] == [1, 2]
    assert run["steps"][0]["ok"] > 0 and run["steps"][1]["ok"] == 0
    assert run["open_steps"] == [] and run.get("summary") is None
