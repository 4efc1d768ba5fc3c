"""One entry for every launch mode: ``launch(...)`` yields a ready Target and stops it afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servingbench.adapter import Adapter, Tunables
from servingbench.servers.readiness import ReadyWait, wait_ready
from servingbench.servers.target import Target

LAUNCH_MODES = ("local", "docker", "remote")


@dataclass(frozen=True)
class LaunchOptions:
    """Where and how the server runs; ``target`` (a base URL) means it already runs elsewhere."""

    mode: str = "local"
    cpus: tuple[int, ...] = ()
    http_port: int | None = None
    target: str | None = None
    memory: str = "2g"
    """Memory limit of a container (docker mode)."""

    def __post_init__(self) -> None:
        if self.mode not in LAUNCH_MODES:
            raise ValueError(f"unknown launch mode {self.mode!r}; choose one of: {', '.join(LAUNCH_MODES)}")
        if (self.mode == "remote") != bool(self.target):
            raise ValueError("remote launch mode needs a TARGET base URL, and a TARGET means remote mode")

    @property
    def on_this_machine(self) -> bool:
        """The server runs on this machine's CPUs (so the in-process reference is comparable)."""
        return self.mode != "remote"


@contextmanager
def launch(adapter: Adapter, tunables: Tunables, options: LaunchOptions, *, run_dir: Path, model_dir: Path,
           run_id: str, progress: Callable[[str], None] = lambda _m: None,
           wait: ReadyWait = wait_ready) -> Iterator[Target]:
    """Start (or reach) the server, yield it once the model answers, stop it and verify the stop.

    ``wait`` replaces the readiness wait of a server this harness starts (local or docker)."""
    adapter.validate(tunables)
    if options.mode == "remote":
        from servingbench.servers.remote import remote_target

        progress(f"remote target {options.target}: checking that it answers")
        with remote_target(adapter, options.target or "") as server:
            yield server
    elif options.mode == "docker":
        from servingbench.servers.container import docker_launched

        with docker_launched(adapter, tunables, cpus=options.cpus, memory=options.memory, model_dir=model_dir,
                             run_id=run_id, http_port=options.http_port, progress=progress,
                             wait=wait) as server:
            yield server
    else:
        from servingbench.servers.local import launched

        with launched(adapter, tunables, run_dir=run_dir, model_dir=model_dir, cpus=options.cpus,
                      http_port=options.http_port, progress=progress, wait=wait) as server:
            yield server
