"""Seldon Core v1 wrapper: real server, parity, bad input, loopback only, clean stop; the tuned preset too."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from servingbench.adapter import HttpRequest
from servingbench.frameworks import load_adapter
from servingbench.servers.local import launched
from servingbench.servers.procs import listening_on
from tests.integration.checks import assert_metrics_count, assert_parity, assert_rejects_bad_input

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ACCEPTED = {
    # The Seldon protocol has no notion of an empty batch being an error: {"data": {"ndarray": []}}
    # is answered 200 with {"data": {"names": [], "ndarray": []}} (no predictions), like the baseline.
    "empty_batch": {200},
}


def assert_loopback_only(server) -> None:
    listeners = listening_on(list(server.spec.ports.values()))
    assert listeners, "the server should be listening"
    for line in listeners:  # e.g. "port 123 on 127.0.0.1 (pid 9)" or "... on ::ffff:127.0.0.1 ..."
        assert "127.0.0.1" in line, line


def test_default_preset_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("seldon")
    with launched(
        adapter, adapter.presets()["default"].tunables, run_dir=tmp_path / "srv", model_dir=model_dir
    ) as server:
        assert server.time_to_ready_s < 60
        assert len(server.tree.refresh()) == 7  # the wrapper's stock process layout, gRPC included
        assert_loopback_only(server)
        assert_parity(server, model_dir)
        assert assert_metrics_count(server) is None  # the v1 wrapper exposes no request metrics
        seen = assert_rejects_bad_input(server, model_dir, ACCEPTED)
        assert seen["one_mb_text"] == 413 and seen["invalid_utf8"] == 400
        assert seen["malformed_json"] == 400 and seen["wrong_schema"] == 400
        status, _ = server.send(HttpRequest("GET", "/no-such-path", b""))
        assert status == 404  # the wrapper alone would answer 500
        ports = list(server.spec.ports.values())
        pid = server.pid
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_tuned_preset_passes_parity(model_dir, tmp_path):
    adapter = load_adapter("seldon")
    tuned = adapter.presets()["tuned"].tunables
    with launched(adapter, tuned, run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        assert len(server.tree.refresh()) == 5  # GRPC_WORKERS=0: no gRPC launcher, no gRPC worker
        assert_loopback_only(server)
        assert_parity(server, model_dir)
        ports = list(server.spec.ports.values())
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []


def test_batching_is_refused_with_a_reason():
    adapter = load_adapter("seldon")
    tuned = adapter.presets()["tuned"].tunables
    with pytest.raises(ValueError, match="no adaptive batching"):
        adapter.validate(replace(tuned, max_batch_size=8))
