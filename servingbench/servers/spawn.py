"""The one way the harness starts a long-lived child: its own process group, pinned to a CPU set.

A new session makes the child's process-group id its pid, so the whole group can be signalled and
reaped by pid (never by name); the CPU affinity keeps servers and load generators on separate CPUs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import IO


def spawn_pinned(argv: list[str], *, cpus: tuple[int, ...] | None, env: dict[str, str] | None = None,
                 cwd: Path | str | None = None, log: IO[bytes] | int | None = None) -> subprocess.Popen:
    """Start ``argv`` in a new session on ``cpus`` (None: inherit), stdout and stderr to ``log``."""
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT if log is not None else None,
        stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=pin,
    )
