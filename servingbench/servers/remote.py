"""A server somebody else runs: benchmark an existing deployment without launching anything.

The harness still talks the framework's native protocol through its adapter and still runs the parity
gate; what it cannot see is the server's processes, so CPU, memory and time to ready are recorded as
unavailable rather than guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from servingbench.adapter import Adapter, HttpRequest, Prediction
from servingbench.servers.local import LaunchError, http_send


@dataclass
class RemoteServer:
    adapter: Adapter
    host: str
    port: int
    log_path: None = None
    time_to_ready_s: None = None

    @classmethod
    def from_url(cls, adapter: Adapter, url: str) -> RemoteServer:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"TARGET must look like http://host:port, got {url!r}")
        if parts.path not in ("", "/"):
            raise ValueError(f"TARGET is the server's base URL without a path, got {url!r}")
        return cls(adapter, parts.hostname, parts.port or 80)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def exited(self) -> None:
        return None  # not ours: a failing remote shows up as errors and a failed parity gate

    def send(self, request: HttpRequest, timeout: float = 30.0) -> tuple[int, bytes]:
        return http_send(self.host, self.port, request, timeout)

    def predict(self, texts: list[str], timeout: float = 30.0) -> list[Prediction]:
        status, body = self.send(self.adapter.encode(texts), timeout)
        return self.adapter.decode(status, body)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """The target must already answer a real prediction; wait briefly, then fail clearly."""
        deadline = time.monotonic() + timeout_s
        probe = self.adapter.readiness_request()
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                status, body = self.send(probe, timeout=10)
                if self.adapter.check_ready(status, body):
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise LaunchError(f"the target {self.base_url} does not answer {self.adapter.display_name}'s "
                          f"{probe.method} {probe.path} with a prediction ({last}). Is it that framework, "
                          "serving this model, on that port?")
