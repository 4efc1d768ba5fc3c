"""Measured load steps against a running server: closed-loop users and open-loop arrival rates.

Each step is one bounded Locust run; the measured window is cut from the raw samples (warm-up
discarded) and summarised with exact percentiles, stability windows, the server's resource use over the
same window (from the process-tree monitor's timestamped samples), failures by kind (load/failures.py)
and a flag when the load generator rather than the server was the limit (load/send_lag.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from servingbench.load import send_lag
from servingbench.load.failures import count_kinds, is_no_answer
from servingbench.load.locust import GENERATOR_SATURATED, Distribution, LoadResult, run_locust, run_open_loop
from servingbench.measure import stats
from servingbench.measure.confidence import standard_cis
from servingbench.measure.monitor import TreeMonitor, Usage
from servingbench.measure.server_metrics import MetricsScraper
from servingbench.measure.stability import stability
from servingbench.measure.stats import LatencySummary
from servingbench.record.run_record import GOODPUT, ClosedStep, OpenStep, Resources
from servingbench.servers.target import Target


@dataclass(frozen=True)
class StepContext:
    server: Target
    monitor: TreeMonitor | None
    requests_file: Path
    load_dir: Path
    loadgen_cpus: tuple[int, ...]
    slo_p99_ms: float
    max_error_rate: float = 0.001
    distribution: Distribution = field(default_factory=Distribution)
    open_loop: Callable[..., LoadResult] = run_open_loop
    """What runs one open-loop schedule (load.locust.run_open_loop; tests give a synthetic server)."""
    protocol: str = "rest"
    """The wire protocol of the load ("rest" or "grpc"; the server is then a GrpcTarget)."""
    generator_keeps_rps: float | None = None
    """The rate up to which the generator kept its own schedule against the no-op server
    (Ceiling.keeps_schedule_rps; None: not measured): the generator-limited rule's reference."""
    metrics: MetricsScraper | None = None
    """The framework's own metrics endpoint, scraped right before and after every step (None: none)."""


def _resources(ctx: StepContext, result: LoadResult, start: float, end: float) -> Resources:
    """The step's resources over its measured window [start, end] (see :func:`window_resources`)."""
    if ctx.monitor is None:  # remote target or container: the server is not ours to watch
        return Resources(generator_cpu_util=result.generator_cpu_util)
    ctx.monitor.sample()  # one sample after the load, so that the window's end is bracketed
    return window_resources(ctx.monitor.window(start, end), result.samples, result.generator_cpu_util,
                            len(ctx.loadgen_cpus))


def window_resources(usage: Usage | None, load_samples: np.ndarray, locust_cpu_util: float,
                     loadgen_cpus: int) -> Resources:
    """Server CPU, CPU-ms/request and memory over the measured window, not over Locust's whole life.

    CPU-ms/request divides by the successful responses completed inside the same window (closed loop:
    the window's requests; open loop: the goodput count). The monitor's own CPU over the window is
    charged to the load generator: the CLI pins the harness process, monitor thread included, to the
    load generator's CPUs (cli.py, ``os.sched_setaffinity(0, loadgen_cpus)``), so every CPU-second it
    spends is one Locust could not, and it is counted as a fraction of those same CPUs.
    """
    if usage is None:  # too few monitor samples to say anything about the window
        return Resources(generator_cpu_util=locust_cpu_util, monitor_cpu_util=0.0)
    ok = stats.completed_ok_in_window(load_samples, usage.start, usage.end)
    monitor_util = usage.monitor_cpu_s / (usage.end - usage.start) / max(1, loadgen_cpus)
    return Resources(
        generator_cpu_util=locust_cpu_util + monitor_util,
        server_cpu_s=usage.cpu_s,
        server_cpu_util=usage.cpu_util,
        cpu_ms_per_request=usage.cpu_s * 1000 / ok if ok else float("nan"),
        mem_peak_mib=usage.mem_peak_bytes / 2**20,
        mem_mean_mib=usage.mem_mean_bytes / 2**20,
        memory_kind=usage.memory_kind,
        processes=usage.processes,
        monitor_cpu_util=monitor_util,
        resources_start=usage.start,
        resources_end=usage.end,
    )


def _meets(ctx: StepContext, summary: stats.LatencySummary) -> bool:
    return bool(summary.p99_ms <= ctx.slo_p99_ms and summary.error_rate <= ctx.max_error_rate)


