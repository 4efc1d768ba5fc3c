"""Docker launch mode: a framework's own image, run on the same CPU set and memory budget as a local run.

The container is described completely by :func:`container_spec` (pure: no daemon needed, so it is tested
for every framework), then built and started through the Docker SDK for Python. The image runs the
adapter's ``container_command`` (and ``container_env``), the Dockerfile's command with the run's tunables,
which serves on 0.0.0.0 *inside* the container; a run whose tunables the image cannot apply is refused,
never recorded as applied. Every port the Dockerfile EXPOSEs is published on the host's loopback only, as
local servers bind loopback (DESIGN.md, fair measurement).

Port naming: the first EXPOSEd port of every framework Dockerfile is the inference HTTP port (the
adapter's ``http``; tests/test_dockerfiles.py holds every Dockerfile to it). Further EXPOSEd ports (gRPC,
metrics) are published too, named ``port_<number>``: the harness only sends load to ``http``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from servingbench.adapter import Adapter, Tunables
from servingbench.envs import REPO
from servingbench.envs.venvs import all_requirement_lines
from servingbench.servers.environment import server_environment
from servingbench.servers.errors import LaunchError
from servingbench.servers.net import HOST

IMAGE_REPOSITORY = "servingbench"
"""Images are ``servingbench/<framework>:<content hash>`` (deploy/ refers to ``servingbench/<framework>``)."""
CONTAINER_MODEL_DIR = "/model"
LABEL = "servingbench"
"""Every image and container we create carries this label, so leftovers can be found and removed."""
DEFAULT_SHM_SIZE = "512m"
"""Docker's 64 MB /dev/shm is too small for Ray's object store and Triton's tensor exchange; same for all."""
_HASHED_SKIP = ("__pycache__", ".pyc", ".pytest_cache")


class NoDockerDaemon(LaunchError):
    """Docker launch mode was asked for but no daemon answers."""


# -- the Dockerfile, read statically -----------------------------------------------------------------
def dockerfile_path(adapter: Adapter) -> Path:
    return adapter.folder / "Dockerfile"


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, rest = text.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def exposed_ports(path: Path) -> tuple[int, ...]:
    """Container ports the Dockerfile EXPOSEs, in order (``8080/tcp`` counts as 8080)."""
    ports: list[int] = []
    for keyword, args in dockerfile_instructions(path):
        if keyword == "EXPOSE":
            ports += [int(re.sub(r"/tcp$", "", p)) for p in args.split()]
    return tuple(ports)


def container_ports(adapter: Adapter) -> dict[str, int]:
    """Port name -> container port: ``http`` is the first EXPOSEd port, the others ``port_<n>``."""
    exposed = exposed_ports(dockerfile_path(adapter))
    if not exposed:
        raise ValueError(f"{dockerfile_path(adapter)} EXPOSEs no port: docker launch mode cannot reach it")
    if "http" not in adapter.port_names:
        raise ValueError(f"{adapter.name}: the adapter has no 'http' port to send inference to")
    return {"http": exposed[0], **{f"port_{p}": p for p in exposed[1:]}}


def build_args(adapter: Adapter) -> dict[str, str]:
    """Values for the Dockerfile's ARGs from the environment, e.g. PIP_EXTRA_INDEX_URL (a pip mirror)."""
    names = [args.split("=", 1)[0] for keyword, args in dockerfile_instructions(dockerfile_path(adapter))
             if keyword == "ARG"]
    return {name: os.environ[name] for name in names if os.environ.get(name)}


# -- identity of the image -------------------------------------------------------------------------
def image_repository(framework: str) -> str:
    return f"{IMAGE_REPOSITORY}/{framework}"


def _hashed_files(adapter: Adapter) -> list[Path]:
    """What the image is built from: the framework folder and shared_model (both COPYed)."""
    files = [p for root in (adapter.folder, REPO / "shared_model") for p in root.rglob("*") if p.is_file()]
    return sorted(p for p in files if not any(s in p.as_posix() for s in _HASHED_SKIP))


def image_tag(adapter: Adapter) -> str:
    """``servingbench/<name>:<12 hex>`` from the Dockerfile, the expanded requirements and the copied code.

    Keyed like the framework environments: an unchanged image is reused, any change builds a new one.
    """
    digest = hashlib.sha256()
    digest.update(dockerfile_path(adapter).read_bytes())
    for name, value in sorted(build_args(adapter).items()):
        digest.update(f"ARG {name}={value}".encode() + b"\0")
    for line in all_requirement_lines(adapter.requirements):
        digest.update(line.encode() + b"\0")
    for path in _hashed_files(adapter):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{image_repository(adapter.name)}:{digest.hexdigest()[:12]}"


