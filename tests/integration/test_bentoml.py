"""BentoML: real `bentoml serve` server, parity (default and batched), bad input, clean stop."""

from __future__ import annotations

import pytest

from servingbench.adapter import Tunables
from servingbench.frameworks import load_adapter
from servingbench.servers.local import ServerDied, launched
from servingbench.servers.procs import listening_on, listening_ports
from tests.integration.checks import PROBE, assert_metrics_count, assert_parity, assert_rejects_bad_input

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _tree_ports(server) -> list[int]:
    """Every port the server's processes listen on: the API port and the supervisor's two ZeroMQ ports."""
    pids = [p.pid for p in server.tree.refresh()]
    return sorted({port for _, port in listening_ports(pids)})


def test_default_preset_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("bentoml")
    run_dir = tmp_path / "srv"
    tunables = adapter.presets()["default"].tunables
    with launched(adapter, tunables, run_dir=run_dir, model_dir=model_dir) as server:
        assert server.time_to_ready_s < 90
        ports = _tree_ports(server)
        # The API port, plus the supervisor's ZeroMQ control and pub/sub endpoints (random, not settable).
        assert server.spec.ports["http"] in ports and len(ports) == 3
        assert all(ip == "127.0.0.1" for ip, _ in listening_ports([p.pid for p in server.tree.refresh()]))
        assert_parity(server, model_dir)
        assert assert_metrics_count(server).request_ms > 0
        # BentoML answers an empty list with an empty list (200): the API is a list -> list function.
        seen = assert_rejects_bad_input(server, model_dir, {"empty_batch": {200}})
        # pydantic validation of the API signature: 400 for each, the 1 MB text by its max_length.
        for case in ("malformed_json", "wrong_schema", "invalid_utf8", "one_mb_text"):
            assert seen[case] == 400, (case, seen[case])
        status, _ = server.send(adapter.encode([1, 2]))  # type: ignore[list-item]
        assert status == 400
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []
    # BentoML's home (stores, Prometheus multiprocess files) stays inside the run folder.
    assert (run_dir / "bentoml_home" / "prometheus_multiproc_dir").is_dir()


def test_tuned_preset_batches_and_keeps_parity(model_dir, tmp_path):
    adapter = load_adapter("bentoml")
    tunables = adapter.presets()["tuned"].tunables
    assert tunables.batching
    with launched(adapter, tunables, run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        ports = _tree_ports(server)
        assert_parity(server, model_dir)
        # A request larger than max_batch_size is split by BentoML's dispatcher and joined back.
        texts = [f"{PROBE} ({i})" for i in range(tunables.max_batch_size * 2 + 3)]
        assert len(server.predict(texts)) == len(texts)
        assert server.predict([]) == []
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []


def test_validate_rejects_a_latency_budget_without_batching():
    adapter = load_adapter("bentoml")
    with pytest.raises(ValueError, match="max_latency_ms"):
        adapter.validate(Tunables(max_batch_delay_ms=10))
    adapter.validate(Tunables(max_batch_size=8, max_batch_delay_ms=500))


def test_a_model_that_fails_to_load_ends_the_server(tmp_path):
    """BENTOML_CONTAINERIZED=true: no respawn loop, so the launcher sees the exit instead of a timeout."""
    empty_model = tmp_path / "no-model"
    empty_model.mkdir()
    run_dir = tmp_path / "srv"
    with pytest.raises(ServerDied, match="exited with code"), launched(
        load_adapter("bentoml"), Tunables(), run_dir=run_dir, model_dir=empty_model
    ):
        pass
    assert "lacks model.onnx" in (run_dir / "server.log").read_text()
