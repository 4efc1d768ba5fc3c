"""Nothing left, nothing exposed: children die with the harness, leftovers of dead runs are reaped (never a
recycled pid), and listeners beyond loopback are found. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from servingbench.envs import REPO
from servingbench.servers import registry
from servingbench.servers.procs import is_loopback, non_loopback_listeners

PARENT = textwrap.dedent("""
    import json, sys, time
    from servingbench.servers.net import free_port
    from servingbench.servers.spawn import spawn_pinned
    port = free_port()
    noop = spawn_pinned([sys.executable, "-m", "servingbench.load.noop_server", "--port", str(port)],
                        cpus=None)
    sleeper = spawn_pinned(["sleep", "300"], cpus=None)
    # a shell that backgrounds a grandchild: the parent-death signal reaches the shell, not the grandchild
    shell = spawn_pinned(["sh", "-c", "sleep 301 & wait"], cpus=None)
    pids = {"noop": noop.pid, "sleeper": sleeper.pid, "shell": shell.pid, "port": port}
    print(json.dumps(pids), flush=True)
    time.sleep(600)
""")


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if registry.create_time(p) is not None]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def _grandchildren(shell_pid: int) -> list[int]:
    """The shell's backgrounded sleep: in the shell's process group (the shell may already be gone)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if os.getpgid(proc.pid) == shell_pid and proc.info["cmdline"] == ["sleep", "301"]:
                found.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


@pytest.fixture
def running_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "running"
    monkeypatch.setenv(registry.DIR_VAR, str(folder))
    return folder


def test_children_die_with_a_sigkilled_harness_and_the_reaper_ends_grandchildren(running_dir: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(REPO)), start_new_session=True)
    try:
        started = json.loads(parent.stdout.readline())
        deadline = time.monotonic() + 30
        while not any(c.laddr.port == started["port"] for c in psutil.net_connections("inet")
                      if c.status == psutil.CONN_LISTEN):
            assert time.monotonic() < deadline, "the no-op server never listened"
            time.sleep(0.2)
        grandchildren = _grandchildren(started["shell"])
        assert grandchildren, "the shell's background sleep did not start"
        assert len(json.loads(next(running_dir.glob("harness-*.json")).read_text())["groups"]) == 3
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    direct = [started["noop"], started["sleeper"], started["shell"]]
    assert _wait_gone(direct, 15) == [], "direct children outlived the harness (no parent-death signal)"
    assert _wait_gone(grandchildren, 1) == grandchildren, "expected the grandchild to survive until reaped"
    killed = registry.reap_leftovers()
    assert killed and _wait_gone(grandchildren, 10) == []
    assert not list(running_dir.glob("harness-*.json")), "a reaped harness's file is forgotten"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _registry_file(folder: Path, pid: int, created: float | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "harness-1-0.json"
    group = {"pid": pid, "pgid": pid, "create_time": created, "token": "not-its-token", "argv": ["sleep"],
             "ports": {}}
    path.write_text(json.dumps({"harness_pid": _dead_pid(), "harness_create_time": 1.0, "groups": [group]}))
    return path


def test_reaper_leaves_a_recycled_pid_alone_and_kills_a_verified_one(running_dir: Path) -> None:
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        created = registry.create_time(bystander.pid)
        assert created is not None
        path = _registry_file(running_dir, bystander.pid, created - 50.0)  # same pid, another process
        assert registry.reap_leftovers() == []
        assert bystander.poll() is None and not path.exists()
        _registry_file(running_dir, bystander.pid, created)  # now it is the recorded process
        assert len(registry.reap_leftovers()) == 1
        assert bystander.wait(timeout=10) == -signal.SIGKILL
    finally:
        if bystander.poll() is None:
            bystander.kill()
            bystander.wait()


def test_reaper_leaves_files_of_a_live_harness(running_dir: Path) -> None:
    from servingbench.servers.spawn import spawn_pinned

    child = spawn_pinned(["sleep", "300"], cpus=None)
    try:
        assert registry.reap_leftovers() == []  # this process is the harness, and it is alive
        assert child.poll() is None
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.53") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")


def test_listeners_beyond_loopback_are_found() -> None:
    script = ("import socket, sys, time\n"
              "for host in ('127.0.0.1', '0.0.0.0'):\n"
              "    s = socket.socket(); s.bind((host, 0)); s.listen(); globals()[host] = s\n"
              "    print(s.getsockname()[1], flush=True)\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        local_port, open_port = int(proc.stdout.readline()), int(proc.stdout.readline())
        assert non_loopback_listeners([proc.pid]) == [f"0.0.0.0:{open_port}"]
        assert local_port != open_port
    finally:
        proc.kill()
        proc.wait()
