"""Baseline: the same model behind a plain Starlette/uvicorn app, i.e. serving with no framework."""

from __future__ import annotations

from pathlib import Path

from servingbench.adapter import (
    Adapter,
    LaunchSpec,
    Preset,
    ServerCommand,
    TextsJsonCodec,
    Tunables,
)


class BaselineAdapter(TextsJsonCodec, Adapter):
    name = "baseline"
    display_name = "Baseline (Starlette/uvicorn)"
    protocol = 'JSON: POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}]}'
    package = "uvicorn"
    stop_timeout_s = 10.0
    notes = "No framework: one JSON endpoint, no batching; inference runs on the event loop."

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

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [
            str(python), "-m", "uvicorn", "app:app",
            "--host", spec.host, "--port", str(spec.ports["http"]),
            "--workers", str(spec.tunables.workers),
            "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--timeout-graceful-shutdown", "3",
        ]
        return ServerCommand(argv, cwd=self.server_dir)



ADAPTER = BaselineAdapter()