def closed_step(ctx: StepContext, users: int, warmup_s: float, measure_s: float, windows: int,
                max_requests: int, name: str | None = None) -> ClosedStep:
    """``users`` closed-loop users for warm-up + measured seconds; latency from actual send."""
    name = name or f"closed_u{users}"
    before = ctx.metrics.before() if ctx.metrics else None
    result = run_locust(ctx.requests_file, ctx.server.base_url, users=users, run_time_s=warmup_s + measure_s,
                        max_requests=max_requests, cpus=ctx.loadgen_cpus, out_dir=ctx.load_dir, name=name,
                        distribution=ctx.distribution)
    server_metrics = ctx.metrics.after(before, result.samples) if ctx.metrics else None
    start = result.test_start + warmup_s
    window = stats.in_window(result.samples, start, start + measure_s)
    # only a spent request budget ends the load early; a stalled server must not shrink the window
    budget_spent = result.samples.shape[0] >= max_requests
    covered = stats.covered_s(result.samples, start, start + measure_s) if budget_spent else measure_s
    measured_s = covered if covered > 0 else measure_s
    summary = stats.summarize(window, measured_s)
    resources = _resources(ctx, result, start, start + measured_s)
    return ClosedStep(
        name=name,
        users=users,
        window_start=start,
        window_end=start + measure_s,
        window_covered_s=round(covered, 3),
        request_budget_spent=budget_spent,
        samples_file=str(Path("load") / f"{name}.samples.npy"),
        latency=summary,
        status_counts=stats.status_counts(window),
        failure_kinds=count_kinds(window[:, 2]),
        resources=resources,
        generator_limited=resources.generator_cpu_util >= GENERATOR_SATURATED,
        meets_slo=_meets(ctx, summary),
        stability=stability(result.samples, start, start + measure_s, windows),
        percentile_ci_ms=percentile_intervals(stats.ok_latencies(window)),
        histogram=stats.encode_histogram(stats.ok_latencies(window)),
        server_metrics=server_metrics,
    )


def open_step(ctx: StepContext, rate_rps: float, warmup_s: float, measure_s: float, seed: int,
              name: str, windows: int = 3, purpose: str = "", schedule: np.ndarray | None = None,
              requests_file: Path | None = None) -> OpenStep:
    """Poisson arrivals at ``rate_rps``; latency from each request's intended send time.

    ``schedule`` (offsets over warm-up + measured seconds, see load.locust.run_open_loop) replaces the
    Poisson draw, ``rate_rps`` then being its mean offered rate; ``requests_file`` replaces the run's
    requests (other texts: sizes, a trace's).
    """
    extra = {"schedule": schedule} if schedule is not None else {}
    before = ctx.metrics.before() if ctx.metrics else None
    result = ctx.open_loop(requests_file or ctx.requests_file, ctx.server.base_url, rate_rps=rate_rps,
                           duration_s=warmup_s + measure_s, seed=seed, cpus=ctx.loadgen_cpus,
                           out_dir=ctx.load_dir, name=name, distribution=ctx.distribution, **extra)
    server_metrics = ctx.metrics.after(before, result.samples) if ctx.metrics else None
    start = result.test_start + warmup_s
    window, summary = open_window(result.samples, start, measure_s)
    lags = send_lag.send_lags(window)
    resources = _resources(ctx, result, start, start + measure_s)
    return OpenStep(
        name=name,
        rate_rps=rate_rps,
        seed=seed,
        purpose=purpose,
        window_start=start,
        window_end=start + measure_s,
        samples_file=str(Path("load") / f"{name}.samples.npy"),
        latency=summary,
        intended_requests=int(window.shape[0]),
        not_answered=int(is_no_answer(window[:, 2]).sum()),
        send_lag_p99_ms=lags.p99_ms,
        held_back_sends=lags.held_back,
        own_lag_p99_ms=lags.own_p99_ms,
        in_flight_at_end=stats.in_flight_at(result.samples, start, start + measure_s),
        throughput_is=GOODPUT,
        status_counts=stats.status_counts(window),
        failure_kinds=count_kinds(window[:, 2]),
        resources=resources,
        generator_limited=send_lag.generator_limited(resources.generator_cpu_util, lags.own_p99_ms, rate_rps,
                                                     ctx.generator_keeps_rps),
        meets_slo=_meets(ctx, summary),
        stability=stability(result.samples, start, start + measure_s, windows, by_send_time=True),
        percentile_ci_ms=percentile_intervals(stats.ok_latencies(window)),
        histogram=stats.encode_histogram(stats.ok_latencies(window)),
        server_metrics=server_metrics,
    )


def open_window(samples: np.ndarray, start: float, measure_s: float) -> tuple[np.ndarray, LatencySummary]:
    """The open-loop window: requests *sent* in it (latency from intended send time, errors) and goodput.

    Throughput is goodput: successful responses *completed* inside the window per second. Percentiles
    and error rate are of the requests sent in the window, so a request still in flight at the end
    counts against latency (its late answer) but not towards throughput.
    """
    end = start + measure_s
    window = stats.sent_in_window(samples, start, end)
    summary = stats.summarize(window, measure_s)
    goodput = stats.completed_ok_in_window(samples, start, end) / measure_s if measure_s > 0 else float("nan")
    return window, dataclasses.replace(summary, throughput_rps=goodput)


def percentile_intervals(latencies_ms: np.ndarray) -> dict[str, list[float | None]]:
    """{"p50": [low, high], ...}: the 95% order-statistic interval of each reported percentile."""
    if latencies_ms.size == 0:
        return {}
    return {ci.label: [ci.low, ci.high] for ci in standard_cis(latencies_ms)}
