"""Baseline: the same model behind a plain Starlette/uvicorn app, i.e. serving with no framework."""

from __future__ import annotations

from pathlib import Path

from servingbench.adapter import Adapter, LaunchSpec, Preset, ServerCommand, Tunables
from servingbench.codecs.rest import TextsJsonCodec

IMAGE_COMMAND = [
    "python", "-m", "uvicorn", "app:app", "--app-dir", "/app/frameworks/baseline/server",
    "--host", "0.0.0.0", "--port", "8000", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
]
"""The Dockerfile's CMD without the tunables (container paths and port)."""


class BaselineAdapter(Adapter):
    name = "baseline"
    display_name = "Baseline (Starlette/uvicorn)"
    protocol = 'JSON: POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}]}'
    package = "uvicorn"
    metrics_absent = "exposes nothing: a plain Starlette app has no metrics endpoint"
    stop_timeout_s = 10.0
    notes = "No framework: one JSON endpoint, no batching; inference runs on the event loop."
    codec = TextsJsonCodec()

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(Tunables(), "one uvicorn worker, one ORT thread: what `uvicorn app:app` gives"),
            # One worker per CPU: a second worker on one CPU only adds context switches; batching does
            # not exist here. So tuned equals default on a one-CPU budget, and uses every CPU given.
            "tuned": Preset(Tunables(), "one worker per CPU of the budget; no batching exists here"),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if tunables.batching:
            raise ValueError("baseline has no server-side batching: use max_batch_size=1")

    @staticmethod
    def tunable_args(tunables: Tunables) -> list[str]:
        """uvicorn's flags for the tunables (threads reach the predictor through SB_THREADS)."""
        return ["--workers", str(tunables.workers)]

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [
            str(python), "-m", "uvicorn", "app:app",
            "--host", spec.host, "--port", str(spec.ports["http"]),
            "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--timeout-graceful-shutdown", "3",
            *self.tunable_args(spec.tunables),
        ]
        return ServerCommand(argv, cwd=self.server_dir)

    def container_command(self, tunables: Tunables) -> list[str]:
        return [*IMAGE_COMMAND, *self.tunable_args(tunables)]


ADAPTER = BaselineAdapter()
