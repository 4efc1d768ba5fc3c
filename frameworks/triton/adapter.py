"""Triton Inference Server through PyTriton: the shared predictor as a Python-backend model.

nvidia-pytriton ships the real ``tritonserver`` (2.51) with its Python backend only; the ONNX Runtime
backend is not in the wheel, so the model runs in PyTriton's inference callable (the shared predictor,
in the server process) behind Triton's HTTP/gRPC front end, scheduler and dynamic batcher.
"""

from __future__ import annotations

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
CODEC = OpenInferenceV2Codec(MODEL, text_shape=(1,))
"""V2 with texts as a BYTES tensor of shape [n, 1]: the model's items are [1], the batch dimension is
required (shape [n] is a 400)."""
IMAGE_COMMAND = [
    "python", "-m", "triton_app", "--host", "0.0.0.0", "--http-port", "8000", "--grpc-port", "8001",
    "--metrics-port", "8002", "--run-dir", "/tmp/run",
]
"""The Dockerfile's CMD without the tunables (container ports and run folder)."""


class TritonAdapter(Adapter):
    name = "triton"
    display_name = "Triton (PyTriton 0.7.0, tritonserver 2.51)"
    protocol = f"Open Inference Protocol V2: {CODEC.describe()}; gRPC on the same model"
    codec = CODEC
    package = "nvidia-pytriton"
    port_names = ("http", "grpc", "metrics")
    grpc = v2_grpc_service(MODEL, text_shape=(1,))
    metrics = MetricsSpec(
        port="metrics", requests="nv_inference_request_success",
        queue_time="nv_inference_queue_duration_us", compute_time="nv_inference_compute_infer_duration_us",
        request_time="nv_inference_request_duration_us",
        time_unit_s=1e-6, batches="nv_inference_exec_count", batched_items="nv_inference_count",
        labels={"model": "sentiment"},
        note="tritonserver's metrics port: per-request cumulative queue, compute-infer and whole-request "
             "time (a request in a batch is charged its batch's compute time), executions vs inferences",
    )
    metrics_switch = "tritonserver --allow-metrics=false (PyTriton TritonConfig(allow_metrics=False))"
    # The Python-backend stub links Debian's libpython3.11; a venv from another 3.11 build (pyenv's)
    # fails model load with "'_thread.RLock' object has no attribute '_recursion_count'".
    python = "/usr/bin/python3.11"
    ready_timeout_s = 120.0
    stop_timeout_s = 20.0
    notes = (
        "Python backend only (the wheel has no ONNX Runtime backend): tritonserver's front end, scheduler "
        "and dynamic batcher hand each batch to PyTriton's proxy stub, which passes it over ZeroMQ sockets "
        "and POSIX shared memory (/dev/shm, outside the run folder; freed on stop) to the shared predictor "
        "in the PyTriton process. Six processes: PyTriton, tritonserver, the backend stub, a shared-memory "
        "block server and two multiprocessing resource trackers. One model instance (workers=1): "
        "PyTriton's instances are threads of one process and race at start. Every error the model raises "
        "is HTTP 500 (PyTriton has no 4xx path) and fails every request dynamically batched with it; "
        "tritonserver 2.51 also answers malformed JSON with 500. A request carries at most max_batch_size "
        "texts."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=4, max_batch_delay_ms=0.0),
                "PyTriton's ModelConfig() defaults: batching on, max_batch_size=4, dynamic batcher with no "
                "queue delay, one model instance",
            ),
            "tuned": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=16, max_batch_delay_ms=0.0),
                "dynamic batching up to 16 with no queue delay: on one CPU (machine loaded, 8 s closed-loop "
                "runs at 16 users) max batch 8-32 gave 36-48 req/s against 30-33 at PyTriton's default 4 "
                "and 17-22 without batching; a 1-2 ms queue delay added latency and no throughput (a lone "
                "request never waits at 0); 2 model instances failed to start (racy handshake)",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if tunables.workers != 1:
            # PyTriton model instances are threads of the one PyTriton process (one GIL), each with its
            # own backend stub; their start is racy (every instance but the first must find the first
            # one's handshake socket within a timeout: measured failing at 2 instances on a busy
            # machine). On a one-CPU budget they cannot add throughput; batching does.
            raise ValueError(
                "triton: workers must be 1 (PyTriton model instances are threads in one process and race "
                "at start); use max_batch_size for throughput and threads_per_worker for more CPUs"
            )
        if tunables.max_batch_size > 128:
            raise ValueError("triton: max_batch_size above 128 is not useful (the predictor chunks at 128)")

    @staticmethod
    def tunable_args(tunables: Tunables) -> list[str]:
        """triton_app.py's flags for the tunables (workers is always 1: see validate)."""
        return [
            "--max-batch-size", str(tunables.max_batch_size),
            "--max-queue-delay-us", str(round(tunables.max_batch_delay_ms * 1000)),
        ]

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [
            str(python), "-m", "triton_app",
            "--host", spec.host,
            "--http-port", str(spec.ports["http"]),
            "--grpc-port", str(spec.ports["grpc"]),
            "--metrics-port", str(spec.ports["metrics"]),
            "--run-dir", str(spec.run_dir),
            *self.tunable_args(spec.tunables),
            *([] if spec.server_metrics else ["--no-metrics"]),
        ]
        # PyTriton's home (default ~/.cache/pytriton) and XDG cache inside the run folder.
        env = {
            "PYTRITON_HOME": str(spec.run_dir / "pytriton-home"),
            "XDG_CACHE_HOME": str(spec.run_dir / "cache"),
        }
        return ServerCommand(argv, env=env, cwd=self.server_dir)

    def container_command(self, tunables: Tunables) -> list[str]:
        return [*IMAGE_COMMAND, *self.tunable_args(tunables)]


ADAPTER = TritonAdapter()
