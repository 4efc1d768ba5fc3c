"""An SLO probe as open-loop runs: adaptive segments at one rate, pooled into one recorded step.

Each segment is one bounded open-loop step (load.steps.open_step) with its own arrival seed; the
verdict after each is the early-stopping rule over every request sent in the segments' windows so far
(measure.adaptive). The recorded step holds the pooled figures; with more than one segment its samples
file holds exactly the pooled rows (each segment's own file, warm-up and drain included, stays beside it),
so the report's figures, drawn from the samples file and window, equal the verdict's samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from servingbench.load.steps import StepContext, open_step, percentile_intervals
from servingbench.measure import stats
from servingbench.measure.adaptive import AdaptiveProbe, run_adaptive
from servingbench.measure.probe_verdict import ProbeRule, ProbeVerdict
from servingbench.measure.server_metrics import merge
from servingbench.measure.stability import combined
from servingbench.record.run_record import OpenStep, ProbeSegment, Resources


def adaptive_probe(ctx: StepContext, rate_rps: float, seed: int, *, name: str, purpose: str, warmup_s: float,
                   plan: Sequence[float], windows: int, rule: ProbeRule, fresh_start: bool = False,
                   after_segment: Callable[[OpenStep], None] = lambda _s: None,
                   on_look: Callable[[ProbeVerdict], None] = lambda _v: None) -> OpenStep:
    """Segments at ``rate_rps`` until the verdict is clear or ``plan`` ends; the pooled step."""
    steps: list[OpenStep] = []
    samples: list[np.ndarray] = []

    def segment(seconds: float, sub_seed: int) -> np.ndarray:
        seg_name = name if not steps else f"{name}-seg{len(steps) + 1}"
        step = open_step(ctx, rate_rps, warmup_s, seconds, sub_seed, name=seg_name, windows=windows,
                         purpose=purpose)
        steps.append(step)
        samples.append(np.load(ctx.load_dir / Path(step.samples_file).name))
        after_segment(step)
        return stats.sent_in_window(samples[-1], step.window_start, step.window_end)

    measured = run_adaptive(segment, rule, plan, seed, rate_rps, on_look)
    return pool(ctx, steps, samples, measured, name, fresh_start)


def pool(ctx: StepContext, steps: list[OpenStep], samples: list[np.ndarray], measured: AdaptiveProbe,
         name: str, fresh_start: bool) -> OpenStep:
    """One recorded step for the probe: its segments' figures pooled, the verdict and the segment list."""
    verdict = measured.verdict
    segments = [ProbeSegment(s.name, s.seed, s.window_start, s.window_end, s.samples_file,
                             s.intended_requests) for s in steps]
    first = steps[0]
    if len(steps) == 1:
        return dataclasses.replace(first, verdict=verdict, meets_slo=verdict.passed, segments=segments,
                                   fresh_start=fresh_start)
    rows = measured.rows
    pooled_file = Path(first.samples_file).with_name(f"{name}.pooled.samples.npy")
    np.save(ctx.load_dir / pooled_file.name, rows)
    seconds = measured.measured_s
    completed = sum(stats.completed_ok_in_window(raw, s.window_start, s.window_end)
                    for raw, s in zip(samples, steps, strict=True))
    summary = dataclasses.replace(stats.summarize(rows, seconds), throughput_rps=completed / seconds)
    lags = rows[:, 3][~np.isnan(rows[:, 3])] if rows.size else np.zeros(0)
    ok = stats.ok_latencies(rows)
    return dataclasses.replace(
        first,
        window_start=first.window_start,
        window_end=steps[-1].window_end,
        samples_file=str(pooled_file),
        latency=summary,
        intended_requests=int(rows.shape[0]),
        not_answered=sum(s.not_answered for s in steps),
        send_lag_p99_ms=stats.exact_percentiles(lags)["p99"] if lags.size else float("nan"),
        in_flight_at_end=sum(s.in_flight_at_end for s in steps),
        status_counts=stats.status_counts(rows),
        resources=pooled_resources(steps),
        generator_limited=any(s.generator_limited for s in steps),
        meets_slo=verdict.passed,
        stability=combined([s.stability for s in steps if s.stability is not None]),
        percentile_ci_ms=percentile_intervals(ok),
        histogram=stats.encode_histogram(ok),
        verdict=verdict,
        segments=segments,
        fresh_start=fresh_start,
        server_metrics=merge([s.server_metrics for s in steps]),
    )


def pooled_resources(steps: list[OpenStep]) -> Resources:
    """The segments' resource figures as one: rates weighted by measured time, per-request CPU by
    successful requests, peaks as the highest, CPU seconds summed."""
    parts = [s.resources for s in steps]
    seconds = [s.measured_s for s in steps]
    ok = [s.latency.ok for s in steps]

    def mean(values: list[float | None], weights: list[float]) -> float | None:
        pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and v == v]
        total = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / total if pairs and total > 0 else None

    def peak(values: list[float | int | None]) -> float | int | None:
        present = [v for v in values if v is not None]
        return max(present) if present else None

    cpu_s = [p.server_cpu_s for p in parts]
    return Resources(
        generator_cpu_util=mean([p.generator_cpu_util for p in parts], seconds) or 0.0,
        server_cpu_s=sum(c for c in cpu_s if c is not None) if any(c is not None for c in cpu_s) else None,
        server_cpu_util=mean([p.server_cpu_util for p in parts], seconds),
        cpu_ms_per_request=mean([p.cpu_ms_per_request for p in parts], ok),
        mem_peak_mib=peak([p.mem_peak_mib for p in parts]),
        mem_mean_mib=mean([p.mem_mean_mib for p in parts], seconds),
        memory_kind=parts[0].memory_kind,
        processes=peak([p.processes for p in parts]),
        monitor_cpu_util=mean([p.monitor_cpu_util for p in parts], seconds),
        # the segments' measured windows, first start to last end (the gaps between them are not counted)
        resources_start=parts[0].resources_start if all(p.resources_start for p in parts) else None,
        resources_end=parts[-1].resources_end if all(p.resources_end for p in parts) else None,
    )
