"""Local launch mode: the framework's server as a process group on this machine, on its own CPU set.

The launcher owns the server's whole life: free ports, a process group pinned to the server's CPUs, a
log file in the run folder, the readiness loop, and a verified stop: no process of the tree and no
listening port may be left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servingbench.adapter import Adapter, LaunchSpec, Tunables
from servingbench.envs import REPO
from servingbench.envs.venvs import ensure_env
from servingbench.polling import poll_until
from servingbench.servers.environment import server_environment
from servingbench.servers.errors import LaunchError, PortInUse, ServerDied
from servingbench.servers.net import HOST, allocate_ports, free_port
from servingbench.servers.procs import ProcessTree, describe, listening_on, non_loopback_listeners
from servingbench.servers.readiness import ReadyWait, wait_ready
from servingbench.servers.spawn import spawn_pinned
from servingbench.servers.target import HttpTarget, file_tail

__all__ = ["HOST", "LaunchError", "LocalServer", "PortInUse", "ServerDied", "free_port", "launched"]


@dataclass
class LocalServer(HttpTarget):
    """A running local server: how to reach it and what it is made of."""

    spec: LaunchSpec | None = None
    proc: subprocess.Popen | None = None
    process_tree: ProcessTree | None = None
    log_path: Path | None = None
    started_at: float = 0.0
    exposed: list[str] | None = None
    """Listening sockets of the server's tree not on loopback, checked once it is ready."""

    @property
    def tree(self) -> ProcessTree | None:
        return self.process_tree

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def exited(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def log_tail(self, lines: int = 30) -> str:
        return f"({self.log_path})\n{file_tail(self.log_path, lines)}"

    def launch_record(self) -> dict:
        return {"launch": "local", "ports": dict(self.spec.ports) if self.spec else {},
                "exposed_listeners": list(self.exposed or [])}


Server = LocalServer
"""The name tests and older callers use."""


def framework_python(adapter: Adapter) -> Path:
    """The framework environment's interpreter, created on first use."""
    return ensure_env(adapter.name, adapter.requirements, adapter.python)


def _server_env(adapter: Adapter, spec: LaunchSpec, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(adapter.server_dir)])
    # libraries write caches under $HOME (ONNX Runtime: ~/.cache/Microsoft): keep them in the run
    env.update(server_environment(spec.tunables, model_dir=str(spec.model_dir), run_dir=str(spec.run_dir),
                                  temp_dir=str(spec.temp), home=str(spec.run_dir / "home")))
    env.update(extra)
    return env


@contextmanager
def launched(
    adapter: Adapter,
    tunables: Tunables,
    *,
    run_dir: Path,
    model_dir: Path,
    cpus: tuple[int, ...] | None = None,
    http_port: int | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    server_metrics: bool = True,
    wait: ReadyWait = wait_ready,
) -> Iterator[LocalServer]:
    """Start the server, wait for the model to answer, yield it, then stop and verify the stop.

    ``wait``: the readiness wait (the cold-start scenario passes one that also times the first correct
    prediction from the moment of spawn)."""
    adapter.validate(tunables)
    python = framework_python(adapter)
    cpus = tuple(cpus or sorted(os.sched_getaffinity(0)))
    run_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("tmp", "home"):
        (run_dir / sub).mkdir(exist_ok=True)
    ports = allocate_ports(adapter.port_names, http_port)
    short_tmp = short_link(run_dir / "tmp")
    try:
        spec = LaunchSpec(HOST, ports, cpus, Path(model_dir), run_dir, tunables, tmp_dir=short_tmp,
                          server_metrics=server_metrics)
        yield from _run(adapter, spec, python, progress, wait)
    finally:
        shutil.rmtree(short_tmp.parent, ignore_errors=True)  # the link and its folder, not the target


def short_link(target: Path) -> Path:
    """A short path to ``target``: a symlink in a private folder under the system temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="sb-"))
    link = folder / "t"
    link.symlink_to(target.resolve(), target_is_directory=True)
    return link


def _start(adapter: Adapter, spec: LaunchSpec, python: Path) -> LocalServer:
    adapter.prepare(spec, python)
    command = adapter.command(spec, python)
    log_path = spec.run_dir / "server.log"
    with open(log_path, "ab") as log:
        proc = spawn_pinned(command.argv, cpus=spec.cpus, env=_server_env(adapter, spec, command.env),
                            cwd=command.cwd or spec.run_dir, log=log, ports=spec.ports)
    (spec.run_dir / "server.pid").write_text(f"{proc.pid}\n")
    return LocalServer(adapter, spec.host, spec.ports["http"], kind="local", spec=spec, proc=proc,
                       process_tree=ProcessTree(proc.pid), log_path=log_path, started_at=time.monotonic())


def _run(adapter: Adapter, spec: LaunchSpec, python: Path, progress: Callable[[str], None],
         wait: ReadyWait = wait_ready) -> Iterator[LocalServer]:
    progress(f"starting {adapter.display_name} on CPUs {','.join(map(str, spec.cpus))}")
    server = _start(adapter, spec, python)
    try:
        server.time_to_ready_s = wait(server, timeout_s=adapter.ready_timeout_s, spec=spec,
                                            started_at=server.started_at, progress=progress)
        assert server.process_tree is not None
        members = server.process_tree.refresh()
        progress(f"ready in {server.time_to_ready_s:.1f} s")
        server.exposed = non_loopback_listeners([p.pid for p in members])
        if server.exposed:
            progress(f"WARNING: {adapter.display_name} listens beyond loopback: {', '.join(server.exposed)}")
        yield server
    except BaseException as exc:
        try:
            stop(server)
        except LaunchError as stop_error:
            exc.add_note(f"while stopping after this error: {stop_error}")
        raise
    stop(server)


def stop(server: LocalServer) -> None:
    """Stop the whole tree (term, wait, kill), then verify nothing runs or listens on its ports."""
    assert server.process_tree is not None and server.proc is not None and server.spec is not None
    started = time.monotonic()
    killed = server.process_tree.stop(server.adapter.stop_timeout_s)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout=5)
    leftovers = [describe(p) for p in server.process_tree.refresh()]
    ports = server.spec.ports.values()
    listeners = poll_until(lambda: listening_on(ports), until=lambda found: not found, timeout_s=5,
                           interval_s=0.2).value or []
    server.stop_report = {
        "stop_s": round(time.monotonic() - started, 2),
        "needed_sigkill": killed,
        "left_running": leftovers,
        "left_listening": listeners,
    }
    if leftovers or listeners:
        raise LaunchError(
            f"{server.adapter.display_name} left things behind after stop: "
            f"{'; '.join(leftovers + listeners)}"
        )
