"""One benchmark run of one framework, from environment to published result.

The protocol (see DESIGN.md): environment and model, the in-process reference on the server's CPUs,
start and time to ready, idle use, the parity gate, a discarded warm-up, closed-loop concurrency steps
with raw latencies and the server tree's resource use, then a verified stop. Whatever happens, the
run folder is published with its status: complete, failed (with the reason) or interrupted.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loadtests.corpus import request_texts
from servingbench.adapter import Adapter, Tunables
from servingbench.cpusets import format_cpus
from servingbench.envs import REPO
from servingbench.frameworks import load_adapter
from servingbench.load.ceiling import measure_ceiling
from servingbench.load.locust import Distribution, LoadError, run_locust, write_requests
from servingbench.load.steps import StepContext, closed_step, open_step
from servingbench.measure.cost import cost_per_million
from servingbench.measure.monitor import TreeMonitor
from servingbench.measure.parity import check_parity, eval_set, reference_predictions
from servingbench.measure.reference import run_reference
from servingbench.measure.slo_search import Probe, passes, search, seed_for
from servingbench.presets import earned_evidence, resolve_tunables
from servingbench.profiles import Profile
from servingbench.results import RunWriter
from servingbench.servers.local import (
    LaunchError,
    Server,
    ServerDied,
    allocate_ports,
    framework_python,
    launched,
    log_tail,
)
from servingbench.servers.remote import RemoteServer

IDLE_SECONDS = 3.0


class ParityFailed(RuntimeError):
    pass


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


class Progress:
    """Terminal progress: framework, step, time left."""

    def __init__(self, framework: str, total_s: float, out: Callable[[str], None] = print) -> None:
        self.framework = framework
        self.total_s = total_s
        self.started = time.monotonic()
        self.out = out

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        left = max(0.0, self.total_s - elapsed)
        self.out(f"[{self.framework} {_clock(elapsed)}, ~{_clock(left)} left] {message}")


def adapter_start_estimate(adapter: Adapter) -> float:
    """Seconds to budget for start, parity and stop in the time-left estimate."""
    return 15.0 + adapter.stop_timeout_s / 2


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


RUNTIME_PACKAGES = ("onnxruntime", "tokenizers", "numpy")
"""What runs the model inside every server: reported so that a version difference is visible."""

_VERSIONS_SCRIPT = """
import importlib.metadata as m, json, platform, sys
found = {"python": platform.python_version()}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


