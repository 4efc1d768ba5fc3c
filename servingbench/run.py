"""One benchmark run of one framework, from environment to published result.

The protocol (see DESIGN.md): environment and model, the in-process reference on the server's CPUs,
start and time to ready, idle use, the parity gate, a discarded warm-up, closed-loop concurrency steps
with raw latencies and the server tree's resource use, then a verified stop. Where the profile asks for
it, confirmations restart the server (ServerUnderTest.restart: verified stop, start, parity gate, warm-up);
a remote target cannot be restarted. Whatever happens, the run folder is published with its status:
complete, failed (with the reason) or interrupted.
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
from servingbench.envs.model_cache import variant_dir
from servingbench.envs.versions import harness_versions, server_versions
from servingbench.frameworks import load_adapter
from servingbench.load.ceiling import OPEN_FRACTION, measure_ceiling
from servingbench.load.locust import Distribution, LoadError, write_requests
from servingbench.load.steps import StepContext
from servingbench.measure.monitor import TreeMonitor
from servingbench.measure.reference import run_reference
from servingbench.measure.server_metrics import MetricsScraper
from servingbench.measure.variants import VariantEvaluation, read_evaluation
from servingbench.presets import earned_evidence, resolve_tunables
from servingbench.profiles import Profile
from servingbench.progress import Progress, adapter_start_estimate
from servingbench.protocol import FreshStart, ParityFailed, run_load_protocol, run_parity_gate, warm_up
from servingbench.record.results import RunWriter
from servingbench.record.run_record import CpuSets, Idle, ModelInfo, RunRecord, Slo, StopReport
from servingbench.scenarios import STEADY, get_scenario
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions, run_scenarios
from servingbench.scenarios.scaled import plan_rate
from servingbench.servers.errors import LaunchError
from servingbench.servers.grpc_target import GrpcTarget, check_protocol
from servingbench.servers.launch import LaunchOptions, launch
from servingbench.servers.local import framework_python
from servingbench.servers.readiness import ReadyWait
from servingbench.servers.registry import reap_leftovers
from servingbench.servers.target import Target

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
    """How the load generator is spread over processes and machines (load.locust.Distribution)."""
    launch: str = "local"
    """"local": a process group on this machine; "docker": the framework's image (servers/container.py)."""
    server_memory: str = "2g"
    """Memory limit of the server in docker mode."""
    price_family: str = ""
    """Instance family the cost is priced on (--price-family); empty: the cheapest fitting one."""
    scenarios: tuple[str, ...] = (STEADY,)
    """What to measure, in order (scenarios.parse_scenarios): "steady" is the base protocol."""
    scenario_options: ScenarioOptions = field(default_factory=ScenarioOptions)
    protocol: str = "rest"
    """The wire protocol of the parity gate and the load (--protocol): "rest", or "grpc" where the
    adapter declares a gRPC service (servers/grpc_target.py); readiness stays the adapter's own."""
    model_variant: str = "fp32"
    """The model variant served (model_cache.VARIANTS); run_bench's model folder is that variant's."""

    def launch_options(self) -> LaunchOptions:
        """How the server is reached: a TARGET is remote mode, else ``launch`` (local or docker)."""
        mode = "remote" if self.target else self.launch
        return LaunchOptions(mode=mode, cpus=self.server_cpus, http_port=self.http_port, target=self.target,
                             memory=self.server_memory)


def check_scenarios(names: tuple[str, ...], options: ScenarioOptions, remote: bool) -> None:
    """Each chosen scenario's own input check, and no restart of a target that is not ours."""
    for name in names:
        if name == STEADY:
            continue
        scenario = get_scenario(name)
        if remote and scenario.restarts_server:
            raise ValueError(f"scenario {name} starts the server afresh, which a remote TARGET does not "
                             f"allow: run it with a server this harness launches")
        scenario.check(options)


