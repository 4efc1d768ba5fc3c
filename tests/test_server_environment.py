"""The environment every server gets (servers/environment.py): offline, thread caps, no telemetry."""

from __future__ import annotations

import os
import subprocess
import sys

from servingbench.adapter import Tunables
from servingbench.envs import REPO
from servingbench.servers.environment import server_environment


def test_every_server_environment_disables_ort_telemetry():
    """Local runs (run folder given) and containers (model folder only) both carry the switch."""
    local = server_environment(Tunables(threads_per_worker=2), model_dir="/m", run_dir="/r", temp_dir="/t",
                               home="/h")
    container = server_environment(Tunables(), model_dir="/model")
    for env in (local, container):
        assert env["ORT_DISABLE_TELEMETRY"] == "1"
        assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert local["SB_THREADS"] == local["OMP_NUM_THREADS"] == "2"


def test_the_predictor_sets_the_switch_before_onnxruntime_loads():
    """A process that predicts without the server environment (the harness's parity reference, the
    in-process reference row) still gets the switch, set before onnxruntime is imported."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["PYTHONPATH"] = str(REPO)
    script = ("import sys, os; import shared_model.predictor; "
              "print(os.environ.get('ORT_DISABLE_TELEMETRY'), 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True"]
