"""Start a framework's server on its own CPUs, wait until the model answers, stop everything after.

The launcher owns the server's whole life: free ports, a process group pinned to the server's CPU
set, a log file in the run folder, a readiness check that goes through the model, and a shutdown that
is verified: no process of the tree and no listening port may be left.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from servingbench.adapter import Adapter, HttpRequest, LaunchSpec, Prediction, Tunables
from servingbench.envs import REPO, ensure_env
from servingbench.servers.procs import ProcessTree, describe, listening_on

HOST = "127.0.0.1"


class LaunchError(RuntimeError):
    """The server could not be started or stopped cleanly; the message says why and what to do."""


class PortInUse(LaunchError):
    pass


class ServerDied(LaunchError):
    pass


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log written)"
    return "\n".join("    " + line for line in text) or "    (log is empty)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def check_port_free(port: int) -> None:
    """Raise PortInUse naming who holds the port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return
        except OSError:
            pass
    holders = listening_on([port]) or ["an unknown process"]
    raise PortInUse(
        f"port {port} is already in use: {'; '.join(holders)}. "
        "Stop that process or choose another port (PORT=... for make bench)."
    )


def allocate_ports(names: tuple[str, ...], http_port: int | None = None) -> dict[str, int]:
    """One distinct free loopback port per name; ``http_port`` if the user chose one."""
    ports: dict[str, int] = {}
    for name in names:
        if name == "http" and http_port:
            check_port_free(http_port)
            ports[name] = http_port
            continue
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    return ports


def http_send(host: str, port: int, request: HttpRequest, timeout: float = 30.0) -> tuple[int, bytes]:
    """One real HTTP request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(request.method, request.path, body=request.body, headers=request.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Server:
    """A running server: how to reach it and what it is made of."""

    adapter: Adapter
    spec: LaunchSpec
    proc: subprocess.Popen
    tree: ProcessTree
    log_path: Path
    started_at: float
    time_to_ready_s: float = float("nan")
    stop_report: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.spec.host}:{self.spec.ports['http']}"

    def exited(self) -> int | None:
        return self.proc.poll()

    def send(self, request: HttpRequest, timeout: float = 30.0) -> tuple[int, bytes]:
        return http_send(self.spec.host, self.spec.ports["http"], request, timeout)

    def predict(self, texts: list[str], timeout: float = 30.0) -> list[Prediction]:
        status, body = self.send(self.adapter.encode(texts), timeout)
        return self.adapter.decode(status, body)


def framework_python(adapter: Adapter) -> Path:
    """The framework environment's interpreter, created on first use."""
    return ensure_env(adapter.name, adapter.requirements, adapter.python)


def _server_env(adapter: Adapter, spec: LaunchSpec, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME"))}
    threads = str(spec.tunables.threads_per_worker)
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), str(adapter.server_dir)]),
        SB_MODEL_DIR=str(spec.model_dir),
        SB_THREADS=threads,
        SB_RUN_DIR=str(spec.run_dir),
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        TMPDIR=str(spec.temp),
        # libraries write caches under $HOME (ONNX Runtime: ~/.cache/Microsoft): keep them in the run
        HOME=str(spec.run_dir / "home"),
    )
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
) -> Iterator[Server]:
    """Start the server, wait for the model to answer, yield it, then stop and verify the stop."""
    adapter.validate(tunables)
    python = framework_python(adapter)
    cpus = tuple(cpus or sorted(os.sched_getaffinity(0)))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "tmp").mkdir(exist_ok=True)
    (run_dir / "home").mkdir(exist_ok=True)
    ports = allocate_ports(adapter.port_names, http_port)
    short_tmp = short_link(run_dir / "tmp")
    try:
        spec = LaunchSpec(HOST, ports, cpus, Path(model_dir), run_dir, tunables, tmp_dir=short_tmp)
        yield from _run(adapter, spec, python, progress)
    finally:
        shutil.rmtree(short_tmp.parent, ignore_errors=True)  # the link and its folder, not the target


def short_link(target: Path) -> Path:
    """A short path to ``target``: a symlink in a private folder under the system temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="sb-"))
    link = folder / "t"
    link.symlink_to(target.resolve(), target_is_directory=True)
    return link


def _run(adapter: Adapter, spec: LaunchSpec, python: Path,
         progress: Callable[[str], None]) -> Iterator[Server]:
    run_dir, cpus = spec.run_dir, spec.cpus
    adapter.prepare(spec, python)
    command = adapter.command(spec, python)
    log_path = run_dir / "server.log"
    progress(f"starting {adapter.display_name} on CPUs {','.join(map(str, cpus))}")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command.argv,
            env=_server_env(adapter, spec, command.env),
            cwd=command.cwd or run_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        )
    (run_dir / "server.pid").write_text(f"{proc.pid}\n")
    server = Server(adapter, spec, proc, ProcessTree(proc.pid), log_path, time.monotonic())
    try:
        _wait_ready(server, progress)
        yield server
    except BaseException as exc:
        try:
            stop(server)
        except LaunchError as stop_error:
            exc.add_note(f"while stopping after this error: {stop_error}")
        raise
    stop(server)


def _wait_ready(server: Server, progress: Callable[[str], None]) -> None:
    adapter = server.adapter
    deadline = server.started_at + adapter.ready_timeout_s
    probe = adapter.readiness_request()
    last_note = 0.0
    while True:
        code = server.exited()
        if code is not None:
            raise ServerDied(
                f"{adapter.display_name} exited with code {code} before it became ready.\n"
                f"Last lines of {server.log_path}:\n{log_tail(server.log_path)}"
            )
        try:
            status, body = server.send(probe, timeout=10.0)
            if adapter.check_ready(status, body):
                server.time_to_ready_s = time.monotonic() - server.started_at
                server.tree.refresh()
                progress(f"ready in {server.time_to_ready_s:.1f} s")
                return
        except (OSError, http.client.HTTPException):
            pass
        now = time.monotonic()
        if now > deadline:
            raise LaunchError(
                f"{adapter.display_name} did not become ready within {adapter.ready_timeout_s:.0f} s "
                f"(readiness goes through the model: {probe.method} {probe.path}).\n"
                f"Last lines of {server.log_path}:\n{log_tail(server.log_path)}"
            )
        if now - last_note > 10:
            progress(f"waiting for the model to answer ({now - server.started_at:.0f} s)")
            last_note = now
        server.tree.refresh()
        time.sleep(0.25)


def stop(server: Server) -> None:
    """Stop the whole tree (term, wait, kill), then verify nothing runs or listens on its ports."""
    started = time.monotonic()
    killed = server.tree.stop(server.adapter.stop_timeout_s)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout=5)
    leftovers = [describe(p) for p in server.tree.refresh()]
    deadline = time.monotonic() + 5
    listeners = listening_on(server.spec.ports.values())
    while listeners and time.monotonic() < deadline:
        time.sleep(0.2)
        listeners = listening_on(server.spec.ports.values())
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
