"""MLServer: real server over V2 REST and gRPC, parity, bad input, adaptive batching, clean stop."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from servingbench.adapter import Tunables
from servingbench.frameworks import load_adapter
from servingbench.measure.parity import eval_set, reference_predictions
from servingbench.servers.local import Server, framework_python, launched
from servingbench.servers.procs import listening_on
from tests.integration.checks import (
    PROBE,
    assert_grpc_parity_and_open_loop,
    assert_metrics_count,
    assert_parity,
    assert_rejects_bad_input,
    framework_script,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ACCEPTED = {
    # A V2 BYTES tensor of shape [0] is a well-formed request: MLServer answers it with shape-[0] outputs.
    "empty_batch": {200},
}


def grpc_infer(server: Server, texts: list[str], raw_hex: bool = False) -> dict:
    """Predict through MLServer's V2 gRPC API with the framework env's grpcio and MLServer's own stubs."""
    target = f"{server.spec.host}:{server.spec.ports['grpc']}"
    args = [target, "-", *(["--raw-bytes"] if raw_hex else [])]
    return framework_script(server.adapter, "grpc_infer.py", args, texts)


def assert_grpc_matches_http(server: Server, texts: list[str]) -> None:
    answer = grpc_infer(server, texts)
    assert answer["ready"] is True
    assert "predictions" in answer, answer
    over_grpc = answer["predictions"]
    over_http = server.predict(texts)
    assert len(over_grpc) == len(over_http) == len(texts)
    for (g_label, g_score), (h_label, h_score) in zip(over_grpc, over_http, strict=True):
        assert g_label == h_label
        assert abs(g_score - h_score) < 1e-6


def test_default_preset_over_rest_and_grpc(model_dir, tmp_path):
    adapter = load_adapter("mlserver")
    tunables = adapter.presets()["default"].tunables
    with launched(adapter, tunables, run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        assert server.time_to_ready_s < adapter.ready_timeout_s
        assert len(server.tree.refresh()) >= 2, "parallel_workers=1 runs the model in a worker process"
        assert_parity(server, model_dir)
        assert assert_metrics_count(server).request_ms > 0
        seen = assert_rejects_bad_input(server, model_dir, ACCEPTED)
        # FastAPI validates the body before MLServer: unparsable JSON (invalid UTF-8 included) is a 422.
        assert seen["malformed_json"] == 422 and seen["invalid_utf8"] == 422
        assert seen["one_mb_text"] == 413  # refused by the glue (sentiment_model.MAX_TEXT_BYTES)

        texts = [text for text, _ in eval_set()[:24]] + [PROBE]
        assert_grpc_matches_http(server, texts)
        # gRPC carries BYTES as raw bytes: invalid UTF-8 gets past the transport and the glue refuses it.
        bad = grpc_infer(server, [b"bad \xff\xfe bytes".hex()], raw_hex=True)
        assert bad["error"]["code"] == "INVALID_ARGUMENT", bad
        assert grpc_infer(server, [])["predictions"] == []
        assert server.predict([PROBE])[0][0] == reference_predictions(model_dir, [PROBE])[0][0]
        assert_grpc_parity_and_open_loop(server, model_dir, tmp_path)  # PROTOCOL=grpc: the harness's codec

        ports = list(server.spec.ports.values())
        assert set(server.spec.ports) == {"http", "grpc", "metrics"}
    assert server.stop_report["left_running"] == [] and server.stop_report["left_listening"] == []
    assert listening_on(ports) == []


def test_tuned_preset_batches_correctly(model_dir, tmp_path):
    adapter = load_adapter("mlserver")
    tunables = adapter.presets()["tuned"].tunables
    assert tunables.batching
    with launched(adapter, tunables, run_dir=tmp_path / "srv", model_dir=model_dir) as server:
        assert_parity(server, model_dir)  # 4 requests in flight: adaptive batching merges and splits them
        # Requests of different sizes batched together must each get their own answers back, in order.
        texts = [text for text, _ in eval_set()[:40]]
        reference = reference_predictions(model_dir, texts)
        chunks = [(i, texts[i:i + n]) for i, n in zip(range(0, 40, 5), [1, 2, 3, 5, 1, 4, 2, 5], strict=True)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda chunk: (chunk[0], server.predict(chunk[1])), chunks))
        for start, answer in answers:
            for k, (label, score) in enumerate(answer):
                assert label == reference[start + k][0]
                assert abs(score - reference[start + k][1]) < 1e-4
        assert_grpc_matches_http(server, texts[:8])
        ports = list(server.spec.ports.values())
    assert server.stop_report["left_running"] == [] and server.stop_report["left_listening"] == []
    assert listening_on(ports) == []


SETTINGS_AS_MLSERVER_READS_THEM = """
import asyncio, json, sys
from mlserver.cli.serve import load_settings
settings, models = asyncio.run(load_settings(sys.argv[1]))
print(json.dumps({"parallel_workers": settings.parallel_workers, "host": settings.host,
                  "models": [[m.name, m.max_batch_size, m.max_batch_time] for m in models]}))
"""


@pytest.mark.parametrize("tunables", [
    Tunables(workers=1), Tunables(workers=0, max_batch_size=8, max_batch_delay_ms=2.0),
    Tunables(workers=2, max_batch_size=16, max_batch_delay_ms=5.0),
], ids=["default", "tuned", "other"])
def test_the_images_settings_take_the_container_environment(tunables):
    """MLServer's own settings loader, on the image's docker/ folder, with docker mode's environment:
    the tunables arrive (the settings files leave them unset; a value there would win)."""
    adapter = load_adapter("mlserver")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME", "MLSERVER"))}
    env.update(adapter.container_env(tunables), PYTHONPATH=str(adapter.server_dir))
    image_config = adapter.folder / "docker"
    argv = [str(framework_python(adapter)), "-c", SETTINGS_AS_MLSERVER_READS_THEM, str(image_config)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout)
    size, seconds = adapter.batching(tunables)
    assert loaded == {"parallel_workers": tunables.workers, "host": "0.0.0.0",
                      "models": [["sentiment", size, seconds]]}
