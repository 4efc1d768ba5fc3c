"""Remote launch mode: a server somebody else runs, benchmarked without launching anything.

The harness still talks the framework's native protocol through its adapter and still runs the parity
gate; what it cannot see is the server's processes, so CPU, memory and time to ready are recorded as
unavailable rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from servingbench.adapter import Adapter
from servingbench.servers.errors import NotReady
from servingbench.servers.readiness import wait_ready
from servingbench.servers.target import HttpTarget

REMOTE_READY_S = 30.0
"""A target must already serve: wait only briefly for it."""
UNWATCHED = ("unavailable: the target runs elsewhere, so its CPU, memory, processes and time to ready are "
             "not measured (and not estimated)")


@dataclass
class RemoteServer(HttpTarget):
    """A deployment at a user-given base URL."""

    @classmethod
    def from_url(cls, adapter: Adapter, url: str) -> RemoteServer:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"TARGET must look like http://host:port, got {url!r}")
        if parts.path not in ("", "/"):
            raise ValueError(f"TARGET is the server's base URL without a path, got {url!r}")
        return cls(adapter, parts.hostname, parts.port or 80, kind="remote")

    def launch_record(self) -> dict:
        return {"launch": "remote", "server_metrics": UNWATCHED,
                "framework_version": "not measured (remote target)"}

    def wait_ready(self, timeout_s: float = REMOTE_READY_S) -> None:
        """The target must already answer a real prediction; wait briefly, then fail clearly."""
        try:
            wait_ready(self, timeout_s=timeout_s)
        except NotReady as exc:
            raise NotReady(f"the target {self.base_url} does not answer {self.adapter.display_name}'s "
                           f"readiness request with a prediction. Is it that framework, serving this "
                           f"model, on that port?\n{exc}") from None


@contextmanager
def remote_target(adapter: Adapter, url: str) -> Iterator[RemoteServer]:
    """The remote deployment, once it answers a prediction; nothing to stop afterwards."""
    server = RemoteServer.from_url(adapter, url)
    server.wait_ready()
    yield server
