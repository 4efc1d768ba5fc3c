"""The one way the harness starts a long-lived child: its own process group, pinned to a CPU set.

A new session makes the child's process-group id its pid, so the whole group can be signalled and
reaped by pid (never by name); the CPU affinity keeps servers and load generators on separate CPUs.

Children must not outlive the harness (a harness killed with SIGKILL once left a server listening).
Two guards: the kernel's parent-death signal (SIGTERM to the direct child when the harness dies, so a
server can still stop its own workers), and the run registry (servers/registry.py), which records every
started group so that the next run reaps what the parent-death signal did not reach.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from servingbench.servers import registry

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None
"""Loaded before any fork: the preexec hook of a child must not import or load libraries."""


def _preexec(cpus: tuple[int, ...] | None, parent: int) -> Callable[[], None]:
    """What the child runs between fork and exec: parent-death signal, then the CPU affinity.

    The signal is tied to the forking *thread*, and only reaches the direct child (grandchildren are
    the registry's). If the harness died before prctl took effect, the child stops at once.
    """
    def hook() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
        if cpus:
            os.sched_setaffinity(0, cpus)
    return hook


def spawn_pinned(argv: list[str], *, cpus: tuple[int, ...] | None, env: dict[str, str] | None = None,
                 cwd: Path | str | None = None, log: IO[bytes] | int | None = None,
                 ports: Mapping[str, int] | None = None) -> subprocess.Popen:
    """Start ``argv`` in a new session on ``cpus`` (None: inherit), stdout and stderr to ``log``.

    The started group is recorded in the run registry (with ``ports`` if it is a server), and its
    environment carries a token that marks every descendant as this group's.
    """
    token = registry.new_token()
    child_env = dict(os.environ if env is None else env, **{registry.TOKEN_VAR: token})
    proc = subprocess.Popen(
        argv, env=child_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT if log is not None else None,
        stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_preexec(cpus, os.getpid()),
    )
    registry.record_group(proc.pid, token, argv, dict(ports or {}))
    return proc
