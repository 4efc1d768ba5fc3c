"""One benchmark run of one framework, from environment to published result.

The protocol (see DESIGN.md): environment and model, the in-process reference on the server's CPUs,
start and time to ready, idle use, the parity gate, a discarded warm-up, closed-loop concurrency steps
with raw latencies and the server tree's resource use, then a verified stop. Whatever happens, the
run folder is published with its status: complete, failed (with the reason) or interrupted.
"""

from __future__ import annotations

import importlib.metadata
import json
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from loadtests.corpus import request_texts
from servingbench import stats
from servingbench.adapter import Adapter, Tunables
from servingbench.cpusets import format_cpus
from servingbench.frameworks import load_adapter
from servingbench.launcher import LaunchError, Server, ServerDied, framework_python, launched, log_tail
from servingbench.loadrun import GENERATOR_SATURATED, LoadError, run_locust, write_requests
from servingbench.monitor import TreeMonitor
from servingbench.parity import check_parity, eval_set, reference_predictions
from servingbench.profiles import Profile
from servingbench.reference import run_reference
from servingbench.results import RunWriter

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


def resolve_tunables(adapter: Adapter, preset: str, overrides: dict) -> tuple[Tunables, str]:
    presets = adapter.presets()
    if preset not in presets:
        raise ValueError(f"{adapter.name} has no preset {preset!r}; choose one of: {', '.join(presets)}")
    chosen = presets[preset]
    tunables = replace(chosen.tunables, **{k: v for k, v in overrides.items() if v is not None})
    adapter.validate(tunables)
    return tunables, chosen.note


def framework_version(adapter: Adapter, python: Path) -> str:
    if not adapter.package:
        return "n/a"
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({adapter.package!r}))"],
        capture_output=True, text=True,
    )
    return out.stdout.strip() or "unknown"


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
        tunables=tunables.as_dict(),
        profile=profile.as_dict(),
        slo={"p99_ms": config.slo_p99_ms, "max_error_rate": 0.001},
        cpus={"server": list(config.server_cpus), "loadgen": list(config.loadgen_cpus)},
        harness_versions=harness_versions(),
        model={"dir": str(model_dir), "manifest": _manifest(model_dir)},
    )
    progress = Progress(adapter.name, profile.estimate_s(), out)
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        python = framework_python(adapter)  # first use: creates the environment (minutes)
        record["framework_version"] = framework_version(adapter, python)
        progress = Progress(adapter.name, profile.estimate_s() + adapter_start_estimate(adapter), out)
        progress(f"in-process reference on CPUs {format_cpus(config.server_cpus)}")
        record["reference"] = run_reference(
            model_dir, tunables.threads_per_worker, config.server_cpus, profile.reference_s,
            writer.folder / "reference.json",
        )
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

        load_dir = writer.folder / "load"
        requests_file = write_requests(server.adapter, request_texts(), load_dir / "requests.json")
        progress(f"warm-up {profile.warmup_s:.0f} s at {max(profile.users)} users (discarded)")
        run_locust(requests_file, server.base_url, users=max(profile.users),
                   run_time_s=profile.warmup_s, max_requests=profile.max_requests_per_step,
                   cpus=config.loadgen_cpus, out_dir=load_dir, name="warmup")
        _check_alive(server, "the warm-up")

        steps: list[dict] = []
        record["steps"] = steps
        histograms: dict[str, str] = {}
        for i, users in enumerate(profile.users, 1):
            progress(f"step {i}/{len(profile.users)}: {users} users, "
                     f"{profile.step_warmup_s:.0f} s settle + {profile.step_s:.0f} s measured")
            step = _closed_step(server, config, monitor, requests_file, load_dir, users)
            histograms[f"users_{users}"] = step.pop("_hdr")
            steps.append(step)
            progress(f"  {step['throughput_rps']:.1f} req/s, p50 {step['p50_ms']:.1f} ms, "
                     f"p99 {step['p99_ms']:.1f} ms, errors {step['errors']}, "
                     f"server CPU {step['server_cpu_util']:.2f}, {step['cpu_ms_per_request']:.2f} CPU-ms/req"
                     + ("  [GENERATOR-LIMITED]" if step["generator_limited"] else ""))
            _check_alive(server, f"step {i} ({users} users)")
        (writer.folder / "histograms.json").write_text(json.dumps(histograms))
        record["summary"] = summarize_run(steps, config.slo_p99_ms)


def _closed_step(server: Server, config: BenchConfig, monitor: TreeMonitor, requests_file: Path,
                 load_dir: Path, users: int) -> dict:
    profile = config.profile
    before = monitor.sample()
    result = run_locust(
        requests_file, server.base_url, users=users,
        run_time_s=profile.step_warmup_s + profile.step_s, max_requests=profile.max_requests_per_step,
        cpus=config.loadgen_cpus, out_dir=load_dir, name=f"closed_u{users}",
    )
    after = monitor.sample()
    start = result.test_start + profile.step_warmup_s
    window = stats.in_window(result.samples, start, start + profile.step_s)
    summary = stats.summarize(window, profile.step_s)
    usage = monitor.usage(before, after)
    ok_all = int(stats.ok_mask(result.samples).sum())
    return {
        "mode": "closed",
        "users": users,
        "window_start": start,
        "window_end": start + profile.step_s,
        "samples_file": str(Path("load") / f"closed_u{users}.samples.npy"),
        **summary.as_dict(),
        "status_counts": stats.status_counts(window),
        "server_cpu_s": usage.cpu_s,
        "server_cpu_util": usage.cpu_util,
        "cpu_ms_per_request": usage.cpu_s * 1000 / ok_all if ok_all else float("nan"),
        "mem_peak_mib": usage.mem_peak_bytes / 2**20,
        "mem_mean_mib": usage.mem_mean_bytes / 2**20,
        "memory_kind": usage.memory_kind,
        "processes": usage.processes,
        "generator_cpu_util": result.generator_cpu_util,
        "generator_limited": result.generator_cpu_util >= GENERATOR_SATURATED,
        "meets_slo": bool(summary.p99_ms <= config.slo_p99_ms and summary.error_rate <= 0.001),
        "_hdr": stats.encode_histogram(stats.ok_latencies(window)),
    }


def _check_alive(server: Server, when: str) -> None:
    code = server.exited()
    if code is not None:
        raise ServerDied(f"{server.adapter.display_name} exited with code {code} during {when}.\n"
                         f"Last lines of {server.log_path}:\n{log_tail(server.log_path)}")


def summarize_run(steps: list[dict], slo_p99_ms: float) -> dict:
    """Headline figures of a closed-loop run: peak throughput and throughput within the SLO."""
    if not steps:
        return {}
    best = max(steps, key=lambda s: s["throughput_rps"])
    within = [s for s in steps if s["meets_slo"]]
    at_slo = max(within, key=lambda s: s["throughput_rps"]) if within else None
    lowest = min(steps, key=lambda s: s["users"])
    return {
        "peak_throughput_rps": best["throughput_rps"],
        "peak_at_users": best["users"],
        "throughput_at_slo_rps": at_slo["throughput_rps"] if at_slo else 0.0,
        "slo_users": at_slo["users"] if at_slo else None,
        "p50_ms_at_1_user": lowest["p50_ms"],
        "p99_ms_at_1_user": lowest["p99_ms"],
        "cpu_ms_per_request_at_peak": best["cpu_ms_per_request"],
        "mem_peak_mib": max(s["mem_peak_mib"] for s in steps),
        "any_generator_limited": any(s["generator_limited"] for s in steps),
    }
