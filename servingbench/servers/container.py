"""Docker launch mode as a Target: build the framework's image, run it on the server's CPU set and memory
budget, wait for the model, stop it afterwards.

The container's specification (ports, CPUs, memory, environment, command) is servers/docker.py's pure
``container_spec``; this module is the lifecycle around it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servingbench.adapter import Adapter, Tunables
from servingbench.envs import REPO
from servingbench.servers import docker
from servingbench.servers.net import HOST, allocate_ports
from servingbench.servers.readiness import ReadyWait, wait_ready
from servingbench.servers.target import HttpTarget

UNWATCHED = "unavailable in docker mode: the container's processes are not watched"


@dataclass
class ContainerServer(HttpTarget):
    """A running container of the framework's image, published on loopback."""

    spec: docker.ContainerSpec | None = None
    container: Any = None
    extra: dict = field(default_factory=dict)

    def exited(self) -> int | None:
        if self.container is None:
            return None
        with contextlib.suppress(Exception):
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                return int(self.container.attrs.get("State", {}).get("ExitCode", -1))
        return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.container.logs(tail=lines).decode(errors="replace")
        except Exception as exc:
            return f"    (container logs unavailable: {exc})"
        return "\n".join("    " + line for line in text.splitlines()) or "    (log is empty)"

    def launch_record(self) -> dict:
        assert self.spec is not None
        return {"launch": "docker", "image": self.spec.image, "ports": dict(self.spec.host_ports),
                "docker_run": docker.docker_command_line(self.spec), "image_command": self.spec.image_command,
                "container_tunables": self.spec.applied_tunables.as_dict(),
                "framework_version": f"image {self.spec.image}", "server_metrics": UNWATCHED}


@contextmanager
def docker_launched(adapter: Adapter, tunables: Tunables, *, cpus: tuple[int, ...], memory: str,
                    model_dir: Path, run_id: str, http_port: int | None = None,
                    progress: Callable[[str], None] = lambda _m: None,
                    wait: ReadyWait = wait_ready) -> Iterator[ContainerServer]:
    """Build (if needed) and run the image, yield it once the model answers, then ``docker stop`` it."""
    client = docker.connect()  # raises NoDockerDaemon with a clear message
    ports = allocate_ports(tuple(docker.container_ports(adapter)), http_port)
    spec = docker.container_spec(adapter, tunables, cpus=cpus, mem_limit=memory, ports=ports,
                                 model_dir=model_dir, run_id=run_id)
    progress(f"building {spec.image} from {docker.dockerfile_path(adapter).relative_to(REPO)}")
    docker.build_image(client, spec, log=progress)
    started = time.monotonic()
    server = ContainerServer(adapter, HOST, ports["http"], kind="docker", spec=spec,
                             container=docker.run_container(client, spec))
    try:
        server.time_to_ready_s = wait(server, timeout_s=adapter.ready_timeout_s, started_at=started,
                                            progress=progress)
        yield server
    finally:
        docker.stop_container(client, server.container, adapter.stop_timeout_s)
