"""The one readiness loop: a server is ready when a real prediction comes back, not when it says so.

Liveness endpoints answer before the model loads (DESIGN.md), so every launch mode polls the adapter's
readiness request (a prediction by default) until the adapter accepts the answer, the server dies, or
the time limit passes; the last answer and the log tail go into the error.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from typing import Protocol

from servingbench.adapter import LaunchSpec
from servingbench.polling import poll_until
from servingbench.servers.errors import NotReady, ServerDied
from servingbench.servers.target import Target

POLL_S = 0.25
NOTE_EVERY_S = 10.0


class ReadyWait(Protocol):
    """What a launcher calls to wait for readiness (``wait_ready``, or a caller's own that also times
    something, like the cold-start scenario's first correct prediction); returns seconds to ready."""

    def __call__(self, target: Target, *, timeout_s: float, spec: LaunchSpec | None = None,
                 started_at: float | None = None, progress: Callable[[str], None] = ...,
                 hint: str = "") -> float: ...


def wait_ready(target: Target, *, timeout_s: float, spec: LaunchSpec | None = None,
               started_at: float | None = None, progress: Callable[[str], None] = lambda _m: None,
               hint: str = "") -> float:
    """Poll until the model answers; returns seconds from ``started_at`` (default: now) to ready."""
    adapter = target.adapter
    started = time.monotonic() if started_at is None else started_at
    probe = adapter.readiness_request()
    last_note = started

    def attempt() -> tuple[bool, str]:
        """One readiness request: (ready, the answer to quote if it never gets ready)."""
        nonlocal last_note
        code = target.exited()
        if code is not None:
            raise ServerDied(f"{adapter.display_name} exited with code {code} before it became ready.\n"
                             f"Last lines of its log:\n{target.log_tail()}")
        try:
            status, body = target.send(probe, timeout=10.0)
            if adapter.check_ready(status, body, spec):
                return True, ""
            last = f"HTTP {status}: {body[:200]!r}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if now - last_note > NOTE_EVERY_S:
            progress(f"waiting for the model to answer ({now - started:.0f} s)")
            last_note = now
        if target.tree is not None:
            target.tree.refresh()  # remember helpers as they appear: ours to stop even if orphaned
        return False, last

    polled = poll_until(attempt, until=lambda answer: answer[0], timeout_s=timeout_s, interval_s=POLL_S,
                        started_at=started)
    if polled.done:
        return polled.elapsed_s
    last = polled.value[1] if polled.value is not None else "no answer yet"
    raise NotReady(
        f"{adapter.display_name} at {target.base_url} did not become ready within {timeout_s:.0f} s "
        f"(readiness goes through the model: {probe.method} {probe.path}; last answer: {last}). "
        f"{hint}\nLast lines of its log:\n{target.log_tail()}"
    )
