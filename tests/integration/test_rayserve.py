"""Ray Serve: the real one-node Ray cluster, parity, bad input, clean stop, nothing written outside."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from servingbench.frameworks import load_adapter
from servingbench.servers.local import launched
from servingbench.servers.procs import listening_on
from tests.integration.checks import assert_metrics_count, assert_parity, assert_rejects_bad_input

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (an exited child of an exited parent waits for init to reap it)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _ray_traces() -> set[str]:
    """Places Ray writes to when it is not told otherwise."""
    home = Path.home()
    return {str(p) for p in (Path("/tmp/ray"), home / ".ray") if p.exists()} | {
        str(p) for p in Path("/tmp").glob("sbray-*")
    }


def test_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("rayserve")
    before = _ray_traces()
    # Batching on: the deployment with @serve.batch is the longer code path (the tuned preset).
    tunables = adapter.presets()["tuned"].tunables
    run_dir = tmp_path / "srv"  # long pytest path: Ray's sockets must fall back to a short folder
    with launched(adapter, tunables, run_dir=run_dir, model_dir=model_dir) as server:
        assert server.time_to_ready_s < 60
        assert_parity(server, model_dir)
        assert assert_metrics_count(server).request_ms > 0  # the agent publishes late: polled
        seen = assert_rejects_bad_input(server, model_dir, {"empty_batch": {200}})
        assert seen["one_mb_text"] == 413
        assert seen["invalid_utf8"] == seen["malformed_json"] == seen["wrong_schema"] == 400
        status, body = server.send(adapter.encode(["fine", 3]))  # type: ignore[list-item]
        assert status == 400 and b"error" in body
        assert len(server.predict(["good", "bad", "ugly"])) == 3
        ports = list(server.spec.ports.values())
        pid = server.pid
        members = [p.pid for p in server.tree.refresh()]
        assert len(members) >= 10, "expected a whole Ray node under the server"
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []
    assert server.stop_report["needed_sigkill"] == [], server.stop_report
    survivors = [p for p in server.tree.known.values() if _alive(p)]
    assert survivors == [], f"still running after stop: {survivors}"
    assert server.proc.poll() is not None and pid not in {p.pid for p in survivors}
    assert _ray_traces() <= before, "Ray wrote outside the run folder"
    assert any((run_dir / "ray").glob("session_*/logs")), "Ray's logs belong in the run folder"
