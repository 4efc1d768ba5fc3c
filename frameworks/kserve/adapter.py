"""KServe: the shared model as a ``kserve.Model`` in ``kserve.ModelServer``, Open Inference Protocol V2."""

from __future__ import annotations

from pathlib import Path

from servingbench.adapter import Adapter, LaunchSpec, MetricsSpec, Preset, ServerCommand, Tunables
from servingbench.codecs.rest import OpenInferenceV2Codec

MODEL = "sentiment"
CODEC = OpenInferenceV2Codec(MODEL)
"""V2 with texts as a BYTES tensor of shape [n], the same wire format as MLServer's."""
APP = "frameworks/kserve/server/kserve_app.py"
IMAGE_COMMAND = ["python", APP, "--host", "0.0.0.0", "--http-port", "8080"]
"""The Dockerfile's CMD without the tunables (container path and KServe's default HTTP port)."""


class KServeAdapter(Adapter):
    name = "kserve"
    display_name = "KServe (ModelServer)"
    protocol = f"Open Inference Protocol V2 (REST; V1 instances too): {CODEC.describe()}"
    codec = CODEC
    package = "kserve"
    ready_timeout_s = 90.0
    stop_timeout_s = 15.0
    metrics = MetricsSpec(
        port="http",
        requests=f'request_predict_seconds_count{{model_name="{MODEL}"}}',
        compute_time=f'request_predict_seconds_sum{{model_name="{MODEL}"}}',
        note="KServe's /metrics on the inference port (prometheus_client histograms per model): each "
             "request's predict() time, the model's compute, and the count of predict calls; no queue time. "
             "With workers > 1 every uvicorn process keeps its own registry (KServe sets up no "
             "multiprocess collector) and a scrape reads whichever process answers it: the count then "
             "differs from the harness's, shown as a finding",
    )
    notes = (
        "kserve 0.21.0's Python ModelServer (FastAPI on uvicorn), the runtime behind a KServe "
        "InferenceService's custom predictor, run without Kubernetes. No in-server batcher (KServe's "
        "batcher is a Kubernetes sidecar): the tunable is workers, uvicorn processes spawned by the "
        "ModelServer, each with its own copy of the model (the ONNX Runtime session is made in each "
        "worker on its first request; with one worker it is loaded before the port opens). KServe hard-"
        "codes the HTTP bind to 0.0.0.0 and the gRPC one to [::] with no option to change them: the glue "
        "binds HTTP to 127.0.0.1 (a RESTServer subclass) and turns gRPC off (enable_grpc=False; the "
        "benchmark speaks REST). kserve.model_server parses sys.argv when imported, so the glue empties "
        "it after reading its own flags. Per-request log lines are off (uvicorn access and kserve.trace "
        "timings, three lines per request by default, which enable_latency_logging=False does not stop); "
        "enable_latency_logging=False too. Bad input: FastAPI validates the V2 body (malformed JSON and a"
        " wrong schema 422, invalid UTF-8 400); a text over 100,000 characters is refused by the glue "
        "with KServe's InvalidInput (400); an empty batch gets 200 with empty outputs. The environment "
        "pulls kubernetes, pandas and grpcio (about 570 MB)."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(Tunables(), "ModelServer's defaults: one worker (the uvicorn server in the "
                                          "main process), no batching exists in the server"),
            "tuned": Preset(Tunables(), "the defaults: not tuned on this machine yet (`make tune "
                                        "FRAMEWORK=kserve`); workers is the only knob"),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if tunables.batching or tunables.max_batch_delay_ms:
            raise ValueError("kserve: the ModelServer has no server-side batching (KServe's batcher is a "
                             "Kubernetes sidecar): use max_batch_size=1 and no batch delay")

    @staticmethod
    def tunable_args(tunables: Tunables) -> list[str]:
        """kserve_args.py's flags for the tunables (threads reach the predictor through SB_THREADS)."""
        return ["--workers", str(tunables.workers)]

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [str(python), str(self.server_dir / "kserve_app.py"), "--host", spec.host,
                "--http-port", str(spec.ports["http"]), "--model-name", MODEL,
                *self.tunable_args(spec.tunables)]
        return ServerCommand(argv, cwd=spec.run_dir)

    def container_command(self, tunables: Tunables) -> list[str]:
        return [*IMAGE_COMMAND, *self.tunable_args(tunables)]


ADAPTER = KServeAdapter()
