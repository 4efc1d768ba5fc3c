"""One benchmark run of one framework, from environment to published result.

The protocol (see DESIGN.md): environment and model, the in-process reference on the server's CPUs,
start and time to ready, idle use, the parity gate, a discarded warm-up, closed-loop concurrency steps
with raw latencies and the server tree's resource use, then a verified stop. Whatever happens, the
run folder is published with its status: complete, failed (with the reason) or interrupted.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.corpus import request_texts
from servingbench.adapter import Adapter, Tunables
from servingbench.cpusets import format_cpus
from servingbench.envs import REPO
from servingbench.frameworks import load_adapter
from servingbench.load.ceiling import measure_ceiling
from servingbench.load.locust import Distribution, LoadError, write_requests
from servingbench.load.steps import StepContext
from servingbench.measure.monitor import TreeMonitor
from servingbench.measure.reference import run_reference
from servingbench.presets import earned_evidence, resolve_tunables
from servingbench.profiles import Profile
from servingbench.progress import Progress, adapter_start_estimate
from servingbench.protocol import ParityFailed, run_load_protocol, run_parity_gate
from servingbench.results import RunWriter
from servingbench.servers.local import (
    LaunchError,
    Server,
    allocate_ports,
    framework_python,
    launched,
    log_tail,
)
from servingbench.servers.remote import RemoteServer
from servingbench.versions import harness_versions, server_versions

IDLE_SECONDS = 3.0


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM: stop everything and mark the run interrupted."""


@dataclass
class BenchConfig:
    framework: str
    preset: str
    profile: Profile
    slo_p99_ms: float
    server_cpus: tuple[int, ...]
    loadgen_cpus: tuple[int, ...]
    overrides: dict = field(default_factory=dict)
    http_port: int | None = None
    results_root: Path = Path("results")
    target: str | None = None
    """Base URL of an existing deployment to benchmark instead of launching one."""
    distribution: Distribution = field(default_factory=Distribution)
    """How the load generator is spread over processes and machines (loadrun.Distribution)."""
    launch: str = "local"
    """"local": a process group on this machine; "docker": the framework's image (docker_launch.py)."""
    server_memory: str = "2g"
    """Memory limit of the server in docker mode."""


def _raise_interrupted(_signum: int, _frame: object) -> None:
    raise Interrupted()


