"""The cost of observability: one fixed open-loop load with the framework's own metrics on, then off.

``servingbench observability --framework triton`` starts the framework afresh for every arm, in the order
on, off, off, on (ABBA, so a drift of the shared machine weighs on both arms alike), runs a short
discarded warm-up and then the same Poisson schedule (same rate, same seed) in each. Each arm's requests
are pooled: p99 with its distribution-free 95% interval (measure/confidence.py) and server CPU-ms per
successful request over the measured windows. That the switch worked is checked, not assumed: with
metrics on the endpoint must answer with the request counter, with metrics off it must not.

Only frameworks whose adapter names a ``metrics_switch`` run; the others are refused with the list of
those that can. Bounded: rounds x 2 starts, each warm-up + measured seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loadtests.corpus import request_texts
from servingbench.adapter import Adapter, Tunables
from servingbench.frameworks import available, load_adapter
from servingbench.load.locust import write_requests
from servingbench.load.steps import StepContext, open_step
from servingbench.measure import stats
from servingbench.measure.confidence import percentile_ci
from servingbench.measure.monitor import TreeMonitor
from servingbench.measure.server_metrics import ScrapeError, scrape, total
from servingbench.record.run_record import OpenStep
from servingbench.record.serial import Record
from servingbench.servers.local import launched

ORDER = (True, False, False, True)
"""Metrics on, off, off, on: one ABBA round."""


@dataclass(frozen=True)
class ArmResult(Record):
    """All requests measured with the metrics in one state, pooled over its starts."""

    metrics_on: bool
    steps: list[str]
    requests: int
    p50_ms: float
    p99_ms: float
    p99_low_ms: float | None
    p99_high_ms: float | None
    cpu_ms_per_request: float | None
    failures: int
    endpoint_checks: list[str] = field(default_factory=list)
    """What the metrics endpoint said in each start of this arm (the switch verified)."""


@dataclass(frozen=True)
class ObservabilityCost(Record):
    framework: str
    switch: str
    rate_rps: float
    measure_s: float
    seed: int
    tunables: dict
    date: str
    on: ArmResult
    off: ArmResult

    @property
    def p99_difference_ms(self) -> float:
        return self.on.p99_ms - self.off.p99_ms

    @property
    def p99_intervals_overlap(self) -> bool | None:
        a, b = (self.on.p99_low_ms, self.on.p99_high_ms), (self.off.p99_low_ms, self.off.p99_high_ms)
        if None in a or None in b:
            return None
        return not (a[1] < b[0] or b[1] < a[0])  # type: ignore[operator]


def switchable() -> list[str]:
    return [n for n in available() if load_adapter(n).metrics_switch]


def check_framework(name: str) -> Adapter:
    adapter = load_adapter(name)
    if not adapter.metrics_switch:
        why = adapter.metrics_absent if adapter.metrics is None else "no switch known"
        raise ValueError(f"{name} cannot switch its own metrics off ({why}); "
                         f"frameworks that can: {', '.join(switchable())}")
    return adapter


def _endpoint_state(adapter: Adapter, ports: dict[str, int]) -> str:
    """"counter present" / "no counter" / "endpoint refused: ..." for the metrics endpoint right now."""
    spec = adapter.metrics
    assert spec is not None
    try:
        found = total(scrape(ports[spec.port], spec), spec.requests, spec.labels)
    except ScrapeError as exc:
        return f"endpoint off ({exc})"
    return "counter present" if found is not None else "no request counter"


def one_start(adapter: Adapter, tunables: Tunables, model_dir: Path, on: bool, out: Path, i: int, *,
              cpus: tuple[tuple[int, ...], tuple[int, ...]], rate: float, warmup_s: float, measure_s: float,
              seed: int) -> tuple[OpenStep, np.ndarray, str]:
    """Start the framework with its metrics ``on`` or off, warm it, run the fixed schedule; stop it."""
    server_cpus, loadgen_cpus = cpus
    run_dir, load_dir = out / f"start{i}-{'on' if on else 'off'}", out / "load"
    load_dir.mkdir(parents=True, exist_ok=True)
    requests_file = write_requests(adapter, request_texts(), load_dir / "requests.json")
    with launched(adapter, tunables, run_dir=run_dir, model_dir=model_dir, cpus=server_cpus,
                  server_metrics=on) as server, TreeMonitor(server.tree) as monitor:
        ctx = StepContext(server, monitor, requests_file, load_dir, loadgen_cpus, slo_p99_ms=1e9)
        open_step(ctx, rate, 0.0, warmup_s, seed + 1000 + i, name=f"warm{i}")
        step = open_step(ctx, rate, 1.0, measure_s, seed, name=f"arm{i}-{'on' if on else 'off'}")
        state = _endpoint_state(adapter, server.spec.ports)
    return step, np.load(out / step.samples_file), state


def _arm(on: bool, runs: list[tuple[OpenStep, np.ndarray, str]]) -> ArmResult:
    windows = [stats.sent_in_window(raw, s.window_start, s.window_end) for s, raw, _ in runs]
    rows = np.concatenate(windows) if windows else np.zeros((0, 5))
    ok = stats.ok_latencies(rows)
    p99, p50 = percentile_ci(ok, 0.99), percentile_ci(ok, 0.50)
    cpu = [s.resources.server_cpu_s for s, _, _ in runs]
    done = sum(stats.completed_ok_in_window(raw, s.window_start, s.window_end) for s, raw, _ in runs)
    cpu_ms = sum(cpu) * 1000 / done if done and all(c is not None for c in cpu) else None  # type: ignore[misc]
    return ArmResult(metrics_on=on, steps=[s.name for s, _, _ in runs], requests=int(rows.shape[0]),
                     p50_ms=p50.estimate, p99_ms=p99.estimate, p99_low_ms=p99.low, p99_high_ms=p99.high,
                     cpu_ms_per_request=cpu_ms, failures=int(rows.shape[0] - ok.size),
                     endpoint_checks=[state for _, _, state in runs])


def measure(name: str, model_dir: Path, out: Path, *, cpus: tuple[tuple[int, ...], tuple[int, ...]],
            rate: float = 20.0, warmup_s: float = 4.0, measure_s: float = 20.0, rounds: int = 1,
            seed: int = 12345, progress: Callable[[str], None] = print) -> ObservabilityCost:
    """rounds x ABBA starts of ``name``; the result is also written to ``out/observability.json``."""
    adapter = check_framework(name)
    tunables = Tunables()
    runs: dict[bool, list[tuple[OpenStep, np.ndarray, str]]] = {True: [], False: []}
    for i, on in enumerate(ORDER * rounds):
        progress(f"[observability] {name}: start {i + 1}/{len(ORDER) * rounds}, metrics "
                 f"{'on' if on else 'off'}, {rate:g} req/s for {measure_s:g} s")
        runs[on].append(one_start(adapter, tunables, model_dir, on, out, i, cpus=cpus, rate=rate,
                                  warmup_s=warmup_s, measure_s=measure_s, seed=seed))
    result = ObservabilityCost(framework=name, switch=adapter.metrics_switch, rate_rps=rate,
                               measure_s=measure_s, seed=seed, tunables=tunables.as_dict(),
                               date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               on=_arm(True, runs[True]), off=_arm(False, runs[False]))
    (out / "observability.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def describe(r: ObservabilityCost) -> str:
    """The printed table: each arm's p99 with its interval, CPU-ms/request, and the switch check."""
    def arm(a: ArmResult) -> str:
        ci = f"[{a.p99_low_ms:.2f}, {a.p99_high_ms:.2f}]" if a.p99_low_ms and a.p99_high_ms else "[too few]"
        cpu = f"{a.cpu_ms_per_request:.2f}" if a.cpu_ms_per_request is not None else "-"
        return (f"  metrics {'on ' if a.metrics_on else 'off'}: {a.requests} requests, "
                f"p50 {a.p50_ms:.2f} ms, p99 {a.p99_ms:.2f} ms {ci}, CPU-ms/req {cpu}, "
                f"failures {a.failures}; endpoint: "
                f"{'; '.join(sorted(set(a.endpoint_checks)))}")
    overlap = r.p99_intervals_overlap
    verdict = ("the p99 intervals overlap: no difference shown" if overlap else
               "the p99 intervals are disjoint" if overlap is False else "too few requests to bound a p99")
    return "\n".join([f"{r.framework}: metrics switched off by {r.switch}; {r.rate_rps:g} req/s, "
                      f"{r.measure_s:g} s per start, seed {r.seed}", arm(r.on), arm(r.off),
                      f"  p99 on - off: {r.p99_difference_ms:+.2f} ms ({verdict})"])
