"""Seldon: the Seldon Core v1 Python wrapper (`seldon-core-microservice`) and its Seldon protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from servingbench.adapter import (
    Adapter,
    HttpRequest,
    LaunchSpec,
    Prediction,
    Preset,
    ProtocolError,
    ServerCommand,
    Tunables,
)
from servingbench.codecs.rest import json_body, parse_json


@dataclass(frozen=True)
class SeldonTunables(Tunables):
    """The common knobs plus two of the wrapper's own that the presets need to record.

    http_threads: GUNICORN_THREADS, request threads per gunicorn worker (1 = gunicorn's sync worker,
        which closes every connection; >= 2 = the gthread worker, which keeps connections alive).
    grpc_workers: GRPC_WORKERS, gRPC server processes started beside the REST server (each loads the
        model too). 0 here (and for plain Tunables, e.g. from `make tune`): the benchmark speaks REST.
        The ``default`` preset sets 1, which is what the wrapper does when GRPC_WORKERS is unset.
    """

    http_threads: int = 1
    grpc_workers: int = 0


SELDON_DEFAULTS = SeldonTunables(http_threads=1, grpc_workers=1)
"""What `seldon-core-microservice` gives with no settings: 1 worker, 1 thread, 1 gRPC worker."""

REST_ONLY = SeldonTunables()

IMAGE_COMMAND = [
    "seldon-core-microservice", "ModelClass",
    "--http-port", "9000", "--grpc-port", "5000", "--metrics-port", "6000",
]
"""The Dockerfile's CMD (after its ENTRYPOINT, tini): the stock wrapper, configured by environment."""


