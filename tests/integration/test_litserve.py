"""LitServe: real LitServer, parity (default and batched), the five bad inputs, clean stop of the group."""

from __future__ import annotations

import pytest

from servingbench.adapter import HttpRequest, Tunables
from servingbench.frameworks import load_adapter
from servingbench.servers.local import launched
from servingbench.servers.procs import listening_on, listening_ports
from tests.integration.checks import PROBE, assert_metrics_count, assert_parity, assert_rejects_bad_input

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_default_preset_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("litserve")
    run_dir = tmp_path / "srv"
    default = adapter.presets()["default"].tunables
    with launched(adapter, default, run_dir=run_dir, model_dir=model_dir) as server:
        assert server.time_to_ready_s < 60
        members = server.tree.refresh()
        # main process, Manager, one inference worker, one uvicorn API server (and its resource tracker)
        assert len(members) >= 4, [p.cmdline() for p in members]
        listeners = listening_ports([p.pid for p in members])
        assert {port for _, port in listeners} == {server.spec.ports["http"]}
        assert server.exposed == [] and all(ip == "127.0.0.1" for ip, _ in listeners)
        assert_parity(server, model_dir)
        assert assert_metrics_count(server) is None  # a stock LitServer mounts no /metrics
        status, _ = server.send(HttpRequest("GET", "/metrics", b""))
        assert status == 404
        seen = assert_rejects_bad_input(server, model_dir, {"empty_batch": {200}})
        # FastAPI validates the pydantic request model the glue declares (LitServe's typed decode_request).
        assert {seen[c] for c in ("malformed_json", "wrong_schema", "one_mb_text")} == {422}
        assert seen["invalid_utf8"] == 400
        status, _ = server.send(adapter.encode([1, 2]))  # type: ignore[list-item]
        assert status == 422
        pids = [p.pid for p in members]
    assert server.stop_report["left_running"] == [] and listening_on([server.spec.ports["http"]]) == []
    assert not any(_alive(pid) for pid in pids), "the whole group stopped, workers included"
    assert not (run_dir / "client.py").exists(), "generate_client_file=False"


def test_batched_workers_keep_parity(model_dir, tmp_path):
    adapter = load_adapter("litserve")
    tunables = Tunables(workers=2, max_batch_size=8, max_batch_delay_ms=2.0)
    with launched(adapter, tunables, run_dir=tmp_path / "srv", model_dir=model_dir, cpus=(0,)) as server:
        assert_parity(server, model_dir)  # a few requests at a time: they share batches
        texts = [f"{PROBE} ({i})" for i in range(11)]  # one request with more texts than max_batch_size
        assert len(server.predict(texts)) == len(texts)
        assert server.predict([]) == []
    assert server.stop_report["left_running"] == []


def test_validate_rejects_a_batch_timeout_without_batching():
    with pytest.raises(ValueError, match="needs max_batch_size > 1"):
        load_adapter("litserve").validate(Tunables(max_batch_delay_ms=5.0))


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
