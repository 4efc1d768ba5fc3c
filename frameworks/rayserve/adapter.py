"""Ray Serve: a one-node Ray cluster with Serve's HTTP proxy in front of the shared model.

The server is one script (``server/serve_app.py``) that starts the Ray head node with every port pinned
and its scratch folder in the run folder, deploys the model as a Serve deployment and blocks until
SIGTERM. The whole tree (GCS, raylet, agents, the Serve controller, proxy and replicas) hangs under it.
"""

from __future__ import annotations

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

RAY_PORTS = ("gcs", "node_manager", "object_manager", "metrics_agent", "metrics_export", "dashboard_agent",
             "runtime_env_agent")
"""Ray's fixed listeners, each given its own free port (two servers on one machine never collide)."""

DEFAULT_MAX_ONGOING_REQUESTS = 5
"""Ray Serve's default cap on requests in flight per replica (ray.serve._private.constants)."""


class RayServeAdapter(Adapter):
    name = "rayserve"
    display_name = "Ray Serve"
    protocol = 'Ray Serve HTTP, JSON: POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}]}'
    package = "ray"
    port_names = ("http", *RAY_PORTS)
    ready_timeout_s = 180.0
    stop_timeout_s = 15.0
    notes = (
        "A whole one-node Ray cluster serves the model: 11 processes with one replica (driver, GCS, "
        "raylet, dashboard head, dashboard and runtime-env agents, autoscaler monitor, log monitor, Serve controller, "
        "HTTP proxy, replica; one more per replica), about 0.75 GB PSS before the model, and about 10% "
        "of a core while idle. Each request crosses two processes (proxy -> replica) before the model. "
        "Dashboard off; usage stats and token auth off; Ray is in local-only mode, so its listeners bind "
        "127.0.0.1, except the replica's internal gRPC server, which Ray binds to all interfaces on a random "
        "port (not configurable in 2.60). The dashboard head, the autoscaler monitor and every worker also "
        "listen on random loopback ports. @serve.batch counts calls: each text is one call, so the batch "
        "size counts texts; a batch wait above 0 makes a lone request wait the whole timeout. "
        "Object store capped at 128 MiB (Ray reserves 30% of RAM in /dev/shm by default; Serve passes "
        "these small payloads inline). Ray's per-request access log stays on (its default)."
    )

    @property
    def folder(self) -> Path:
        # Not inspect.getfile(): load_adapter() does not register the module in sys.modules.
        return Path(__file__).resolve().parent

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(),
                "what `serve run` gives a new user: one replica, no @serve.batch, max_ongoing_requests=5",
            ),
            "tuned": Preset(
                Tunables(workers=1, threads_per_worker=1, max_batch_size=8, max_batch_delay_ms=0.0),
                "TO BE MEASURED",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if tunables.max_batch_delay_ms < 0:
            raise ValueError(f"rayserve: max_batch_delay_ms must be >= 0: {tunables}")

    @staticmethod
    def max_ongoing_requests(tunables: Tunables) -> int:
        """Ray Serve's default, raised with batching so a full batch can reach the replica at all."""
        if not tunables.batching:
            return DEFAULT_MAX_ONGOING_REQUESTS
        return max(DEFAULT_MAX_ONGOING_REQUESTS, 2 * tunables.max_batch_size)

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        t = spec.tunables
        argv = [
            str(python), str(self.server_dir / "serve_app.py"),
            "--host", spec.host,
            "--http-port", str(spec.ports["http"]),
            "--temp-dir", str(spec.run_dir / "ray"),
            "--num-cpus", str(len(spec.cpus)),
            "--replicas", str(t.workers),
            "--max-batch-size", str(t.max_batch_size),
            "--batch-wait-ms", str(t.max_batch_delay_ms),
            "--max-ongoing-requests", str(self.max_ongoing_requests(t)),
        ]
        for name in RAY_PORTS:
            argv += [f"--{name.replace('_', '-')}-port", str(spec.ports[name])]
        return ServerCommand(argv, cwd=spec.run_dir)

    def prepare(self, spec: LaunchSpec, python: Path) -> None:
        (spec.run_dir / "ray").mkdir(parents=True, exist_ok=True)

    def encode(self, texts: list[str]) -> HttpRequest:
        return HttpRequest("POST", "/predict", self.json_body({"texts": texts}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        payload = self.parse_json(status, body)
        if not isinstance(payload, dict) or "predictions" not in payload:
            raise ProtocolError(f"no predictions in {str(payload)[:200]}")
        return self.pairs(payload["predictions"])


ADAPTER = RayServeAdapter()
