"""MLServer (Seldon): the shared model as a custom MLModel runtime, served over Open Inference Protocol V2."""

from __future__ import annotations

import json
from pathlib import Path

from servingbench.adapter import (
    Adapter,
    LaunchSpec,
    MetricsSpec,
    Preset,
    ServerCommand,
    Tunables,
)
from servingbench.codecs.grpc import v2_grpc_service
from servingbench.codecs.rest import OpenInferenceV2Codec

MODEL = "sentiment"
CODEC = OpenInferenceV2Codec(MODEL)
"""V2 with texts as a BYTES tensor of shape [n] (server/sentiment_model.py also takes [n, 1])."""
IMAGE_COMMAND = ["mlserver", "start", "/app/frameworks/mlserver/docker"]
"""The Dockerfile's CMD: docker/settings.json and docker/sentiment/model-settings.json leave the tunables
unset, so MLServer takes them from its environment (container_env)."""


class MLServerAdapter(Adapter):
    name = "mlserver"
    display_name = "MLServer"
    protocol = f"Open Inference Protocol V2 (REST; gRPC on its own port): {CODEC.describe()}"
    codec = CODEC
    package = "mlserver"
    port_names = ("http", "grpc", "metrics")
    grpc = v2_grpc_service(MODEL)
    metrics = MetricsSpec(
        port="metrics", requests='model_infer_request_success_total{model="sentiment"}',
        request_time=('rest_server_request_duration_seconds_sum'
                      '{path="/v2/models/{model_name}/infer",status_code="200"}'),
        note="MLServer's metrics port: successful inferences and the REST request time; its batch queue is "
             "a histogram of queue lengths, not of batch sizes, so no achieved batch size",
    )
    metrics_switch = "settings.json metrics_endpoint: null (MLServer's own switch)"
    ready_timeout_s = 120.0
    min_workers = 0
    """workers=0 is MLServer's own parallel_workers=0: inference in the main process."""
    stop_timeout_s = 15.0
    notes = (
        "workers maps 1:1 onto MLServer's parallel_workers: workers=N spawns N inference worker processes "
        "behind the main (HTTP/gRPC) process; workers=0, accepted only by this adapter, runs inference in "
        "the main process (parallel_workers=0). Adaptive batching runs in the main process before dispatch: "
        "a lone request waits the whole max_batch_time, and one invalid request fails every request batched "
        "with it (a bare-string 'data' even fails the whole queue with 500). Texts over 256 KiB get 413. "
        "debug=false (MLServer's default true logs every request and at DEBUG level). "
        "The gRPC (V2) and Prometheus metrics ports are open too, bound to 127.0.0.1."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(workers=1),
                "MLServer's defaults: parallel_workers=1 (one inference worker process behind the main "
                "process), adaptive batching off",
            ),
            "tuned": Preset(
                Tunables(workers=0, max_batch_size=8, max_batch_delay_ms=2.0),
                "one CPU: inference in the main process (parallel_workers=0) saves the IPC hop and a "
                "second process contending for the CPU; adaptive batching 8 / 2 ms. Measured on CPU 0 of "
                "a loaded 2-core machine (load 12-20, two rounds, 6 s steps): workers 0 vs 1 without "
                "batching about 1.5x the throughput at 4-16 clients; batching 8/2ms, 4/1ms and 16/5ms "
                "about 1.3-2x more at 4-16 clients, within noise of each other; 16/5ms costs a lone "
                "request 5 ms",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if tunables.batching and tunables.max_batch_delay_ms <= 0:
            raise ValueError(
                "mlserver: adaptive batching needs max_batch_delay_ms > 0 "
                "(MLServer silently turns batching off when max_batch_time is 0)"
            )

    # -- lifecycle ------------------------------------------------------------------------------
    def settings(self, spec: LaunchSpec) -> dict:
        run = spec.run_dir
        return {
            "debug": False,
            "host": spec.host,
            "http_port": spec.ports["http"],
            "grpc_port": spec.ports["grpc"],
            "metrics_port": spec.ports["metrics"],
            "parallel_workers": spec.tunables.workers,
            "metrics_dir": str(run / "metrics"),
            "environments_dir": str(run / "envs"),
            "model_repository_root": str(run / "models"),
            "load_models_at_startup": True,
            **({} if spec.server_metrics else {"metrics_endpoint": None}),
        }

    @staticmethod
    def batching(tunables: Tunables) -> tuple[int, float]:
        """MLServer's (max_batch_size, max_batch_time in s); (0, 0.0) is MLServer's own "no batching"."""
        t = tunables
        return (t.max_batch_size, t.max_batch_delay_ms / 1000.0) if t.batching else (0, 0.0)

    def model_settings(self, spec: LaunchSpec) -> dict:
        size, seconds = self.batching(spec.tunables)
        return {
            "name": MODEL,
            "implementation": "sentiment_model.SentimentModel",
            "max_batch_size": size,
            "max_batch_time": seconds,
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
            "outputs": [
                {"name": "label", "datatype": "BYTES", "shape": [-1]},
                {"name": "score", "datatype": "FP32", "shape": [-1]},
            ],
        }

    def prepare(self, spec: LaunchSpec, python: Path) -> None:
        root = spec.run_dir / "models"
        (root / MODEL).mkdir(parents=True, exist_ok=True)
        for folder in ("metrics", "envs", "home"):
            (spec.run_dir / folder).mkdir(exist_ok=True)
        files = {root / "settings.json": self.settings(spec), root / MODEL / "model-settings.json":
                 self.model_settings(spec)}
        for path, content in files.items():
            path.write_text(json.dumps(content, indent=2) + "\n")

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        # The console script, not `python -m mlserver.cli.main` (runpy warns, in every worker too).
        argv = [str(python.parent / "mlserver"), "start", str(spec.run_dir / "models")]
        # HOME inside the run folder: nothing the server or its libraries write lands outside it.
        return ServerCommand(argv, env={"HOME": str(spec.run_dir / "home")}, cwd=spec.run_dir)

    # -- in its image ----------------------------------------------------------------------------
    def container_command(self, tunables: Tunables) -> list[str]:
        return list(IMAGE_COMMAND)

    def container_env(self, tunables: Tunables) -> dict[str, str]:
        """MLServer's own settings variables: read where settings.json / model-settings.json are silent."""
        size, seconds = self.batching(tunables)
        return {
            "MLSERVER_PARALLEL_WORKERS": str(tunables.workers),
            "MLSERVER_MODEL_MAX_BATCH_SIZE": str(size),
            "MLSERVER_MODEL_MAX_BATCH_TIME": str(seconds),
        }


ADAPTER = MLServerAdapter()