def _estimate_s(config: BenchConfig, adapter: Adapter, options: LaunchOptions) -> float:
    """Worst-case seconds of the whole run: the steady protocol (where asked) and every scenario."""
    start_s = adapter_start_estimate(adapter) if options.mode != "remote" else 0.0
    profile = config.profile
    total = start_s
    if STEADY in config.scenarios:
        fresh = profile.fresh_start and profile.repeats > 1  # one more start for the fresh confirmation
        total += profile.estimate_s() + (start_s if fresh else 0.0)
    else:  # the reference, the generator ceiling and the warm-up still run
        total += profile.reference_s + 2 * profile.ceiling_s + 6 + profile.warmup_s + 3
    for name in config.scenarios:
        if name != STEADY:
            total += get_scenario(name).estimate_s(profile, start_s, config.scenario_options)
    return total


def _raise_interrupted(_signum: int, _frame: object) -> None:
    raise Interrupted()


def run_bench(config: BenchConfig, model_dir: Path, out: Callable[[str], None] = print) -> Path:
    """Benchmark one framework; returns the published run folder (whatever its status).

    ValueError before any work when a scenario refuses its input (a malformed trace, a restart of a
    remote target)."""
    options = config.launch_options()
    check_scenarios(config.scenarios, config.scenario_options, remote=options.mode == "remote")
    for leftover in reap_leftovers():
        out(f"reaped a leftover of a dead harness: {leftover}")
    adapter = load_adapter(config.framework)
    tunables, preset_note = resolve_tunables(adapter, config.preset, config.overrides)
    check_protocol(adapter, config.protocol, options.mode)
    writer = RunWriter(config.results_root, adapter.name, config.preset)
    _record_setup(writer.record, config, adapter, tunables, preset_note, model_dir)
    config = plan_rate(config, writer.record, out)  # overload/burst: an earlier run's rate, or steady now
    writer.record.scenarios_run = list(config.scenarios)
    progress = Progress(adapter.name, _estimate_s(config, adapter, options), out)
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        _run(config, adapter, tunables, options, model_dir, writer, progress)
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


def _record_setup(record: RunRecord, config: BenchConfig, adapter: Adapter, tunables: Tunables,
                  preset_note: str, model_dir: Path) -> None:
    """What the run is, before anything is measured: configuration, versions, model, load spread."""
    record.display_name = adapter.display_name
    record.transport = config.protocol
    grpc = adapter.grpc if config.protocol == "grpc" else None
    record.protocol = grpc.codec.describe() if grpc else adapter.protocol
    record.notes = adapter.notes
    record.preset_note = preset_note
    record.overrides = {k: v for k, v in config.overrides.items() if v is not None}
    record.tuning_evidence = earned_evidence(adapter) if config.preset == "tuned" else None
    record.tunables = tunables.as_dict()
    record.profile = config.profile.as_dict()
    record.slo = Slo(p99_ms=config.slo_p99_ms, max_error_rate=0.001)
    record.price_family = config.price_family
    record.cpus = CpuSets(server=[] if config.target else list(config.server_cpus),
                          loadgen=list(config.loadgen_cpus))
    record.harness_versions = harness_versions()
    record.model = ModelInfo(dir=str(model_dir), manifest=_manifest(model_dir), variant=config.model_variant,
                             evaluation=variant_evaluation(model_dir, config.model_variant))
    record.target = config.target
    record.loadgen_workers = config.distribution.local_workers
    record.loadgen_remote_workers = config.distribution.remote_workers
    record.scenarios_run = list(config.scenarios)


def _run(config: BenchConfig, adapter: Adapter, tunables: Tunables, options: LaunchOptions, model_dir: Path,
         writer: RunWriter, progress: Progress) -> None:
    """The one path for every launch mode: versions, reference, ceiling, launch, measure, stop."""
    record = writer.record
    if options.mode == "local":
        python = framework_python(adapter)  # first use: creates the environment (minutes)
        record.server_versions = server_versions(adapter, python)
        record.framework_version = record.server_versions.get(adapter.package or "", None) or "n/a"
    record.reference = None
    if options.on_this_machine and config.profile.reference_s > 0:
        progress(f"in-process reference on CPUs {format_cpus(config.server_cpus)}")
        record.reference = run_reference(model_dir, tunables.threads_per_worker, config.server_cpus,
                                         config.profile.reference_s, writer.folder / "reference.json")
    _measure_ceiling(config, adapter, writer, progress)
    with ServerUnderTest(config, adapter, tunables, options, model_dir, writer, progress) as server:
        ctx = server.start(first=True)
        if STEADY in config.scenarios:
            run_load_protocol(ctx, config.profile, record, writer.folder, progress,
                              fresh_start(options, server))
        else:
            warm_up(ctx, config.profile, config.profile.warmup_s, "warmup", progress)
        others = tuple(n for n in config.scenarios if n != STEADY)
        if others:
            sc = ScenarioContext(server.context, None if options.mode == "remote" else server, adapter,
                                 tunables, config.profile, record, writer.folder, model_dir,
                                 config.scenario_options, progress)
            run_scenarios(sc, others, get_scenario)