class SeldonAdapter(Adapter):
    name = "seldon"
    display_name = "Seldon Core (v1 Python wrapper)"
    protocol = (
        'Seldon protocol (v1), JSON: POST /api/v1.0/predictions {"data": {"ndarray": ["text", ...]}} -> '
        '{"data": {"names": ["label", "score"], "ndarray": [["positive", 0.98], ...]}}'
    )
    package = "seldon-core"
    port_names = ("http", "grpc", "metrics")
    metrics_absent = ("exposes no request metrics: the v1 wrapper's /metrics serves only the custom "
                      "metrics a model returns from its metrics() method (none here), no request counter "
                      "or timings")
    ready_timeout_s = 90.0
    grpc_refusal = ("the Seldon v1 wrapper's gRPC server (SeldonMessage) binds 0.0.0.0 with no flag, and "
                    "servingbench has no codec for it yet")
    stop_timeout_s = 15.0
    notes = (
        "Seldon Core v2 serves models through MLServer (V2 protocol) behind Kubernetes or Docker Compose; "
        "on one machine the v1 Python wrapper is the part of Seldon that is its own serving stack. seldon- "
        "core 1.18.2 (the last release for Python 3.11): Flask on gunicorn 20.1, no adaptive batching. A "
        "default start is 7 processes: the main process (the REST gunicorn master), its REST worker, a "
        "multiprocessing Manager for metrics, a metrics gunicorn master and worker, and a gRPC launcher "
        "with one gRPC worker; the REST worker and the gRPC worker each load the model (memory is reported "
        "as PSS). The tuned preset turns the gRPC server off (GRPC_WORKERS=0: 5 processes): the benchmark "
        "speaks REST; so do plain tunables, e.g. a preset earned by `make tune`. The wrapper hard-codes "
        "0.0.0.0 for every listener; server/launch.py runs the wrapper's own main() after rewriting those "
        "binds to 127.0.0.1 (REST, metrics and gRPC; the wrapper still logs 'Binding to 0.0.0.0' for gRPC). "
        "With one thread per worker (the default) gunicorn's sync worker answers 'Connection: close', so "
        "the load generator opens a new TCP connection for every request; with 2+ threads connections are "
        "kept alive. Glue: input errors are raised as SeldonMicroserviceException (the wrapper answers any "
        "other exception with 500), bodies over 256 KiB get 413 (read to the end first, up to 16 MiB: "
        "gunicorn closing on unread bytes made the kernel reset the socket, so a third of 1 MB senders saw "
        "a reset instead of the 413), and unknown paths get 404 instead of the "
        "wrapper's 500 (both through Seldon's model_error_handler blueprint hook). A wrong schema is "
        "refused by the wrapper itself (400); numbers mixed with strings in data.ndarray are coerced to "
        "strings by numpy before the model sees them. Stopping signals every process (with a gRPC worker "
        "the main process alone would wait forever); server/launch.py also keeps gunicorn from respawning a "
        "worker while its own stop signal is queued (that race made a stop last gunicorn's 30 s graceful "
        "timeout). At stop the log shows ConnectionResetError tracebacks from the wrapper's worker_exit "
        "hook (its metrics Manager process has already exited): harmless. The environment runs the shared "
        "onnxruntime 1.30.0 with --no-deps (requirements-nodeps.txt): it declares protobuf>=4.25.8; "
        "seldon-core 1.18.2 needs protobuf<4; a session never imports protobuf. (On 1.26.0, the newest "
        "that accepts protobuf 3.20, the int8 model's answers differed: 1 of 126 evaluation labels flipped.)"
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                SELDON_DEFAULTS,
                "what `seldon-core-microservice` gives a new user: 1 gunicorn worker (sync, 1 thread, "
                "Connection: close), 1 gRPC worker, 1 ORT thread",
            ),
            "tuned": Preset(
                REST_ONLY,
                "REST only (GRPC_WORKERS=0: one process and one model copy fewer, PSS about 230 MB instead "
                "of 390 MB), 1 sync gunicorn worker, 1 thread. Measured on one pinned CPU, 1 and 4 "
                "closed-loop clients, 8 s each, interleaved and repeated on a heavily loaded machine: server "
                "CPU per request was lowest with 1 thread in 5 of 5 runs at 4 clients (8.3-9.5 ms vs "
                "9.1-10.6 ms with GUNICORN_THREADS=2, whose keep-alive does not pay for two inferences "
                "sharing one CPU; 4 threads and 2 workers were no better); throughput differences were "
                "within the noise",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if tunables.batching:
            raise ValueError(
                "seldon: the Seldon Core v1 wrapper has no adaptive batching (each request is one "
                "predict() call): use max_batch_size=1; scale with workers instead"
            )
        if self._http_threads(tunables) < 1 or self._grpc_workers(tunables) < 0:
            raise ValueError(f"seldon: http_threads must be >= 1 and grpc_workers >= 0: {tunables}")

    @staticmethod
    def _http_threads(tunables: Tunables) -> int:
        return getattr(tunables, "http_threads", REST_ONLY.http_threads)

    @staticmethod
    def _grpc_workers(tunables: Tunables) -> int:
        return getattr(tunables, "grpc_workers", REST_ONLY.grpc_workers)

    @classmethod
    def tunable_env(cls, tunables: Tunables) -> dict[str, str]:
        """The wrapper's environment variables for the tunables (it has no flags for them)."""
        return {
            "GUNICORN_WORKERS": str(tunables.workers),
            "GUNICORN_THREADS": str(cls._http_threads(tunables)),
            "GRPC_WORKERS": str(cls._grpc_workers(tunables)),
        }

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [
            str(python), "-m", "launch", "ModelClass",
            "--http-port", str(spec.ports["http"]),
            "--grpc-port", str(spec.ports["grpc"]),
            "--metrics-port", str(spec.ports["metrics"]),
        ]
        env = {
            "SELDON_BIND_HOST": spec.host,
            **self.tunable_env(spec.tunables),
            "GRPC_THREADS": "1",  # the wrapper's default, written out
            "GUNICORN_KEEPALIVE": "2",  # the wrapper's default (seconds), written out
            "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ next to the glue: write only in run_dir
        }
        # cwd is the run folder (the wrapper adds it to sys.path); the glue is on PYTHONPATH.
        return ServerCommand(argv, env=env, cwd=spec.run_dir)

    def container_command(self, tunables: Tunables) -> list[str]:
        return list(IMAGE_COMMAND)

    def container_env(self, tunables: Tunables) -> dict[str, str]:
        return self.tunable_env(tunables)

    def encode(self, texts: list[str]) -> HttpRequest:
        return HttpRequest("POST", "/api/v1.0/predictions", json_body({"data": {"ndarray": texts}}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        payload = parse_json(status, body)
        data = payload.get("data") if isinstance(payload, dict) else None
        rows = data.get("ndarray") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ProtocolError(f"no data.ndarray in {str(payload)[:200]}")
        try:
            return [(str(label), float(score)) for label, score in rows]
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"unexpected data.ndarray rows: {str(rows)[:200]}") from exc


ADAPTER = SeldonAdapter()
