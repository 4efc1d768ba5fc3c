"""TorchServe: real server (Java frontend + Python worker), parity, bad input, batching, clean stop."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import pytest

from servingbench.frameworks import load_adapter
from servingbench.measure.parity import reference_predictions
from servingbench.servers.local import framework_python, launched
from servingbench.servers.procs import listening_on
from tests.integration.checks import (
    assert_grpc_parity_and_open_loop,
    assert_metrics_count,
    assert_parity,
    assert_rejects_bad_input,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _assert_nothing_left(server, run_dir) -> None:
    assert server.stop_report["left_running"] == [], server.stop_report
    assert server.stop_report["needed_sigkill"] == [], server.stop_report
    assert listening_on(server.spec.ports.values()) == []
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    # the CLI's pid file, the extracted .mar and the worker sockets stayed in the run folder
    assert (run_dir / "tmp" / ".model_server.pid").exists()
    assert (run_dir / "logs" / "ts_log.log").exists()


def test_default_serves_the_model_and_survives_bad_input(model_dir, tmp_path):
    adapter = load_adapter("torchserve")
    run_dir = tmp_path / "srv"
    default = adapter.presets()["default"].tunables
    with launched(adapter, default, run_dir=run_dir, model_dir=model_dir) as server:
        assert server.time_to_ready_s < adapter.ready_timeout_s
        assert set(server.spec.ports) == set(adapter.port_names)
        assert_parity(server, model_dir)
        assert assert_metrics_count(server).queue_ms is not None  # prometheus mode: counter and queue time
        seen = assert_rejects_bad_input(
            server,
            model_dir,
            # An empty list of texts is a valid request: the predictor maps [] to [], so 200 with [].
            {"empty_batch": {200}},
        )
        # 413 comes from TorchServe's own frontend (max_request_size); the others from the handler.
        assert seen["one_mb_text"] == 413
        assert seen["invalid_utf8"] == seen["malformed_json"] == seen["wrong_schema"] == 400
        # Several texts in one request still come back in order.
        texts = ["I loved it, wonderful.", "Dreadful, boring and far too long."]
        answers = server.predict(texts)
        expected = reference_predictions(model_dir, texts)
        assert [label for label, _ in answers] == [label for label, _ in expected]
        assert all(abs(a[1] - e[1]) < 1e-4 for a, e in zip(answers, expected, strict=True))
        assert_readiness_reads_the_management_api(adapter, server)
        assert_grpc_parity_and_open_loop(server, model_dir, tmp_path)  # PROTOCOL=grpc: its inference API
    _assert_nothing_left(server, run_dir)


def test_grpc_proto_is_the_installed_torchserves():
    """frameworks/torchserve/proto/inference.proto is byte for byte the one inside the installed
    torchserve's frontend jar (the service the harness's gRPC codec speaks)."""
    import zipfile

    adapter = load_adapter("torchserve")
    site = framework_python(adapter).parent.parent / "lib"
    (jar,) = site.glob("python3*/site-packages/ts/frontend/model-server.jar")
    with zipfile.ZipFile(jar) as archive:
        shipped = archive.read("proto/inference.proto")
    assert (adapter.folder / "proto" / "inference.proto").read_bytes() == shipped


def assert_readiness_reads_the_management_api(adapter, server) -> None:
    """check_ready with the launch spec asks the real management API for the spec's workers: ready with
    the one configured, not with a spec that asks for one more than is running."""
    status, body = server.send(adapter.readiness_request())
    assert adapter.check_ready(status, body, server.spec) is True
    spec = server.spec
    ready_workers = sys.modules[type(adapter).__module__].ready_workers  # frameworks/torchserve/adapter.py
    assert ready_workers(spec.host, spec.ports["management"]) == spec.tunables.workers
    more = replace(spec, tunables=replace(spec.tunables, workers=spec.tunables.workers + 1))
    assert adapter.check_ready(status, body, more) is False
    assert adapter.check_ready(status, body) is True, "no spec (a remote target): the prediction decides"


def test_tuned_batching_keeps_parity(model_dir, tmp_path):
    adapter = load_adapter("torchserve")
    tuned = adapter.presets()["tuned"].tunables
    assert tuned.batching
    run_dir = tmp_path / "tuned"
    with launched(adapter, tuned, run_dir=run_dir, model_dir=model_dir) as server:
        assert_parity(server, model_dir)  # 4 concurrent requests: the frontend batches them
        config = (run_dir / "config.properties").read_text()
        assert f'"batchSize": {tuned.max_batch_size}' in config
    # Batches really formed: the worker logs one line per batch, the frontend one per request.
    batches = (run_dir / "logs" / "model_log.log").read_text().count("Backend received inference")
    requests = (run_dir / "logs" / "access_log.log").read_text().count('"POST /predictions/m')
    assert 0 < batches < requests, (batches, requests)
    _assert_nothing_left(server, run_dir)


def test_validate_refuses_what_torchserve_cannot_do():
    from servingbench.adapter import Tunables

    adapter = load_adapter("torchserve")
    with pytest.raises(ValueError, match="1 ms"):
        adapter.validate(Tunables(max_batch_size=8, max_batch_delay_ms=0))
    with pytest.raises(ValueError, match="whole number"):
        adapter.validate(Tunables(max_batch_size=8, max_batch_delay_ms=2.5))


def test_incomplete_model_folder_fails_before_start(tmp_path):
    adapter = load_adapter("torchserve")
    empty = tmp_path / "no-model"
    empty.mkdir()
    # TorchServe would restart a worker that cannot load the model forever: refuse up front instead.
    with pytest.raises(FileNotFoundError, match=r"lacks model\.onnx"), launched(
        adapter, adapter.presets()["default"].tunables, run_dir=tmp_path / "srv", model_dir=empty
    ):
        pass
    assert not (tmp_path / "srv" / "server.log").exists()
