"""Process-tree bookkeeping: find every process a server started, stop them all, prove none is left.

A server is started in a new session, so its process-group id is its own pid. Some frameworks start
helpers in other groups (daemons that call setsid), so the tree is also followed by parentage, and
every pid ever seen is remembered: a helper whose parent has died is still ours to stop.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
from collections.abc import Iterable

import psutil

from servingbench.polling import poll_until


class ProcessTree:
    """All processes that belong to one started server, tracked as they come and go."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.pgid = root_pid
        self.known: dict[int, psutil.Process] = {}
        self.refresh()

    def refresh(self) -> list[psutil.Process]:
        """Current live members: descendants of the root, members of its group, and known pids."""
        found: dict[int, psutil.Process] = {}
        try:
            root = psutil.Process(self.root_pid)
            found[root.pid] = root
            for child in root.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            pass
        for proc in psutil.process_iter():
            try:
                if proc.pid not in found and os.getpgid(proc.pid) == self.pgid:
                    found[proc.pid] = proc
            except (ProcessLookupError, psutil.Error, PermissionError):
                continue
        for pid, proc in list(self.known.items()):
            if pid not in found and _alive(proc):
                found[pid] = proc
        for pid, proc in found.items():
            known = self.known.get(pid)
            # a recycled pid is a different process: compare creation times
            if known is None or not _same(known, proc):
                self.known[pid] = proc
        return [p for p in found.values() if _alive(p)]

    def alive(self) -> list[psutil.Process]:
        return [p for p in self.known.values() if _alive(p)]

    def _gone(self) -> bool:
        """Nothing of the tree is alive any more (refreshed first, so late helpers count)."""
        self.refresh()
        return not self.alive()

    def signal_all(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)
        for proc in self.alive():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)

    def stop(self, timeout_s: float, first_signal: int = signal.SIGTERM) -> list[str]:
        """Signal the tree, wait, then SIGKILL what is left. Returns what needed SIGKILL."""
        self.refresh()
        self.signal_all(first_signal)
        if poll_until(self._gone, timeout_s=timeout_s, interval_s=0.1).done:
            return []
        stubborn = [describe(p) for p in self.alive()]
        self.signal_all(signal.SIGKILL)
        _, still = psutil.wait_procs(self.alive(), timeout=5)
        return stubborn + [f"{describe(p)} survived SIGKILL" for p in still]


def listening_on(ports: Iterable[int]) -> list[str]:
    """Who listens on any of these TCP ports (any address)."""
    wanted = set(ports)
    found = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in wanted:
            found.append(f"port {conn.laddr.port} on {conn.laddr.ip} (pid {conn.pid})")
    return found


def listening_ports(pids: Iterable[int]) -> list[tuple[str, int]]:
    """(address, port) of every listening socket owned by these pids."""
    wanted = set(pids)
    return [
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in wanted and c.laddr
    ]


def is_loopback(address: str) -> bool:
    """127.0.0.0/8 or ::1 (also as an IPv4-mapped address); "0.0.0.0", "::" and real interfaces are not."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool((mapped or ip).is_loopback)


def non_loopback_listeners(pids: Iterable[int]) -> list[str]:
    """Every listening socket of these pids that is reachable from other machines, as "ADDRESS:PORT".

    DESIGN: servers bind to loopback unless a user targets a remote deployment; this is the check."""
    exposed = {f"{ip}:{port}" for ip, port in listening_ports(pids) if not is_loopback(ip)}
    return sorted(exposed)


def describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid} ({' '.join(proc.cmdline())[:120] or proc.name()})"
    except psutil.Error:
        return f"pid {proc.pid}"


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _same(a: psutil.Process, b: psutil.Process) -> bool:
    try:
        return a.create_time() == b.create_time()
    except psutil.Error:
        return False
