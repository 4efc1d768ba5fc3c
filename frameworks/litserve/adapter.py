"""LitServe (Lightning AI): the shared model as a ``LitAPI`` behind ``LitServer`` on one CPU device."""

from __future__ import annotations

from pathlib import Path

from servingbench.adapter import Adapter, LaunchSpec, Preset, ServerCommand, Tunables
from servingbench.codecs.rest import TextsJsonCodec

APP = "frameworks/litserve/server/lit_app.py"
IMAGE_COMMAND = ["python", APP, "--host", "0.0.0.0", "--port", "8000"]
"""The Dockerfile's CMD without the tunables (container paths and port; tini -g is its ENTRYPOINT)."""


class LitServeAdapter(Adapter):
    name = "litserve"
    display_name = "LitServe"
    protocol = 'LitServe JSON: POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}]}'
    package = "litserve"
    ready_timeout_s = 90.0
    stop_timeout_s = 15.0
    metrics_absent = ("exposes no metrics endpoint: LitServe 0.2 serves /metrics only when the application "
                      "mounts one (a litserve.Logger written against prometheus_client); the served API "
                      "here adds none, as a stock LitServer")
    codec = TextsJsonCodec()
    notes = (
        "litserve 0.2.19 on FastAPI/uvicorn. A start is 5 processes with one worker: the main process, a "
        "multiprocessing Manager holding the request queue, one inference worker per workers_per_device and "
        "as many uvicorn API-server processes (forked, sharing the socket the main process bound); every "
        "request crosses the Manager queue twice (in and out). LitServe accepts only 127.0.0.1, 0.0.0.0 or "
        ":: as host; this adapter binds 127.0.0.1. Its main process has no SIGTERM handler: SIGTERM to it "
        "alone orphans the workers, still serving; the harness (and tini -g in the image) signals the group. "
        "generate_client_file=False (otherwise it writes client.py into the working directory). Batching is "
        "the LitAPI's max_batch_size / batch_timeout (max_batch_delay_ms); a batch is a list of requests "
        "run as one model call. Bad input: the glue declares a pydantic request model, which LitServe hands "
        "to FastAPI, so a malformed or wrong-schema body, a text over 100,000 characters and a body without "
        "a JSON Content-Type get 422 and invalid UTF-8 400 (with an untyped decode_request LitServe answers "
        "all of these 500); an empty list gets 200 with no predictions. Access log off, log level warning."
    )

    def presets(self) -> dict[str, Preset]:
        return {
            "default": Preset(
                Tunables(),
                "LitServe's defaults: workers_per_device=1 on one CPU device, max_batch_size=1 (no "
                "batching), batch_timeout=0, one API-server process per worker",
            ),
            "tuned": Preset(
                Tunables(), "the defaults: not tuned on this machine yet (`make tune FRAMEWORK=litserve`)",
            ),
        }

    def validate(self, tunables: Tunables) -> None:
        super().validate(tunables)
        if not tunables.batching and tunables.max_batch_delay_ms:
            raise ValueError("litserve: batch_timeout (max_batch_delay_ms) needs max_batch_size > 1")

    @staticmethod
    def tunable_args(tunables: Tunables) -> list[str]:
        """lit_args.py's flags for the tunables (threads reach the predictor through SB_THREADS)."""
        t = tunables
        return ["--workers", str(t.workers), "--max-batch-size", str(t.max_batch_size),
                "--batch-timeout-ms", f"{t.max_batch_delay_ms:g}"]

    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        argv = [str(python), str(self.server_dir / "lit_app.py"), "--host", spec.host,
                "--port", str(spec.ports["http"]), *self.tunable_args(spec.tunables)]
        return ServerCommand(argv, cwd=spec.run_dir)

    def container_command(self, tunables: Tunables) -> list[str]:
        return [*IMAGE_COMMAND, *self.tunable_args(tunables)]


ADAPTER = LitServeAdapter()
