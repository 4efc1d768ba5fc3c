"""Triton through PyTriton: real tritonserver, parity over HTTP, tritonclient over HTTP and gRPC,
bad input, clean stop (no process, port, workspace or shared-memory segment left)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from servingbench.adapter import Tunables
from servingbench.envs import REPO
from servingbench.frameworks import load_adapter
from servingbench.measure.parity import eval_set, reference_predictions
from servingbench.servers.local import framework_python, free_port, launched
from servingbench.servers.procs import listening_on
from tests.integration.checks import (
    assert_grpc_parity_and_open_loop,
    assert_metrics_count,
    assert_parity,
    assert_rejects_bad_input,
    framework_script,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# What tritonserver 2.51 / PyTriton 0.7 answer, where it is not a 4xx:
ACCEPTED = {
    # tritonserver's HTTP front end reports JSON parse errors as TRITONSERVER_ERROR_INTERNAL, i.e. 500,
    # before the request reaches the model (triton-inference-server/server issue #8762, fix PR #8773 open).
    "malformed_json": {500},
    # Same front end: "Unable to parse 'inputs'" is an INTERNAL error too, so 500.
    "wrong_schema": {500},
    # The glue refuses both (text not UTF-8; text over MAX_TEXT_CHARS), but PyTriton turns every
    # exception of an inference callable into a TritonModelException (pytriton/proxy/model.py), which
    # Triton maps to 500: PyTriton has no way to answer 4xx from the model.
    "invalid_utf8": {500},
    "one_mb_text": {500},
    # An empty batch (shape [0, 1]) is refused by Triton itself with 400: no entry needed.
}


def shm_segments(pid: int) -> list[str]:
    """POSIX shared-memory segments PyTriton and the Python backend name after the server's pid."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return []
    return sorted(p.name for p in shm.iterdir() if p.name.startswith(f"pytrtion{pid}-"))


def client_predictions(adapter, server, texts: list[str], batch: int) -> dict[str, list]:
    """Run frameworks/triton/client.py (tritonclient, HTTP and gRPC) with the triton env's python."""
    ports = server.spec.ports
    return framework_script(adapter, "client.py", ["--http-port", str(ports["http"]), "--grpc-port",
                                                   str(ports["grpc"]), "--batch", str(batch)], texts)


def assert_clients_agree(adapter, server, model_dir, batch: int) -> None:
    texts = [text for text, _ in eval_set()][:40]
    reference = reference_predictions(model_dir, texts)
    answers = client_predictions(adapter, server, texts, batch)
    for protocol in ("http", "grpc"):
        served = answers[protocol]
        assert len(served) == len(texts), protocol
        for (label, score), (ref_label, ref_score) in zip(served, reference, strict=True):
            assert label == ref_label, f"{protocol}: {label} != {ref_label}"
            assert abs(score - ref_score) < 1e-4, f"{protocol}: {score} vs {ref_score}"


def assert_nothing_left(server, ports, run_dir: Path, pid: int) -> None:
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []
    assert server.stop_report["needed_sigkill"] == [], server.stop_report
    assert not (run_dir / "pytriton").exists(), "PyTriton left its workspace behind"
    assert shm_segments(pid) == [], f"shared memory left: {shm_segments(pid)}"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_default_preset_serves_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("triton")
    run_dir = tmp_path / "srv"
    tunables = adapter.presets()["default"].tunables
    with launched(adapter, tunables, run_dir=run_dir, model_dir=model_dir) as server:
        assert server.time_to_ready_s < 90
        assert server.spec.ports.keys() == {"http", "grpc", "metrics"}
        assert_parity(server, model_dir)
        scraped = assert_metrics_count(server)  # its own counters: requests, queue/compute, executions
        assert scraped.queue_ms is not None and scraped.compute_ms > 0 and scraped.batch_size == 1
        seen = assert_rejects_bad_input(server, model_dir, ACCEPTED)
        assert seen["empty_batch"] == 400
        assert_clients_agree(adapter, server, model_dir, batch=4)
        assert_grpc_parity_and_open_loop(server, model_dir, tmp_path)  # PROTOCOL=grpc: the harness's codec
        # Everything the server writes stays in the run folder: workspace, sockets, logs.
        workspace = run_dir / "pytriton"
        assert (workspace / "model-store" / "sentiment" / "config.pbtxt").is_file()
        assert list(workspace.glob("*.sock")), "PyTriton's ZeroMQ sockets belong in the workspace"
        assert (run_dir / "tritonserver.log").is_file()
        ports = list(server.spec.ports.values())
        pid = server.pid
    assert_nothing_left(server, ports, run_dir, pid)


def test_tuned_preset_batches_and_passes_parity(model_dir, tmp_path):
    adapter = load_adapter("triton")
    tunables = adapter.presets()["tuned"].tunables
    assert tunables.batching
    run_dir = tmp_path / "srv"
    with launched(adapter, tunables, run_dir=run_dir, model_dir=model_dir) as server:
        assert_parity(server, model_dir)
        assert_clients_agree(adapter, server, model_dir, batch=tunables.max_batch_size)
        config = (run_dir / "pytriton" / "model-store" / "sentiment" / "config.pbtxt").read_text()
        assert f"max_batch_size: {tunables.max_batch_size}" in config
        assert "dynamic_batching {" in config
        delay_us = round(tunables.max_batch_delay_ms * 1000)
        assert (f"max_queue_delay_microseconds: {delay_us}" in config) == (delay_us > 0)  # 0 is left out
        ports = list(server.spec.ports.values())
        pid = server.pid
    assert_nothing_left(server, ports, run_dir, pid)


def test_batch_over_max_batch_size_is_refused(model_dir, tmp_path):
    adapter = load_adapter("triton")
    tunables = Tunables(max_batch_size=2)
    with launched(adapter, tunables, run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        status, body = server.send(adapter.encode(["a", "b", "c"]))
        assert status == 400 and b"batch-size must be <= 2" in body
        assert len(server.predict(["good", "bad"])) == 2


def test_workers_above_one_are_refused():
    with pytest.raises(ValueError, match="workers must be 1"):
        load_adapter("triton").validate(Tunables(workers=2))


def test_tritonserver_failing_at_start_exits_fast(model_dir, tmp_path):
    """A taken gRPC port kills tritonserver at start: the glue exits at once, naming the error."""
    adapter = load_adapter("triton")
    run_dir = tmp_path / "srv"
    (run_dir / "tmp").mkdir(parents=True)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        grpc_port = held.getsockname()[1]
        ports = [free_port(), grpc_port, free_port()]
        argv = [str(framework_python(adapter)), "-m", "triton_app", "--http-port", str(ports[0]),
                "--grpc-port", str(grpc_port), "--metrics-port", str(ports[2]), "--run-dir", str(run_dir)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(adapter.server_dir)]),
               "SB_MODEL_DIR": str(model_dir), "SB_THREADS": "1", "TMPDIR": str(run_dir / "tmp")}
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=90)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, out[-2000:]
    assert time.monotonic() - started < 60
    assert "tritonserver exited during start" in out and "Address already in use" in out, out[-2000:]
    assert not (run_dir / "pytriton").exists()
    assert shm_segments(proc.pid) == []
