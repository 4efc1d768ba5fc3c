"""TorchServe: the Java (Netty) frontend, Python backend workers, server-side batching, /predictions API.

prepare() archives server/handler.py into a .mar with torch-model-archiver (no serialized model: the
handler calls the shared predictor, which reads SB_MODEL_DIR) and writes config.properties; command()
runs ``torchserve --foreground`` so the launcher's process group holds the CLI, the JVM and its workers.
In its image the workers and batching are config.properties entries too: the image bakes the default
preset's file, and container_command() starts server/container_config.py, which writes this run's
entries over it and then execs the same ``torchserve --foreground``.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from servingbench.adapter import (
    Adapter,
    GrpcRequest,
    GrpcService,
    HttpRequest,
    LaunchSpec,
    MetricsSpec,
    Prediction,
    Preset,
    ProtocolError,
    ServerCommand,
    Tunables,
)
from servingbench.codecs.rest import json_body, pairs, parse_json

MODEL = "m"
MAX_BODY_BYTES = 256 * 1024
"""max_request_size: bigger bodies get TorchServe's own 413 from the frontend (its default is 6.5 MB)."""
JVM_OPTS = "-Xms32m -Xmx256m -XX:+UseSerialGC -XX:-UsePerfData"
"""A small JVM: a 256 MB heap (the JVM default is a quarter of RAM), one GC thread, no /tmp/hsperfdata."""

GRPC_PROTO = Path(__file__).resolve().parent / "proto" / "inference.proto"
"""TorchServe 0.12.0's own gRPC inference service, byte for byte as the torchserve wheel ships it (inside
ts/frontend/model-server.jar, proto/inference.proto; Apache-2.0, pytorch/serve). No package ships its Python
stubs, so the messages are compiled from it at first use (servingbench.codecs.grpc.load_proto);
tests/integration/test_torchserve.py checks the copy against the installed torchserve's jar."""
GRPC_SERVICE = "org.pytorch.serve.grpc.inference.InferenceAPIsService"

IMAGE_HOME = "/home/model-server"
IMAGE_CONFIG = f"{IMAGE_HOME}/config.properties"
"""The image's config.properties (frameworks/torchserve/docker/config.properties: the default preset)."""
RUN_CONFIG = f"{IMAGE_HOME}/tmp/config.properties"
"""Where server/container_config.py writes it with this run's entries."""
IMAGE_COMMAND = ["torchserve", "--foreground", "--ts-config", IMAGE_CONFIG, "--model-store",
                 f"{IMAGE_HOME}/model-store", "--ncs"]
"""The Dockerfile's CMD (after its ENTRYPOINT, tini)."""


@dataclass(frozen=True)
class TorchServeGrpcCodec:
    """``InferenceAPIsService/Predictions``: ``PredictionsRequest{model_name, input={"data": <the REST
    body>}}``. TorchServe hands each ``input`` entry to the handler as a field of the request row, so
    server/handler.py reads the same {"texts": [...]} JSON as over REST; the answer's ``prediction`` is
    the handler's JSON list of {"label", "score"}."""

    model: str
    method: str = f"/{GRPC_SERVICE}/Predictions"

    def describe(self) -> str:
        return (f'gRPC {GRPC_SERVICE}/Predictions: PredictionsRequest{{model_name "{self.model}", input '
                '{"data": JSON {"texts": [...]}}} -> PredictionResponse.prediction, JSON list of {"label", '
                '"score"}')

    def encode(self, texts: list[str]) -> GrpcRequest:
        request = _grpc_messages().PredictionsRequest(model_name=self.model,
                                                      input={"data": json_body({"texts": texts})})
        return GrpcRequest(self.method, request.SerializeToString())

    def decode(self, body: bytes) -> list[Prediction]:
        from google.protobuf.message import DecodeError

        try:
            response = _grpc_messages().PredictionResponse.FromString(body)
        except DecodeError as exc:
            raise ProtocolError(f"not a PredictionResponse: {body[:100]!r}") from exc
        payload = parse_json(200, response.prediction)
        if not isinstance(payload, list):
            raise ProtocolError(f"expected a JSON list of predictions, got {str(payload)[:200]}")
        return pairs(payload)


def _grpc_messages():
    from servingbench.codecs.grpc import load_proto

    return load_proto(GRPC_PROTO)