def server_versions(adapter: Adapter, python: Path) -> dict:
    """Versions of the framework and of the model runtime in the framework's own environment."""
    names = [n for n in (adapter.package, *RUNTIME_PACKAGES) if n]
    out = subprocess.run([str(python), "-c", _VERSIONS_SCRIPT, *names], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def harness_versions() -> dict:
    names = ["locust", "numpy", "hdrhistogram", "psutil", "onnxruntime", "tokenizers"]
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


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
        image_command=spec.image_command, framework_version=f"image {spec.image}",
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


def run_parity_gate(server: Server, model_dir: Path, record: dict, progress: Progress) -> None:
    """The evaluation set through the native protocol; raises ParityFailed when it does not match."""
    progress("parity gate: evaluation sentences through the native protocol")
    items = eval_set()
    reference = reference_predictions(model_dir, [t for t, _ in items])
    parity = check_parity(server.predict, reference, items)
    record["parity"] = parity.as_dict()
    if not parity.passed:
        raise ParityFailed(
            parity.error or f"{parity.label_mismatches} label mismatches, max score difference "
            f"{parity.max_score_diff:.2e} (tolerance {parity.tolerance:.0e}); no timings reported"
        )
    progress(f"parity passed: {parity.sentences} sentences, max score diff {parity.max_score_diff:.1e}")


def run_load_protocol(ctx: StepContext, profile: Profile, record: dict, folder: Path,
                      progress: Progress) -> None:
    """Warm-up, closed-loop steps, the fixed-load open-loop step, the SLO search and its repeats."""
    server = ctx.server
    write_requests(server.adapter, request_texts(), ctx.requests_file)
    progress(f"warm-up {profile.warmup_s:.0f} s at {max(profile.users)} users (discarded)")
    run_locust(ctx.requests_file, server.base_url, users=max(profile.users), run_time_s=profile.warmup_s,
               max_requests=profile.max_requests_per_step, cpus=ctx.loadgen_cpus, out_dir=ctx.load_dir,
               name="warmup", distribution=ctx.distribution)
    _check_alive(server, "the warm-up")
    histograms: dict[str, str] = {}

    steps: list[dict] = []
    record["steps"] = steps
    for i, users in enumerate(profile.users, 1):
        progress(f"closed loop {i}/{len(profile.users)}: {users} users, "
                 f"{profile.step_warmup_s:.0f} s settle + {profile.step_s:.0f} s measured")
        step = closed_step(ctx, users, profile.step_warmup_s, profile.step_s, profile.windows,
                           profile.max_requests_per_step)
        histograms[f"closed_u{users}"] = step.pop("_hdr")
        steps.append(step)
        progress("  " + describe_step(step))
        _check_alive(server, f"closed-loop step {i} ({users} users)")

    open_steps: list[dict] = []
    record["open_steps"] = open_steps
    rate = profile.fixed_rate_rps
    progress(f"open loop at the fixed load: {rate:g} req/s Poisson, {profile.open_s:.0f} s measured")
    _recorded_open_step(ctx, profile, rate, profile.open_s, seed_for(rate), "open_fixed", "fixed load",
                        open_steps, histograms, progress)

    peak = max((s["throughput_rps"] for s in steps), default=0.0)
    start = max(peak, rate, 1.0)
    record["slo_search"] = run_slo_search(ctx, profile, start, open_steps, histograms, progress)
    (folder / "histograms.json").write_text(json.dumps(histograms))
    record["summary"] = summarize_run(record)


def run_slo_search(ctx: StepContext, profile: Profile, start_rps: float, open_steps: list[dict],
                   histograms: dict[str, str], progress: Progress) -> dict:
    """The highest Poisson rate meeting the SLO, then ``repeats`` confirmations with fresh seeds."""
    probe_no = [0]

    def measure(rate: float, seed: int) -> Probe:
        probe_no[0] += 1
        progress(f"SLO search probe {probe_no[0]}/{profile.slo_probes}: {rate:.1f} req/s")
        step = _recorded_open_step(ctx, profile, rate, profile.probe_s, seed, f"slo_probe{probe_no[0]}",
                                   "SLO search", open_steps, histograms, progress)
        return Probe(rate, step["p99_ms"], step["error_rate"], step["throughput_rps"],
                     passes(step["p99_ms"], step["error_rate"], ctx.slo_p99_ms, ctx.max_error_rate),
                     seed, step["generator_limited"])

    result = search(measure, start_rps=start_rps, max_probes=profile.slo_probes)
    out = result.as_dict()
    confirmations = []
    best = result.best_rate_rps
    if best > 0 and profile.repeats > 1:
        for k in range(1, profile.repeats + 1):
            progress(f"SLO repeat {k}/{profile.repeats} at {best:.1f} req/s (fresh seed)")
            confirmations.append(_recorded_open_step(
                ctx, profile, best, profile.probe_s, seed_for(best, k), f"slo_repeat{k}", "SLO repeat",
                open_steps, histograms, progress))
    elif best > 0:
        confirmations = [s for s in open_steps if s.get("purpose") == "SLO search" and s["rate_rps"] == best]
    achieved = [s["throughput_rps"] for s in confirmations]
    out.update(
        repeats=len(confirmations),
        repeats_passed=sum(1 for s in confirmations if s["meets_slo"]),
        achieved_rps=achieved,
        p99_ms=[s["p99_ms"] for s in confirmations],
        throughput_rps=float(np.median(achieved)) if achieved else 0.0,
        spread_rps=[min(achieved), max(achieved)] if achieved else [0.0, 0.0],
    )
    return out


def _recorded_open_step(ctx: StepContext, profile: Profile, rate: float, measure_s: float, seed: int,
                        name: str, purpose: str, open_steps: list[dict], histograms: dict[str, str],
                        progress: Progress) -> dict:
    """One open-loop step, kept in the run with its purpose and histogram, and reported as it ends."""
    step = open_step(ctx, rate, profile.open_warmup_s, measure_s, seed, name=name, windows=profile.windows)
    step["purpose"] = purpose
    histograms[name] = step.pop("_hdr")
    open_steps.append(step)
    progress("  " + describe_step(step))
    _check_alive(ctx.server, f"the {purpose} step {name}")
    return step


def describe_step(step: dict) -> str:
    load = f"{step['users']} users" if step["mode"] == "closed" else f"{step['rate_rps']:.1f} req/s offered"
    parts = [load, f"{step['throughput_rps']:.1f} req/s", f"p50 {step['p50_ms']:.1f} ms",
             f"p99 {step['p99_ms']:.1f} ms", f"errors {step['errors']}"]
    if step.get("server_cpu_util") is not None:
        parts.append(f"server CPU {step['server_cpu_util']:.2f}")
    if step.get("stable") is False:
        parts.append("unstable")
    if step.get("generator_limited"):
        parts.append("[GENERATOR-LIMITED]")
    return ", ".join(parts)


def _check_alive(server: Server, when: str) -> None:
    code = server.exited()
    if code is not None:
        raise ServerDied(f"{server.adapter.display_name} exited with code {code} during {when}.\n"
                         f"Last lines of {server.log_path}:\n{log_tail(server.log_path)}")


def summarize_run(record: dict) -> dict:
    """Headline figures of a run: SLO throughput (open-loop search), fixed-load latency, peaks, cost."""
    steps = record.get("steps") or []
    if not steps:
        return {}
    slo_p99 = record["slo"]["p99_ms"]
    best = max(steps, key=lambda s: s["throughput_rps"])
    lowest = min(steps, key=lambda s: s["users"])
    fixed = next((s for s in record.get("open_steps", []) if s.get("purpose") == "fixed load"), None)
    search_result = record.get("slo_search") or {}
    mems = [s["mem_peak_mib"] for s in steps + record.get("open_steps", []) if s.get("mem_peak_mib")]
    summary = {
        "throughput_at_slo_rps": search_result.get("throughput_rps", 0.0),
        "throughput_at_slo_spread": search_result.get("spread_rps"),
        "slo_rate_rps": search_result.get("best_rate_rps"),
        "slo_source": "open-loop search",
        "slo_p99_ms": slo_p99,
        "fixed_load_rps": fixed["rate_rps"] if fixed else None,
        "p50_ms_at_fixed_load": fixed["p50_ms"] if fixed else None,
        "p99_ms_at_fixed_load": fixed["p99_ms"] if fixed else None,
        "fixed_load_meets_slo": fixed["meets_slo"] if fixed else None,
        "peak_throughput_rps": best["throughput_rps"],
        "peak_at_users": best["users"],
        "p50_ms_at_1_user": lowest["p50_ms"],
        "p99_ms_at_1_user": lowest["p99_ms"],
        "cpu_ms_per_request_at_peak": best.get("cpu_ms_per_request"),
        "cpu_ms_per_request_at_fixed_load": fixed.get("cpu_ms_per_request") if fixed else None,
        "mem_peak_mib": max(mems) if mems else None,
        "any_generator_limited": any(s["generator_limited"] for s in steps + record.get("open_steps", [])),
        "unstable_steps": sum(1 for s in steps + record.get("open_steps", []) if s.get("stable") is False),
    }
    reference = record.get("reference") or {}
    if reference:
        summary["overhead"] = {
            "latency_ms_at_1_user": lowest["p50_ms"] - reference["single_p50_ms"],
            "throughput_fraction": summary["throughput_at_slo_rps"] / reference["sequential_rps"],
            "throughput_fraction_of_batched": summary["throughput_at_slo_rps"]
            / reference["batched_sentences_per_s"],
        }
    if summary["mem_peak_mib"]:
        summary["cost"] = cost_per_million(summary["throughput_at_slo_rps"], len(record["cpus"]["server"]),
                                           summary["mem_peak_mib"] / 1024)
    return summary