# -- the specification -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to build and run one framework's container, with no daemon involved."""

    framework: str
    image: str
    container_ports: dict[str, int]
    host_ports: dict[str, int]
    tunables: Tunables
    applied_tunables: Tunables
    """What the container applies: all of ``tunables`` (container_spec refuses a run it could not apply:
    the record never claims a tunable the container did not get)."""
    build: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``client.images.build``."""
    run: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``client.containers.run``."""
    image_command: bool = True
    """True: the Dockerfile's CMD runs unchanged, which serves the default preset (an adapter whose
    container_command is None, at the default preset; threads still reach it through SB_THREADS).
    False: ``run['command']`` (the adapter's container_command) replaces the CMD and applies the tunables."""

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.host_ports['http']}"


def _cpuset(cpus: tuple[int, ...]) -> str:
    if not cpus or any(c < 0 for c in cpus) or len(set(cpus)) != len(cpus):
        raise ValueError(f"the server needs a non-empty set of distinct CPUs, got {cpus}")
    return ",".join(str(c) for c in sorted(cpus))


def container_environment(tunables: Tunables) -> dict[str, str]:
    """What the local launcher gives every server, with the container's model path."""
    return server_environment(tunables, model_dir=CONTAINER_MODEL_DIR)


def container_spec(
    adapter: Adapter,
    tunables: Tunables,
    *,
    cpus: tuple[int, ...],
    mem_limit: str,
    ports: dict[str, int],
    model_dir: Path,
    run_id: str | None = None,
    shm_size: str = DEFAULT_SHM_SIZE,
) -> ContainerSpec:
    """The container for ``adapter`` on ``cpus`` with ``mem_limit`` (e.g. "2g").

    ``ports`` maps every name of :func:`container_ports` to a free host port (``launcher.allocate_ports``);
    each is published on 127.0.0.1 only. The model folder is mounted read-only at /model.
    """
    adapter.validate(tunables)
    inside = container_ports(adapter)
    if set(ports) != set(inside):
        raise ValueError(f"{adapter.name}: host ports needed for {sorted(inside)}, got {sorted(ports)}")
    model_dir = Path(model_dir).resolve()
    cpuset = _cpuset(cpus)
    image = image_tag(adapter)
    run_id = run_id or uuid.uuid4().hex[:8]
    labels = {LABEL: "1", f"{LABEL}.framework": adapter.name, f"{LABEL}.run": run_id}
    run: dict[str, Any] = {
        "image": image,
        "name": f"{LABEL}-{adapter.name}-{run_id}",
        "detach": True,
        "auto_remove": True,
        "init": True,  # a PID 1 that forwards `docker stop` and reaps, whatever the image's entrypoint
        "cpuset_cpus": cpuset,
        "nano_cpus": len(cpus) * 1_000_000_000,  # the same number of CPUs as the set: no burst beyond it
        "mem_limit": mem_limit,
        "memswap_limit": mem_limit,  # no swap: a framework that needs more memory fails, it is not slowed
        "shm_size": shm_size,
        "ports": {f"{inside[name]}/tcp": (HOST, ports[name]) for name in inside},
        "volumes": {str(model_dir): {"bind": CONTAINER_MODEL_DIR, "mode": "ro"}},
        "labels": labels,
    }
    command, run["environment"] = _applying(adapter, tunables)
    if command is not None:
        run["command"] = command
    build = {
        "path": str(REPO),
        "dockerfile": dockerfile_path(adapter).relative_to(REPO).as_posix(),
        "tag": image,
        "buildargs": build_args(adapter),
        "rm": True,
        "labels": {LABEL: "1", f"{LABEL}.framework": adapter.name},
    }
    return ContainerSpec(adapter.name, image, inside, dict(ports), tunables, tunables, build, run,
                         image_command="command" not in run)


def _applying(adapter: Adapter, tunables: Tunables) -> tuple[list[str] | None, dict[str, str]]:
    """The container's command and environment that apply ``tunables``, or a ValueError saying why not."""
    environment = container_environment(tunables)
    command = adapter.container_command(tunables)
    if command is None:
        _refuse_unless_default(adapter, tunables)
        return None, environment
    extra = adapter.container_env(tunables)
    clash = sorted(set(extra) & set(environment))
    if clash:
        raise ValueError(f"{adapter.name}: container_env may not set {', '.join(clash)} (the harness does)")
    return list(command), {**environment, **extra}


def _refuse_unless_default(adapter: Adapter, tunables: Tunables) -> None:
    """An image that cannot be told its tunables runs its CMD: the default preset, and nothing else."""
    default = asdict(adapter.presets()["default"].tunables)
    differ = {k: v for k, v in asdict(tunables).items()
              if k != "threads_per_worker" and default.get(k) != v}  # threads: SB_THREADS reaches every image
    if differ:
        wanted = ", ".join(f"{k}={v}" for k, v in differ.items())
        raise ValueError(
            f"{adapter.name}: docker mode cannot apply {wanted} inside its image (the adapter has no "
            f"container_command, so the image's CMD runs, which serves the default preset: {default}). "
            "Run it locally (without LAUNCH=docker), or use the default preset."
        )