class TorchServeAdapter(Adapter):
    name = "torchserve"
    display_name = "TorchServe"
    protocol = (
        'TorchServe inference API: POST /predictions/m, JSON body {"texts": [...]} (one request = one '
        'item of the server-side batch) -> JSON list of {"label", "score"}'
    )
    package = "torchserve"
    port_names = ("http", "management", "metrics", "grpc_inference", "grpc_management")
    grpc = GrpcService("grpc_inference", TorchServeGrpcCodec(MODEL),
                       "gRPC inference API on its own Netty listener; readiness stays on the REST and "
                       "management APIs")
    metrics = MetricsSpec(
        port="metrics", requests="ts_inference_requests_total", queue_time="ts_queue_latency_microseconds",
        request_time="ts_inference_latency_microseconds", time_unit_s=1e-6,
        note="TorchServe's metrics API with metrics_mode=prometheus (set by this adapter: in its default "
             "log mode the API answers with nothing and the figures go to logs/ts_metrics.log): requests, "
             "queue and whole inference time per request (no batch count)",
    )
    metrics_switch = ("config.properties: on = metrics_mode=prometheus (this adapter's setting), off = "
                      "TorchServe's default log mode with enable_metrics_api=false")
    ready_timeout_s = 180.0
    stop_timeout_s = 20.0
    notes = (
        "TorchServe is no longer actively maintained (its project page says so); 0.12.0 is its last release. "
        "A Java/Netty frontend forwards each request over a Unix socket to Python backend workers, which "
        "run the handler (server/handler.py, archived into a .mar with no serialized model) around the "
        "shared ONNX predictor; torch is imported by TorchServe's BaseHandler, its threads set to the "
        "worker budget. The JVM is capped with vmargs -Xmx256m, SerialGC, no perf data (its default heap "
        "is a quarter of RAM). It always opens five loopback ports: inference, management, metrics and "
        "gRPC inference/management. max_request_size is lowered to 256 KB (TorchServe's own 413 above "
        "it, as in the baseline). The frontend logs about 20 DEBUG lines per request out of the box (kept)."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=1, max_batch_delay_ms=100),
                "TorchServe out of the box: default_workers_per_model = CPUs visible to the JVM, i.e. 1 on "
                "the one-CPU server budget (set explicitly here; give the server N CPUs and TorchServe "
                "alone would start N), batchSize 1, maxBatchDelay 100 ms (unused at batchSize 1), Netty "
                "threads 2 x CPUs, job_queue_size 100, responseTimeout 120 s, system metrics every 60 s",
            ),
            "tuned": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=8, max_batch_delay_ms=2),
                "server-side batching: batchSize 8, maxBatchDelay 2 ms, one worker for one CPU. Measured "
                "on one (shared, heavily loaded) CPU with 8 concurrent keep-alive clients, 12 s each: "
                "batch 8/2 ms 22-38 req/s over 3 runs vs 14-20 for the default; 2 workers without batching "
                "11.7; batch 16/5 ms 18.3; quieter logs or 1 Netty thread + no system metrics made no "
                "difference above the noise, so the rest stays at TorchServe's defaults",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        delay = tunables.max_batch_delay_ms
        if delay != int(delay):
            raise ValueError(f"torchserve: maxBatchDelay is a whole number of milliseconds, got {delay}")
        if tunables.batching and delay < 1:
            raise ValueError(
                "torchserve: maxBatchDelay 0 is read as unset (100 ms); the smallest real delay is 1 ms"
            )

    @staticmethod
    def model_properties(tunables: Tunables) -> dict[str, str]:
        """The config.properties entries that carry the tunables: the model's workers and batching."""
        t = tunables
        delay = max(1, int(t.max_batch_delay_ms))  # 0 would read as "unset" = 100 ms; unused at batchSize 1
        models = {MODEL: {"1.0": {
            "marName": f"{MODEL}.mar", "minWorkers": t.workers, "maxWorkers": t.workers,
            "batchSize": t.max_batch_size, "maxBatchDelay": delay, "responseTimeout": 120,
        }}}
        return {"models": json.dumps(models), "default_workers_per_model": str(t.workers)}

    # -- lifecycle ------------------------------------------------------------------------------
    def prepare(self, spec: LaunchSpec, python: Path) -> None:
        # A worker whose handler fails to load is restarted by TorchServe forever (with back-off), so the
        # server would only time out: refuse an incomplete model folder here, before starting anything.
        required = ("model.onnx", "tokenizer.json", "labels.json")
        missing = [name for name in required if not (spec.model_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"model folder {spec.model_dir} lacks {', '.join(missing)} "
                "(run `make model` or `python -m servingbench.envs.model_cache` to build it)"
            )
        run = spec.run_dir
        store = run / "model_store"
        store.mkdir(parents=True, exist_ok=True)
        for sub in ("logs", "tmp", "home"):
            (run / sub).mkdir(exist_ok=True)
        archiver = python.parent / "torch-model-archiver"
        result = subprocess.run(
            [str(archiver), "--model-name", MODEL, "--version", "1.0",
             "--handler", str(self.server_dir / "handler.py"),
             "--export-path", str(store), "--force"],
            cwd=run, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"torch-model-archiver failed: {result.stdout}{result.stderr}")

        host, ports = spec.host, spec.ports
        props = {
            "inference_address": f"http://{host}:{ports['http']}",
            "management_address": f"http://{host}:{ports['management']}",
            "metrics_address": f"http://{host}:{ports['metrics']}",
            "grpc_inference_address": host,
            "grpc_inference_port": ports["grpc_inference"],
            "grpc_management_address": host,
            "grpc_management_port": ports["grpc_management"],
            "model_store": store,
            "load_models": f"{MODEL}.mar",
            **self.model_properties(spec.tunables),
            "disable_token_authorization": "true",
            "install_py_dep_per_model": "false",
            "enable_envvars_config": "false",
            "max_request_size": MAX_BODY_BYTES,
            "vmargs": JVM_OPTS,
            # the metrics API answers only in prometheus mode; off: TorchServe's own default (log mode,
            # figures written to logs/ts_metrics.log) with the API closed
            **({"metrics_mode": "prometheus"} if spec.server_metrics else {"enable_metrics_api": "false"}),
        }
        (run / "config.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        run = spec.run_dir
        argv = [
            str(python.parent / "torchserve"), "--foreground",
            "--ts-config", str(run / "config.properties"),
            "--model-store", str(run / "model_store"),
        ]
        env = {
            "LOG_LOCATION": str(run / "logs"),
            "METRICS_LOCATION": str(run / "logs"),
            "TEMP": str(spec.temp),  # -Djava.io.tmpdir: extracted .mar, worker Unix sockets
            "TMPDIR": str(spec.temp),  # the CLI's pid file and Python temp files
            "HOME": str(run / "home"),  # onnxruntime writes ~/.cache/Microsoft/DeveloperTools/deviceid
        }
        return ServerCommand(argv, env=env, cwd=run)

    # -- in its image ----------------------------------------------------------------------------
    def container_command(self, tunables: Tunables) -> list[str]:
        """server/container_config.py writes the image's config with this run's entries, then execs
        the image's own command on that file (TorchServe reads no tunable from its environment here:
        the config sets enable_envvars_config=false)."""
        entries = [item for key, value in self.model_properties(tunables).items()
                   for item in ("--set", f"{key}={value}")]
        torchserve = [RUN_CONFIG if arg == IMAGE_CONFIG else arg for arg in IMAGE_COMMAND]
        return ["python", "/app/frameworks/torchserve/server/container_config.py",
                "--config", IMAGE_CONFIG, "--out", RUN_CONFIG, *entries, "--", *torchserve]

    # -- readiness: a real prediction, then every configured worker READY ---------------------------
    def check_ready(self, status: int, body: bytes, spec: LaunchSpec | None = None) -> bool:
        """A prediction proves one worker; with the launch spec, every configured worker must be READY
        (TorchServe answers with the first while the others still load). Without it (a remote target
        or a container, whose management port is not ours) the prediction alone decides."""
        if not super().check_ready(status, body, spec):
            return False
        if spec is None:
            return True
        return ready_workers(spec.host, spec.ports["management"]) >= spec.tunables.workers

    # -- client codec ---------------------------------------------------------------------------
    def encode(self, texts: list[str]) -> HttpRequest:
        return HttpRequest("POST", f"/predictions/{MODEL}", json_body({"texts": texts}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        payload = parse_json(status, body)
        if not isinstance(payload, list):
            raise ProtocolError(f"expected a JSON list of predictions, got {str(payload)[:200]}")
        return pairs(payload)


def ready_workers(host: str, management_port: int) -> int:
    """How many of the model's workers the management API reports READY (0 when it cannot tell)."""
    try:
        conn = http.client.HTTPConnection(host, management_port, timeout=5)
        try:
            conn.request("GET", f"/models/{MODEL}")
            response = conn.getresponse()
            info = json.loads(response.read()) if response.status == 200 else []
        finally:
            conn.close()
        return sum(1 for w in info[0].get("workers", []) if w.get("status") == "READY")
    except (OSError, http.client.HTTPException, ValueError, LookupError, AttributeError, TypeError):
        return 0


ADAPTER = TorchServeAdapter()
