"""Ray Serve: a one-node Ray cluster with Serve's HTTP proxy in front of the shared model.

The server is one script (``server/serve_app.py``) that starts the Ray head node with every port pinned
and its scratch folder in the run folder, deploys the model as a Serve deployment and blocks until
SIGTERM. The whole tree (GCS, raylet, agents, the Serve controller, proxy and replicas) hangs under it.
"""

from __future__ import annotations

from pathlib import Path

from servingbench.adapter import Adapter, LaunchSpec, MetricsSpec, Preset, ServerCommand, Tunables
from servingbench.codecs.rest import TextsJsonCodec

RAY_PORTS = ("gcs", "node_manager", "object_manager", "metrics_agent", "metrics_export", "dashboard_agent",
             "runtime_env_agent")
"""Ray's fixed listeners, each given its own free port (two servers on one machine never collide)."""

DEFAULT_MAX_ONGOING_REQUESTS = 5
"""Ray Serve's default cap on requests in flight per replica (ray.serve._private.constants)."""

IMAGE_COMMAND = [
    "python", "frameworks/rayserve/server/serve_app.py", "--host", "0.0.0.0", "--http-port", "8000",
    "--temp-dir", "/tmp/ray",
]
"""The Dockerfile's CMD without the tunables (Ray's own ports are left to the OS inside the container, and
Ray schedules on the container's CPU set: serve_app.py's defaults)."""


class RayServeAdapter(Adapter):
    name = "rayserve"
    display_name = "Ray Serve"
    protocol = 'Ray Serve HTTP, JSON: POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}]}'
    package = "ray"
    port_names = ("http", *RAY_PORTS)
    metrics = MetricsSpec(
        port="metrics_export", requests='ray_serve_deployment_request_counter_total{deployment="Sentiment"}',
        request_time='ray_serve_deployment_processing_latency_ms_sum{deployment="Sentiment"}',
        time_unit_s=1e-3,
        batches='ray_serve_batches_processed_total{deployment="Sentiment"}', settle_s=20.0, quiet_s=11.0,
        note="Ray's metrics export port (the node's metrics agent): the replica's request counter and "
             "processing time, batches from @serve.batch's counter; the agent publishes every few seconds, "
             "so each scrape after a step waits (up to 20 s) until the counter reaches the harness's count, "
             "and each before one until it has stood still 11 s (Ray reports every 10 s)",
    )
    ready_timeout_s = 180.0
    grpc_refusal = (
        "Ray Serve's gRPC proxy serves only services the user defines: it needs a user-written .proto, "
        "compiled into Python and registered through grpc_options.grpc_servicer_functions, and deployment "
        "methods that take those messages. It has no generic inference service, so a gRPC run would "
        "measure a protocol this project invented, not Ray Serve's")
    stop_timeout_s = 15.0
    codec = TextsJsonCodec()
    notes = (
        "A whole one-node Ray cluster serves the model: 11 processes with one replica (driver, GCS, "
        "raylet, dashboard head, dashboard and runtime-env agents, autoscaler monitor, log monitor, "
        "Serve controller, HTTP proxy, replica; +1 per replica), about 0.87 GB PSS with the model, and "
        "12-14% of a core while idle. Each request crosses two processes (proxy -> replica): "
        "on one CPU a lone request took 27 ms against 5.6 ms in-process. "
        "Dashboard off, usage stats and token auth off, Ray in local-only mode (listeners on 127.0.0.1), "
        "except the replica's inter-deployment gRPC server, which Ray 2.60 binds to all interfaces on a "
        "random port: replica.py hard-codes \"[::]:0\" with no setting (ray-project/ray#64544; #64623 adds "
        "only a port range), so the run lists it among its non-loopback listeners, in red. "
        "The dashboard head, autoscaler monitor and every worker also listen on random loopback "
        "ports. Serve's access log is on (Ray's default) but kept out of stderr (RAY_SERVE_LOG_TO_STDERR=0), "
        "so it is not streamed through the log monitor and GCS to the driver. @serve.batch counts calls: "
        "every text is one call, so the batch size counts texts; a batch wait above 0 makes a lone request "
        "wait the whole timeout. Object store capped at 128 MiB (Ray reserves 30% of RAM in /dev/shm by "
        "default; Serve passes these small payloads inline). "
        "If the driver dies without its teardown (SIGKILL, OOM), the dashboard and runtime-env agents "
        "survive it, keep their ports and ignore SIGTERM: only SIGKILL to the process group clears them."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(),
                "what `serve run` gives a new user: one replica, no @serve.batch, max_ongoing_requests=5",
            ),
            "tuned": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=8, max_batch_delay_ms=0.0),
                "one replica (a second one on one CPU only competes for it: 2.6 vs 4.1 req/s at 8 users) "
                "with Ray Serve's @serve.batch, up to 8 texts, no wait: a lone request is not delayed, "
                "and texts that queued while the model ran go together in one ONNX call "
                "(max_ongoing_requests raised to 16 so a batch can fill). 1 CPU, 8 users: 67 req/s vs 24 "
                "for the default, p50 116 vs 315 ms; batch 4: 64 req/s, batch 16: 52, a 2 ms wait: worse.",
            ),
        }

    @staticmethod
    def max_ongoing_requests(tunables: Tunables) -> int:
        """Ray Serve's default, raised with batching so a full batch can reach the replica at all."""
        if not tunables.batching:
            return DEFAULT_MAX_ONGOING_REQUESTS
        return max(DEFAULT_MAX_ONGOING_REQUESTS, 2 * tunables.max_batch_size)

    @classmethod
    def tunable_args(cls, tunables: Tunables) -> list[str]:
        """serve_app.py's flags for the tunables."""
        t = tunables
        return [
            "--replicas", str(t.workers),
            "--max-batch-size", str(t.max_batch_size),
            "--batch-wait-ms", str(t.max_batch_delay_ms),
            "--max-ongoing-requests", str(cls.max_ongoing_requests(t)),
        ]

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [
            str(python), str(self.server_dir / "serve_app.py"),
            "--host", spec.host,
            "--http-port", str(spec.ports["http"]),
            "--temp-dir", str(spec.run_dir / "ray"),
            "--num-cpus", str(len(spec.cpus)),
            *self.tunable_args(spec.tunables),
        ]
        for name in RAY_PORTS:
            argv += [f"--{name.replace('_', '-')}-port", str(spec.ports[name])]
        return ServerCommand(argv, cwd=spec.run_dir)

    def prepare(self, spec: LaunchSpec, python: Path) -> None:
        (spec.run_dir / "ray").mkdir(parents=True, exist_ok=True)

    def container_command(self, tunables: Tunables) -> list[str]:
        return [*IMAGE_COMMAND, *self.tunable_args(tunables)]


ADAPTER = RayServeAdapter()
