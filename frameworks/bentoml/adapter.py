"""BentoML: the shared model as a ``@bentoml.service`` started with ``bentoml serve``."""

from __future__ import annotations

from pathlib import Path

from servingbench.adapter import (
    Adapter,
    HttpRequest,
    LaunchSpec,
    MetricsSpec,
    Prediction,
    Preset,
    ServerCommand,
    Tunables,
)
from servingbench.codecs.rest import json_body, pairs, parse_json

SERVICE = "service:Sentiment"
DEFAULT_MAX_LATENCY_MS = 60_000
"""BentoML's own default ``max_latency_ms`` for a batchable API."""


class BentoMLAdapter(Adapter):
    name = "bentoml"
    display_name = "BentoML"
    protocol = 'BentoML JSON: POST /predict {"texts": [...]} -> [{"label", "score"}, ...]'
    package = "bentoml"
    port_names = ("http",)
    metrics_switch = "BENTOML_CONFIG_OPTIONS services.Sentiment.metrics.enabled=false"
    metrics = MetricsSpec(
        port="http",
        requests='bentoml_service_request_total{endpoint="/predict",http_response_code="200"}',
        request_time=('bentoml_service_request_duration_seconds_sum'
                      '{endpoint="/predict",http_response_code="200"}'),
        batches="bentoml_service_adaptive_batch_size_count",
        batched_items="bentoml_service_adaptive_batch_size_sum",
        note="BentoML's /metrics on the inference port: successful /predict requests and their duration "
             "(no queue/compute split); adaptive batch sizes when batching is on",
    )
    ready_timeout_s = 120.0
    grpc_refusal = "BentoML 1.4's service API serves HTTP only (its gRPC server was dropped with the 1.2 API)"
    stop_timeout_s = 15.0
    notes = (
        "bentoml serve: a supervisor process (BentoML's circus fork, kantoku) that owns the listening "
        "socket, plus one process per worker (each in its own session). The supervisor also listens on two "
        "random 127.0.0.1 ports for its ZeroMQ control and pub/sub endpoints, chosen by BentoML with no "
        "option to set them; they close when it exits. Run with BENTOML_CONTAINERIZED=true, as BentoML's "
        "own images are: a worker that dies is not respawned (a failed model load ends the server instead "
        "of a restart loop). Access log off (one log line per request otherwise); Prometheus metrics on "
        "(BentoML's default). max_batch_delay_ms is mapped to BentoML's max_latency_ms, which is not a "
        "fill wait: the adaptive batcher learns its own wait, and requests it expects to miss "
        "max_latency_ms are shed with HTTP 503 ('process is overloaded'), so overload shows up as errors, "
        "not latency; 0 means BentoML's default 60000 ms. max_batch_size counts texts, not requests. Bad "
        "input is refused by BentoML's pydantic validation with 400, texts over 100,000 characters too; "
        "BentoML logs a traceback for every refused or shed request."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(),
                "what `bentoml serve` gives a plain @bentoml.service: one worker, sync API on one thread, "
                "no adaptive batching (an API is batchable only when declared so)",
            ),
            # Measured on CPU 0 of this (shared, heavily loaded) machine, closed loop 1/4/16 users, twice:
            # server CPU per request (robust to the contention, unlike wall-clock) was about 10 ms without
            # batching at any concurrency; with max_batch_size 16 it fell to 7.3-7.7 ms at 4 users and
            # 5.0-5.3 ms at 16 users, with throughput up 1.8-2.5x at 16 users and no extra latency at 1
            # user (an idle batcher dispatches at once). 8 and 32 were no better than 16 (6.4 ms at 16
            # users). Two workers on one CPU: no lower CPU per request (9.5 ms), only more processes
            # competing for it. A small max_latency_ms (50 ms) shed 88% of requests with 503 at 16 users.
            "tuned": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=16, max_batch_delay_ms=0),
                "one worker, adaptive batching up to 16 texts: about half the server CPU per request at 16 "
                "users vs no batching, same latency at 1 user (8 and 32 no better; a second worker on one "
                "CPU only competes for it); max_latency_ms left at BentoML's 60 s so nothing is shed",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if not tunables.batching and tunables.max_batch_delay_ms:
            raise ValueError(
                "bentoml: max_batch_delay_ms maps to max_latency_ms, which exists only with adaptive "
                "batching: set max_batch_size > 1 or leave the delay at 0"
            )

    @staticmethod
    def max_latency_ms(tunables: Tunables) -> int:
        if not tunables.max_batch_delay_ms:
            return DEFAULT_MAX_LATENCY_MS
        return max(1, round(tunables.max_batch_delay_ms))

    @classmethod
    def bento_args(cls, tunables: Tunables) -> list[str]:
        """``--arg key=value`` pairs: the bento arguments server/service.py reads (its ``Arguments``)."""
        t = tunables
        args = [f"workers={t.workers}"]
        if t.batching:
            args += [f"max_batch_size={t.max_batch_size}", f"max_latency_ms={cls.max_latency_ms(t)}"]
        return [item for arg in args for item in ("--arg", arg)]

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [
            str(python), "-m", "bentoml", "serve", SERVICE,
            "--host", spec.host, "--port", str(spec.ports["http"]),
            "--working-dir", str(self.server_dir),
            *self.bento_args(spec.tunables),
        ]
        env = {
            # BentoML's home holds its stores and the Prometheus multiprocess folder: keep it in the run.
            "BENTOML_HOME": str(spec.run_dir / "bentoml_home"),
            "BENTOML_DO_NOT_TRACK": "true",
            # What BentoML's own container images set: a worker that dies is not respawned, so a model
            # that fails to load ends the server at once (exit 1) instead of a restart loop that never
            # becomes ready. Its only effect in 1.4.39 is the supervisor's respawn flag.
            "BENTOML_CONTAINERIZED": "true",
        }
        if not spec.server_metrics:
            env["BENTOML_CONFIG_OPTIONS"] = "services.Sentiment.metrics.enabled=false"
        return ServerCommand(argv, env=env, cwd=spec.run_dir)

    def container_command(self, tunables: Tunables) -> list[str]:
        # The image's ENTRYPOINT is `bentoml serve service:Sentiment ...`: its CMD is the bento arguments.
        return self.bento_args(tunables)

    def encode(self, texts: list[str]) -> HttpRequest:
        return HttpRequest("POST", "/predict", json_body({"texts": texts}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        return pairs(parse_json(status, body))


ADAPTER = BentoMLAdapter()