def run_bench(config: BenchConfig, model_dir: Path, out: Callable[[str], None] = print) -> Path:
    """Benchmark one framework; returns the published run folder (whatever its status)."""
    adapter = load_adapter(config.framework)
    tunables, preset_note = resolve_tunables(adapter, config.preset, config.overrides)
    profile = config.profile
    writer = RunWriter(config.results_root, adapter.name, config.preset)
    record = writer.record
    record.update(
        display_name=adapter.display_name,
        protocol=adapter.protocol,
        notes=adapter.notes,
        preset_note=preset_note,
        overrides={k: v for k, v in config.overrides.items() if v is not None},
        tuning_evidence=earned_evidence(adapter) if config.preset == "tuned" else None,
        tunables=tunables.as_dict(),
        profile=profile.as_dict(),
        slo={"p99_ms": config.slo_p99_ms, "max_error_rate": 0.001},
        cpus={"server": list(config.server_cpus), "loadgen": list(config.loadgen_cpus)},
        harness_versions=harness_versions(),
        model={"dir": str(model_dir), "manifest": _manifest(model_dir)},
    )
    record["target"] = config.target
    record["loadgen_workers"] = config.distribution.local_workers
    record["loadgen_remote_workers"] = config.distribution.remote_workers
    progress = Progress(adapter.name, profile.estimate_s(), out)
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        if config.target:
            return _run_remote(config, adapter, model_dir, writer, progress)
        if config.launch == "docker":
            return _run_docker(config, adapter, tunables, model_dir, writer, progress)
        python = framework_python(adapter)  # first use: creates the environment (minutes)
        record["server_versions"] = server_versions(adapter, python)
        record["framework_version"] = record["server_versions"].get(adapter.package or "", None) or "n/a"
        progress = Progress(adapter.name, profile.estimate_s() + adapter_start_estimate(adapter), out)
        if profile.reference_s > 0:
            progress(f"in-process reference on CPUs {format_cpus(config.server_cpus)}")
            record["reference"] = run_reference(
                model_dir, tunables.threads_per_worker, config.server_cpus, profile.reference_s,
                writer.folder / "reference.json",
            )
        _measure_ceiling(config, adapter, writer, progress)
        with launched(
            adapter, tunables, run_dir=writer.folder / "server", model_dir=model_dir,
            cpus=config.server_cpus, http_port=config.http_port, progress=progress,
        ) as server:
            record["time_to_ready_s"] = round(server.time_to_ready_s, 3)
            record["ports"] = server.spec.ports
            try:
                _measure(server, config, model_dir, writer, progress)
            finally:
                record["server_log_tail"] = log_tail(server.log_path, 40)
        record["stop"] = server.stop_report
        path = writer.finish("complete")
        progress(f"done: {path}")
        return path
    except (KeyboardInterrupt, Interrupted):
        progress("interrupted: everything stopped, the partial run is marked interrupted")
        return writer.finish("interrupted", "interrupted by the user (Ctrl-C or SIGTERM)")
    except (LaunchError, LoadError, ParityFailed, OSError, ValueError, RuntimeError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        for note in getattr(exc, "__notes__", []):
            reason += f"\n{note}"
        progress(f"FAILED: {reason}")
        return writer.finish("failed", reason)
    finally:
        signal.signal(signal.SIGTERM, previous)

def _measure_ceiling(config: BenchConfig, adapter: Adapter, writer: RunWriter, progress: Progress) -> None:
    profile = config.profile
    requests_file = write_requests(adapter, request_texts(), writer.folder / "load" / "requests.json")
    if profile.ceiling_s <= 0:
        return
    progress(f"load generator ceiling: no-op server, {max(profile.users)} users, {profile.ceiling_s:.0f} s")
    ceiling = measure_ceiling(requests_file, config.server_cpus, config.loadgen_cpus, max(profile.users),
                              profile.ceiling_s, writer.folder / "ceiling", distribution=config.distribution)
    writer.record["generator_ceiling"] = ceiling
    progress(f"  generator ceiling {ceiling['rps']:.0f} req/s ({ceiling['bound']})")


def _run_remote(config: BenchConfig, adapter: Adapter, model_dir: Path, writer: RunWriter,
                progress: Progress) -> Path:
    """Benchmark an existing deployment: same protocol, parity gate and load; no server-side metrics."""
    record = writer.record
    server = RemoteServer.from_url(adapter, config.target or "")
    record.update(
        framework_version="not measured (remote target)",
        time_to_ready_s=None,
        reference=None,
        server_metrics="unavailable: the target runs elsewhere, so its CPU, memory, processes and time "
                       "to ready are not measured (and not estimated)",
    )
    record["cpus"]["server"] = []
    _measure_ceiling(config, adapter, writer, progress)
    progress(f"remote target {server.base_url}: checking that it answers")
    server.wait_ready()
    return _measure_unmonitored(server, config, model_dir, writer, progress)


def _measure_unmonitored(server: RemoteServer, config: BenchConfig, model_dir: Path, writer: RunWriter,
                         progress: Progress) -> Path:
    """Parity gate and load against a server whose processes the harness cannot watch."""
    run_parity_gate(server, model_dir, writer.record, progress)
    load_dir = writer.folder / "load"
    ctx = StepContext(server, None, load_dir / "requests.json", load_dir, config.loadgen_cpus,
                      config.slo_p99_ms, distribution=config.distribution)
    run_load_protocol(ctx, config.profile, writer.record, writer.folder, progress)
    path = writer.finish("complete")
    progress(f"done: {path}")
    return path


def _run_docker(config: BenchConfig, adapter: Adapter, tunables: Tunables, model_dir: Path,
                writer: RunWriter, progress: Progress) -> Path:
    """The framework's own image on the same CPU set and memory budget, benchmarked the same way."""
    from servingbench.servers import docker as docker_launch

    record = writer.record
    client = docker_launch.connect()  # raises NoDockerDaemon with a clear message
    ports = allocate_ports(tuple(docker_launch.container_ports(adapter)), config.http_port)
    spec = docker_launch.container_spec(adapter, tunables, cpus=config.server_cpus,
                                        mem_limit=config.server_memory, ports=ports, model_dir=model_dir,
                                        run_id=writer.run_id)
    record.update(
        launch="docker", image=spec.image, docker_run=docker_launch.docker_command_line(spec),
        image_command=spec.image_command, container_tunables=spec.applied_tunables.as_dict(),
        framework_version=f"image {spec.image}",
        server_metrics="unavailable in docker mode: the container's processes are not watched",
    )
    _measure_ceiling(config, adapter, writer, progress)
    progress(f"building {spec.image} from {docker_launch.dockerfile_path(adapter).relative_to(REPO)}")
    docker_launch.build_image(client, spec, log=progress)
    container = docker_launch.run_container(client, spec)
    started = time.monotonic()
    try:
        server = RemoteServer.from_url(adapter, spec.base_url)
        server.wait_ready(timeout_s=adapter.ready_timeout_s)
        record["time_to_ready_s"] = round(time.monotonic() - started, 3)
        return _measure_unmonitored(server, config, model_dir, writer, progress)
    finally:
        with contextlib.suppress(Exception):
            record["server_log_tail"] = container.logs(tail=40).decode(errors="replace")
        docker_launch.stop_container(client, container, adapter.stop_timeout_s)


def _manifest(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def _measure(server: Server, config: BenchConfig, model_dir: Path, writer: RunWriter,
             progress: Progress) -> None:
    record = writer.record
    profile = config.profile
    with TreeMonitor(server.tree) as monitor:
        idle_start = monitor.sample()
        time.sleep(IDLE_SECONDS)
        idle = monitor.usage(idle_start, monitor.sample())
        record["idle"] = {"cpu_util": idle.cpu_util, "mem_bytes": idle.mem_peak_bytes,
                          "processes": idle.processes, "memory_kind": idle.memory_kind}
        run_parity_gate(server, model_dir, record, progress)
        load_dir = writer.folder / "load"
        ctx = StepContext(server, monitor, load_dir / "requests.json", load_dir, config.loadgen_cpus,
                          config.slo_p99_ms, distribution=config.distribution)
        run_load_protocol(ctx, profile, record, writer.folder, progress)
