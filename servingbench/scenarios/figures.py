"""A scenario's open-loop step, run in the scenario's own folder and kept as the figures its page shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from servingbench.load.steps import open_step
from servingbench.record.run_record import OpenStep
from servingbench.scenarios.base import ScenarioContext
from servingbench.scenarios.records import StepFigures


def step_figures(step: OpenStep, samples_file: str) -> StepFigures:
    """The parts of an OpenStep a scenario keeps (``samples_file``: where its raw samples are)."""
    res = step.resources
    return StepFigures(
        name=step.name, rate_rps=step.rate_rps, seed=step.seed, samples_file=samples_file,
        window_start=step.window_start, window_end=step.window_end, latency=step.latency,
        percentile_ci_ms=step.percentile_ci_ms, failure_kinds=step.failure_kinds,
        cpu_ms_per_request=res.cpu_ms_per_request, server_cpu_util=res.server_cpu_util,
        generator_limited=step.generator_limited, send_lag_p99_ms=step.send_lag_p99_ms,
    )


def scenario_open_step(sc: ScenarioContext, scenario: str, *, name: str, rate_rps: float, warmup_s: float,
                       measure_s: float, seed: int, requests_file: Path,
                       schedule: np.ndarray | None = None) -> StepFigures:
    """One open-loop step whose Locust files land in the scenario's folder (scenarios/<scenario>/)."""
    out = sc.out_dir(scenario)
    ctx = dataclasses.replace(sc.ctx, load_dir=out)
    step = open_step(ctx, rate_rps, warmup_s, measure_s, seed, name, purpose=f"scenario {scenario}",
                     schedule=schedule, requests_file=requests_file)
    samples = (out / f"{name}.samples.npy").relative_to(sc.folder).as_posix()
    return step_figures(step, samples)