def fresh_start(options: LaunchOptions, server: ServerUnderTest) -> FreshStart:
    """Confirmations may restart a server the harness launched; a remote target is not ours to restart."""
    if options.mode == "remote":
        return FreshStart(None, "fresh-start confirmation not possible for a remote target")
    return FreshStart(server.restart)


class ServerUnderTest:
    """The launched server and its resource monitor, started once and again on demand (fresh starts).

    Each start is a launch (servers.launch) and a parity gate; each stop verifies that nothing is left
    running or listening. The record keeps the first start's time to ready and idle use, and the last
    server's launch facts, log tail and stop report.
    """

    def __init__(self, config: BenchConfig, adapter: Adapter, tunables: Tunables, options: LaunchOptions,
                 model_dir: Path, writer: RunWriter, progress: Progress) -> None:
        self.config, self.adapter, self.tunables, self.options = config, adapter, tunables, options
        self.model_dir, self.writer, self.progress = model_dir, writer, progress
        self._stack: contextlib.ExitStack | None = None
        self.target: Target | None = None
        self.context: StepContext | None = None
        """The running server's step context (None while stopped)."""
        self.restarts = 0

    def __enter__(self) -> ServerUnderTest:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop(exc)

    def start(self, first: bool = False) -> StepContext:
        """Launch the server, watch its processes, pass the parity gate: the context steps run in."""
        record = self.writer.record
        stack = contextlib.ExitStack()
        try:
            target = stack.enter_context(launch(
                self.adapter, self.tunables, self.options, run_dir=self.writer.folder / "server",
                model_dir=self.model_dir, run_id=self.writer.run_id, progress=self.progress))
            self._stack, self.target = stack, target
            record.set_launch(target.launch_record())
            if self.config.protocol == "grpc":  # launched and ready as ever; predictions and load over gRPC
                target = GrpcTarget.of(target)
                stack.callback(target.close)
                self.target = target
            monitor = stack.enter_context(TreeMonitor(target.tree)) if target.tree is not None else None
        except BaseException:
            stack.close()
            self._stack = self.target = None
            raise
        if first:
            ready = target.time_to_ready_s
            record.time_to_ready_s = round(ready, 3) if ready is not None else None
            if monitor is not None:
                _measure_idle(monitor, record)
        run_parity_gate(target, self.model_dir, record, self.progress)
        load_dir = self.writer.folder / "load"
        ceiling = record.generator_ceiling
        scraper, record.metrics_endpoint = metrics_scraper(self.adapter, target)
        self.context = StepContext(target, monitor, load_dir / "requests.json", load_dir,
                                   self.config.loadgen_cpus, self.config.slo_p99_ms,
                                   distribution=self.config.distribution, protocol=self.config.protocol,
                                   generator_keeps_rps=ceiling.keeps_schedule_rps if ceiling else None,
                                   metrics=scraper)
        return self.context

    def restart(self) -> StepContext:
        """Stop the server (verified), start it afresh (parity gate again) and warm it up briefly."""
        self._stop((None, None, None))
        self.restarts += 1
        ctx = self.start()
        warm_up(ctx, self.config.profile, self.config.profile.fresh_warmup_s, f"warmup_fresh{self.restarts}",
                self.progress)
        return ctx

    def stop(self) -> None:
        """Stop the server now (verified: nothing left running or listening); ``start`` may follow."""
        self._stop((None, None, None))

    def bare_launch(self, run_dir: Path, wait: ReadyWait) -> contextlib.AbstractContextManager[Target]:
        """One more start of the same configuration, bare: its own folder and readiness ``wait``, no parity
        gate, monitor or record change (the cold-start scenario times it); stopped and verified on exit.
        Stop the server under test first: two would share its CPUs."""
        if self.target is not None:
            raise RuntimeError("bare_launch while the server under test runs: stop() it first")
        return launch(self.adapter, self.tunables, self.options, run_dir=run_dir, model_dir=self.model_dir,
                      run_id=self.writer.run_id, progress=self.progress, wait=wait)

    def _stop(self, exc: tuple) -> None:
        self.context = None
        if self._stack is None or self.target is None:
            return
        target, stack = self.target, self._stack
        self._stack = self.target = None
        try:
            self.writer.record.server_log_tail = target.log_tail(40)
        finally:
            stack.__exit__(*exc)
            stop_report = getattr(target, "stop_report", None)
            self.writer.record.stop = StopReport.from_dict(stop_report) if stop_report else None


