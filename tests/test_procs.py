"""Stopping a process tree finds children in other sessions and leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time

import psutil

from servingbench.servers.procs import ProcessTree, listening_on

# A parent that ignores SIGTERM, with a child that escapes the process group (setsid) and listens.
SCRIPT = r"""
import os, signal, socket, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import socket, time; s = socket.socket(); "
    "s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(600)"],
    start_new_session=True, stdout=subprocess.PIPE, text=True)
print(child.stdout.readline().strip(), flush=True)
time.sleep(600)
"""


def test_stop_kills_escaped_children_and_frees_ports():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], start_new_session=True,
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    tree = ProcessTree(proc.pid)
    members = tree.refresh()
    assert len(members) == 2
    assert any(os.getpgid(p.pid) != proc.pid for p in members), "the child left the group"
    assert listening_on([port])
    started = time.monotonic()
    stubborn = tree.stop(timeout_s=1.0, first_signal=signal.SIGTERM)
    proc.wait(timeout=5)
    assert time.monotonic() - started < 10
    assert any(str(proc.pid) in s for s in stubborn), "the parent ignored SIGTERM and needed SIGKILL"
    assert tree.alive() == []
    assert not psutil.pid_exists(proc.pid) or psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE
    assert listening_on([port]) == []
