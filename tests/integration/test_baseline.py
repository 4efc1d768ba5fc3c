"""The no-framework baseline: real uvicorn server, parity, bad input, clean stop, launch errors."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from servingbench.adapter import Tunables
from servingbench.frameworks import load_adapter
from servingbench.servers.local import LaunchError, PortInUse, ServerDied, launched
from servingbench.servers.procs import listening_on
from tests.integration.checks import assert_metrics_count, assert_parity, assert_rejects_bad_input

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("baseline")
    with launched(adapter, Tunables(), run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        assert server.time_to_ready_s < 60
        assert_parity(server, model_dir)
        seen = assert_rejects_bad_input(server, model_dir, {"empty_batch": {200}})
        assert seen["one_mb_text"] == 413 and seen["invalid_utf8"] == 400
        assert assert_metrics_count(server) is None  # exposes nothing, and says so
        ports = list(server.spec.ports.values())
        pid = server.pid
        assert server.exposed == [] and server.launch_record()["exposed_listeners"] == []  # loopback only
    assert server.stop_report["left_running"] == [] and listening_on(ports) == []
    assert not (tmp_path / "srv").joinpath("does-not-exist").exists()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_port_in_use_names_the_holder(model_dir, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} is already in use"), launched(
            load_adapter("baseline"), Tunables(), run_dir=tmp_path, model_dir=model_dir, http_port=port
        ):
            pass


def test_crash_during_start_shows_log_tail(tmp_path):
    empty_model = tmp_path / "no-model"
    empty_model.mkdir()
    with pytest.raises(ServerDied) as info, launched(
        load_adapter("baseline"), Tunables(), run_dir=tmp_path / "srv", model_dir=empty_model
    ):
        pass
    message = str(info.value)
    assert "exited with code" in message and "Last lines of" in message
    assert "model" in message.split("Last lines of", 1)[1].lower()


def test_never_ready_times_out_with_log_tail(model_dir, tmp_path):
    adapter = load_adapter("baseline")
    stuck = type(adapter)()
    stuck.ready_timeout_s = 4.0
    probe = stuck.readiness_request()
    stuck.readiness_request = lambda: replace(probe, path="/no-such-route")  # the model never "answers"
    with pytest.raises(LaunchError, match="did not become ready within 4 s") as info, launched(
        stuck, Tunables(), run_dir=tmp_path / "srv", model_dir=model_dir
    ):
        pass
    assert "Last lines of" in str(info.value)


def test_int8_variant_passes_its_own_parity_and_not_fp32s(model_dir, tmp_path):
    """The int8 model served unchanged: it matches the int8 predictor (each text alone, one request at a
    time, as the gate runs it), and the fp32 reference would reject it (the gate can fail)."""
    from servingbench.envs.model_cache import ensure_variant
    from servingbench.measure.parity import check_parity, eval_set, reference_predictions
    from servingbench.measure.variants import batch_dependent

    int8 = ensure_variant(model_dir, "int8")
    assert batch_dependent(int8) and not batch_dependent(model_dir)
    items = eval_set()
    texts = [t for t, _ in items]
    with launched(load_adapter("baseline"), Tunables(), run_dir=tmp_path / "srv", model_dir=int8) as server:
        own = check_parity(server.predict, reference_predictions(int8, texts, each_alone=True), items,
                           concurrency=1)
        fp32 = check_parity(server.predict, reference_predictions(model_dir, texts), items, concurrency=1)
    assert own.passed and own.max_score_diff < 1e-5, own.failures[:3]
    assert not fp32.passed and fp32.max_score_diff > 1e-2