def metrics_scraper(adapter: Adapter, target: Target) -> tuple[MetricsScraper | None, str]:
    """The framework's own metrics endpoint on a server the harness launched, and what the run says of it."""
    spec = adapter.metrics
    if spec is None:
        return None, f"{adapter.display_name} {adapter.metrics_absent}"
    launch_spec = getattr(target, "spec", None)
    if target.kind != "local" or launch_spec is None or spec.port not in launch_spec.ports:
        return None, f"not scraped: the harness does not know the metrics port of a {target.kind} target"
    scraper = MetricsScraper(spec, launch_spec.ports[spec.port])
    return scraper, f"{scraper.endpoint}{': ' + spec.note if spec.note else ''}"


def _measure_idle(monitor: TreeMonitor, record: RunRecord) -> None:
    """The started server's CPU and memory before any load."""
    idle_start = monitor.sample()
    time.sleep(IDLE_SECONDS)
    idle = monitor.usage(idle_start, monitor.sample())
    record.idle = Idle(cpu_util=idle.cpu_util, mem_bytes=idle.mem_peak_bytes, processes=idle.processes,
                       memory_kind=idle.memory_kind)


def _measure_ceiling(config: BenchConfig, adapter: Adapter, writer: RunWriter, progress: Progress) -> None:
    profile = config.profile
    requests_file = write_requests(adapter, request_texts(), writer.folder / "load" / "requests.json",
                                   protocol=config.protocol)  # the run's own calls, REST or gRPC
    if profile.ceiling_s <= 0:
        return
    over = "the gRPC no-op server" if config.protocol == "grpc" else "no-op server"
    progress(f"load generator ceiling: {over}, {max(profile.users)} users, {profile.ceiling_s:.0f} s, "
             f"then open loop at {OPEN_FRACTION:g} of that rate")
    ceiling = measure_ceiling(requests_file, config.server_cpus, config.loadgen_cpus, max(profile.users),
                              profile.ceiling_s, writer.folder / "ceiling", distribution=config.distribution,
                              protocol=config.protocol)
    writer.record.generator_ceiling = ceiling
    progress(f"  generator ceiling {ceiling.rps:.0f} req/s ({ceiling.bound})")
    if ceiling.open_rate_rps is not None and ceiling.open_lag_p99_ms is not None:
        kept = "kept" if ceiling.keeps_schedule_rps else "NOT kept: open-loop steps above it judged alone"
        progress(f"  open loop at {ceiling.open_rate_rps:.0f} req/s against it: own send lag p99 "
                 f"{ceiling.open_lag_p99_ms:.1f} ms, schedule {kept}")


def variant_evaluation(model_dir: Path, variant: str) -> VariantEvaluation | None:
    """Both variants' accuracy: the int8 folder's evaluation (an fp32 run: its int8 sibling's, if built)."""
    try:
        folder = model_dir if variant != "fp32" else variant_dir(model_dir, "int8")
        return read_evaluation(folder)
    except (OSError, ValueError):
        return None


def _manifest(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
