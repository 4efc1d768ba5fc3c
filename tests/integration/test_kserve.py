"""KServe: real ModelServer, V2 parity (one and two workers), the five bad inputs, V1, clean stop."""

from __future__ import annotations

import pytest

from servingbench.adapter import HttpRequest, Tunables
from servingbench.codecs.rest import json_body
from servingbench.frameworks import load_adapter
from servingbench.servers.local import launched
from servingbench.servers.procs import listening_on, listening_ports
from tests.integration.checks import PROBE, assert_metrics_count, assert_parity, assert_rejects_bad_input

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _listeners(server) -> list[tuple[str, int]]:
    return listening_ports([p.pid for p in server.tree.refresh()])


def test_default_preset_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("kserve")
    run_dir = tmp_path / "srv"
    default = adapter.presets()["default"].tunables
    with launched(adapter, default, run_dir=run_dir, model_dir=model_dir) as server:
        assert server.time_to_ready_s < 60
        # HTTP alone, on loopback: KServe's hard-coded 0.0.0.0 rewritten, its gRPC server ([::]) off.
        assert _listeners(server) == [("127.0.0.1", server.spec.ports["http"])]
        assert server.exposed == []
        assert_parity(server, model_dir)
        compute_ms = assert_metrics_count(server).compute_ms  # predict() calls counted one per request
        assert compute_ms is not None and 0 < compute_ms < 1000
        seen = assert_rejects_bad_input(server, model_dir, {"empty_batch": {200}})
        assert seen["malformed_json"] == seen["wrong_schema"] == 422
        assert seen["invalid_utf8"] == 400 and seen["one_mb_text"] == 400
        status, body = server.send(HttpRequest("POST", "/v1/models/sentiment:predict",
                                               json_body({"instances": [PROBE]})))
        assert status == 200 and b'"label":"positive"' in body.replace(b" ", b"")
        status, _ = server.send(adapter.encode([1, 2]))  # type: ignore[list-item]
        assert 400 <= status < 500
    assert server.stop_report["left_running"] == [] and listening_on([server.spec.ports["http"]]) == []
    log = (run_dir / "server.log").read_text()
    assert "uvicorn.access" not in log and "kserve.trace" not in log, "per-request log lines are off"


def test_two_workers_load_the_model_each_and_keep_parity(model_dir, tmp_path):
    adapter = load_adapter("kserve")
    with launched(adapter, Tunables(workers=2), run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        assert_parity(server, model_dir)  # requests in parallel: both worker processes answer
        assert len(server.tree.refresh()) >= 3  # parent, two spawned uvicorn workers (and a tracker)
        assert all(ip == "127.0.0.1" for ip, _ in _listeners(server)) and server.exposed == []
    assert server.stop_report["left_running"] == []


def test_validate_refuses_batching():
    with pytest.raises(ValueError, match="no server-side batching"):
        load_adapter("kserve").validate(Tunables(max_batch_size=8, max_batch_delay_ms=2.0))
