"""The run registry: every process group the harness starts, so that a later run can reap leftovers.

A harness killed with SIGKILL runs no cleanup. The parent-death signal (servers/spawn.py) reaches only
its direct children; grandchildren (uvicorn workers, Ray daemons that call setsid) survive it. So each
harness process keeps one file here listing the groups it started, and at the start of every run the
files whose harness is dead are reaped. Nothing is killed on a pid alone (pids are recycled): a group
leader must match its recorded pid, process group and creation time, and any other process must carry
the group's token in its environment (spawn_pinned sets it; descendants inherit it).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

TOKEN_VAR = "SERVINGBENCH_GROUP_TOKEN"
DIR_VAR = "SERVINGBENCH_RUNNING_DIR"
_LOCK = threading.Lock()


def registry_dir() -> Path:
    """$SERVINGBENCH_RUNNING_DIR, else running/ in the harness cache (shared by every checkout)."""
    from servingbench.envs.venvs import cache_root

    return Path(os.environ.get(DIR_VAR) or cache_root() / "running")


def new_token() -> str:
    return uuid.uuid4().hex


def create_time(pid: int) -> float | None:
    """A process's creation time, None when it does not exist (or is a zombie)."""
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except psutil.Error:
        return None


def _same_time(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 0.01


def _harness_file() -> Path:
    """Named by pid and creation time: a recycled pid never overwrites a dead harness's file."""
    return registry_dir() / f"harness-{os.getpid()}-{int((create_time(os.getpid()) or 0) * 100)}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{threading.get_ident()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def record_group(pid: int, token: str, argv: list[str], ports: dict[str, int]) -> None:
    """Add a started group to this harness's file; groups whose leader has gone are dropped."""
    me = os.getpid()
    entry = {"pid": pid, "pgid": pid, "create_time": create_time(pid), "token": token,
             "argv": [str(a) for a in argv][:8], "ports": ports, "started": time.time()}
    with _LOCK:
        path = _harness_file()
        data = _read(path) or {"harness_pid": me, "harness_create_time": create_time(me), "groups": []}
        groups = [g for g in data["groups"] if _same_time(create_time(g["pid"]), g.get("create_time"))]
        data["groups"] = [*groups, entry]
        _write(path, data)


def _forget_if_done() -> None:
    """At a normal exit, drop this harness's file once none of its recorded group leaders runs."""
    path = _harness_file()
    data = _read(path)
    if data is not None and not any(_same_time(create_time(g["pid"]), g.get("create_time"))
                                    for g in data.get("groups", [])):
        with contextlib.suppress(OSError):
            path.unlink()


atexit.register(_forget_if_done)


def harness_alive(data: dict[str, Any]) -> bool:
    """The recorded harness still runs: same pid *and* same creation time (not a recycled pid)."""
    pid = data.get("harness_pid")
    return isinstance(pid, int) and _same_time(create_time(pid), data.get("harness_create_time"))


def _kill_leader(group: dict[str, Any]) -> str | None:
    """SIGKILL a recorded group if its leader is verifiably the process that was started."""
    pid, pgid = group.get("pid"), group.get("pgid")
    if not isinstance(pid, int) or not _same_time(create_time(pid), group.get("create_time")):
        return None
    try:
        if os.getpgid(pid) != pgid:
            return None
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return None
    return f"group {pgid} ({' '.join(group.get('argv', []))[:100]}; ports {group.get('ports') or '-'})"


def _kill_token_holders(tokens: set[str]) -> list[str]:
    """SIGKILL every process whose environment carries one of ``tokens`` (descendants of dead runs)."""
    killed = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(TOKEN_VAR) in tokens:
                proc.kill()
                killed.append(f"pid {proc.pid} ({proc.name()})")
        except (psutil.Error, OSError):
            continue
    return killed


def reap_leftovers() -> list[str]:
    """Kill what dead harnesses started and forget their files; returns what was killed."""
    killed: list[str] = []
    folder = registry_dir()
    for path in sorted(folder.glob("harness-*.json")) if folder.is_dir() else []:
        data = _read(path)
        if data is None or harness_alive(data):
            continue
        groups = data.get("groups") or []
        killed += [k for k in (_kill_leader(g) for g in groups) if k]
        killed += _kill_token_holders({g["token"] for g in groups if g.get("token")})
        with contextlib.suppress(OSError):
            path.unlink()
    return killed
