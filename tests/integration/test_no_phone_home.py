"""No server phones home: every framework's server and the in-process reference under a syscall trace.

Each one runs under `strace -f` (every process and thread of its tree) through its start, the parity gate
and 15 s idle, and must make no connection or send to an address off this machine's loopback, and no DNS
query (tests/syscall_trace.py says what counts). ONNX Runtime 1.30-1.32 sends a DNS query for a Microsoft
telemetry host about 9 s after import unless ORT_DISABLE_TELEMETRY=1 (servers/environment.py for every
server; shared_model/predictor.py for the harness's own processes): this test is what holds that line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servingbench.adapter import Adapter, LaunchSpec, ServerCommand
from servingbench.envs import REPO
from servingbench.frameworks import available, load_adapter
from servingbench.servers.local import launched
from tests.integration.checks import assert_parity
from tests.syscall_trace import executed, phoning_home, strace_argv

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("strace") is None, reason="strace is missing: "
                                 "scripts/install-system-deps.sh installs it")]

IDLE_S = 15.0
"""Idle after the parity gate: ONNX Runtime's telemetry query came about 9 s after import."""
REFERENCE = "reference"


def traced(adapter: Adapter, log: Path) -> Adapter:
    """The same adapter, its server started under strace (the launcher's group, stop and checks unchanged)."""
    base = type(adapter)

    class Traced(base):  # type: ignore[misc, valid-type]
        @property
        def folder(self) -> Path:
            return adapter.folder

        def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
            command = base.command(self, spec, python)
            command.argv = [*strace_argv(log), *command.argv]
            return command

    return Traced()


def trace_server(name: str, model_dir: Path, tmp_path: Path, log: Path) -> None:
    adapter = traced(load_adapter(name), log)
    default = adapter.presets()["default"].tunables
    with launched(adapter, default, run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        assert_parity(server, model_dir)
        time.sleep(IDLE_S)
        assert server.exited() is None, server.log_tail()


REFERENCE_CODE = f"""
import sys, time
from pathlib import Path
from servingbench.measure.parity import eval_set, reference_predictions
from servingbench.measure.reference import measure
model = Path(sys.argv[1])
reference_predictions(model, [t for t, _ in eval_set()])  # what the parity gate compares against
measure(model, threads=1, seconds=2.0)  # the "no serving" row
time.sleep({IDLE_S})
"""


def trace_reference(model_dir: Path, log: Path) -> None:
    """The harness's own predicting processes, with nothing set in their environment beforehand."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    argv = [*strace_argv(log), sys.executable, "-c", REFERENCE_CODE, str(model_dir)]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("name", [*available(), REFERENCE])
def test_nothing_phones_home(name, model_dir, tmp_path):
    log = tmp_path / "strace.txt"
    if name == REFERENCE:
        trace_reference(model_dir, log)
    else:
        trace_server(name, model_dir, tmp_path, log)
    text = log.read_text(errors="replace")
    assert executed(text), "the trace saw no program start: it did not trace the server"
    leaks = phoning_home(text)
    assert leaks == [], f"{name} reached beyond loopback:\n" + "\n".join(map(str, leaks[:20]))