def docker_command_line(spec: ContainerSpec) -> str:
    """The equivalent ``docker run`` line, for the run record and for users to reproduce by hand."""
    r = spec.run
    argv = ["docker", "run", "--rm", "-d", "--init", "--name", r["name"], "--cpuset-cpus", r["cpuset_cpus"],
            "--cpus", f"{r['nano_cpus'] / 1e9:g}", "--memory", r["mem_limit"], "--memory-swap",
            r["memswap_limit"], "--shm-size", r["shm_size"]]
    for inside, (host, port) in r["ports"].items():
        argv += ["-p", f"{host}:{port}:{inside.removesuffix('/tcp')}"]
    for source, bind in r["volumes"].items():
        argv += ["-v", f"{source}:{bind['bind']}:{bind['mode']}"]
    for key, value in r["environment"].items():
        argv += ["-e", f"{key}={value}"]
    for key, value in r["labels"].items():
        argv += ["--label", f"{key}={value}"]
    argv.append(r["image"])
    argv += list(r.get("command") or [])
    return shlex.join(argv)


# -- the SDK ---------------------------------------------------------------------------------------
def _base_url(client: Any) -> str:
    """Where the client looks for the daemon, as a user would write it (unix://... or http://...)."""
    api = getattr(client, "api", client)
    socket_path = getattr(getattr(api, "_custom_adapter", None), "socket_path", None)
    if socket_path:
        return f"unix://{socket_path}"
    return str(getattr(api, "base_url", "") or "the default Docker socket")


@contextlib.contextmanager
def _needs_daemon(where: str) -> Iterator[None]:
    """Turn "cannot connect" into one clear error; real Docker errors (a failed build) pass through."""
    import docker
    import requests

    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise NoDockerDaemon(_no_daemon(where, exc)) from exc
    except docker.errors.DockerException as exc:
        if isinstance(exc, docker.errors.APIError | docker.errors.BuildError):
            raise
        raise NoDockerDaemon(_no_daemon(where, exc)) from exc


def _no_daemon(where: str, exc: BaseException) -> str:
    return (
        f"docker launch mode needs a Docker daemon; none answers at {where} ({exc}). Start Docker (or point "
        "DOCKER_HOST at one), or run without LAUNCH=docker to start the server locally."
    )


def connect(base_url: str | None = None) -> Any:
    """A ``docker.DockerClient`` for ``base_url`` (default: DOCKER_HOST or the local socket)."""
    import docker

    with _needs_daemon(base_url or "DOCKER_HOST or the default Docker socket"):
        client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
        client.ping()
    return client


def _high_level(client: Any) -> Any:
    """Accept a ``docker.DockerClient`` or a bare ``docker.APIClient`` (wrapped, not re-created)."""
    import docker

    if isinstance(client, docker.APIClient):
        wrapper = docker.DockerClient.__new__(docker.DockerClient)
        wrapper.api = client
        return wrapper
    return client


def build_image(client: Any, spec: ContainerSpec, log: Any = None) -> str:
    """Build the image unless its content-hash tag exists already; returns the image id."""
    import docker

    client = _high_level(client)
    with _needs_daemon(_base_url(client)):
        client.ping()  # before tarring the build context: fail fast and clearly
        try:
            return client.images.get(spec.image).id
        except docker.errors.ImageNotFound:
            pass
        image, lines = client.images.build(**spec.build)
        for line in lines:
            if log and isinstance(line, dict) and line.get("stream"):
                log(line["stream"].rstrip())
        return image.id


def run_container(client: Any, spec: ContainerSpec) -> Any:
    """Start the container detached; returns the SDK's Container (readiness is the harness's check)."""
    client = _high_level(client)
    with _needs_daemon(_base_url(client)):
        client.ping()
        return client.containers.run(**spec.run)


def stop_container(client: Any, container: Any, timeout_s: float = 20.0) -> None:
    """``docker stop`` (SIGTERM, then SIGKILL after ``timeout_s``); auto_remove deletes it afterwards."""
    import docker

    client = _high_level(client)
    with _needs_daemon(_base_url(client)):
        if isinstance(container, str):
            try:
                container = client.containers.get(container)
            except docker.errors.NotFound:
                return
        try:
            container.stop(timeout=round(timeout_s))
        except docker.errors.NotFound:
            return  # already gone (auto_remove)


def remove_leftovers(client: Any, framework: str | None = None) -> list[str]:
    """Force-remove every container we labelled (of one framework, or all); returns their names."""
    client = _high_level(client)
    label = f"{LABEL}.framework={framework}" if framework else LABEL
    with _needs_daemon(_base_url(client)):
        found = client.containers.list(all=True, filters={"label": label})
        for container in found:
            container.remove(force=True)
    return [c.name for c in found]
