"""The one shape of a server under test, whatever launched it: a Target.

The run protocol (servingbench.protocol) sees only this: where to send requests, how to predict through
the framework's native protocol, whether the server has died, the tail of its log, and what the run
record should say about the launch. Local process groups, containers and remote deployments implement it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from servingbench.adapter import Adapter, HttpRequest, Prediction
from servingbench.servers.net import http_send
from servingbench.servers.procs import ProcessTree


@runtime_checkable
class Target(Protocol):
    adapter: Adapter
    kind: str
    """"local", "docker" or "remote": how the server was launched (recorded with the run)."""
    time_to_ready_s: float | None
    """From start to the first correct prediction; None where the harness did not start it."""

    @property
    def base_url(self) -> str: ...

    @property
    def tree(self) -> ProcessTree | None:
        """The server's processes when the harness can watch them (resource figures), else None."""

    def send(self, request: HttpRequest, timeout: float = 30.0) -> tuple[int, bytes]: ...

    def predict(self, texts: list[str], timeout: float = 30.0) -> list[Prediction]: ...

    def exited(self) -> int | None:
        """The exit code once the server has stopped, None while it runs (or when it is not ours)."""

    def log_tail(self, lines: int = 30) -> str: ...

    def launch_record(self) -> dict:
        """What the run record says about this launch (ports, image, why metrics are unavailable...)."""


@dataclass
class HttpTarget:
    """Shared part of every Target: an adapter and a loopback or remote HTTP endpoint."""

    adapter: Adapter
    host: str
    port: int
    kind: str = "remote"
    time_to_ready_s: float | None = None
    stop_report: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tree(self) -> ProcessTree | None:
        return None

    def send(self, request: HttpRequest, timeout: float = 30.0) -> tuple[int, bytes]:
        return http_send(self.host, self.port, request, timeout)

    def predict(self, texts: list[str], timeout: float = 30.0) -> list[Prediction]:
        status, body = self.send(self.adapter.encode(texts), timeout)
        return self.adapter.decode(status, body)

    def exited(self) -> int | None:
        return None

    def log_tail(self, lines: int = 30) -> str:
        return "    (the server's log is not available to the harness)"

    def launch_record(self) -> dict:
        return {"launch": self.kind}


def file_tail(path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, indented, for error messages."""
    if path is None:
        return "    (no log)"
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log written)"
    return "\n".join("    " + line for line in text) or "    (log is empty)"
