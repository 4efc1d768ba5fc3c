"""What the scenarios that scale their load by the reference rate (overload, burst) share: where that rate
comes from, and their open-loop steps as records.

The rate (``RATE_FROM`` / ``--rate-from``):
- ``newest`` (the CLI's default): the reference rate of the newest complete steady run in results/ measured
  in the same setting: framework, preset, tunables, SLO, profile, server and load-generator CPU sets,
  launch mode and target, and machine (host, CPU model, logical CPUs). A standard steady protocol costs
  minutes; an overload curve need not pay it again. No such run: this run measures steady first.
- ``this-run``: always measure steady first in this run.
- a number (``RATE_FROM=40``): scale by that rate in req/s (a user's own expected peak; the suite's
  real-server tests). The page says which it was, and names the run a borrowed rate came from.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from servingbench.measure import stats
from servingbench.record.results import list_runs
from servingbench.record.run_record import OpenStep, RunRecord
from servingbench.scenarios import STEADY
from servingbench.scenarios.base import ScenarioContext, reference_rate
from servingbench.scenarios.records import RateSource, ScenarioStep

if TYPE_CHECKING:
    from servingbench.run import BenchConfig

NEWEST, THIS_RUN, GIVEN = "newest", "this-run", "given"


def parse_rate_from(text: str | None) -> tuple[str, float | None]:
    """``newest`` / ``this-run`` / a rate in req/s > 0; ValueError naming the choices otherwise."""
    value = (text or NEWEST).strip()
    if value in (NEWEST, THIS_RUN):
        return value, None
    try:
        rate = float(value)
    except ValueError:
        rate = float("nan")
    if not rate > 0 or rate == float("inf"):
        raise ValueError(f"RATE_FROM must be newest, this-run or a rate in req/s > 0, got {value!r}")
    return GIVEN, rate


def parse_time_scale(text: str | None) -> float:
    """SCENARIO_TIME_SCALE: a factor in (0, 10]; ValueError otherwise."""
    try:
        scale = float(text or 1)
    except ValueError:
        scale = float("nan")
    if not 0 < scale <= 10:
        raise ValueError(f"SCENARIO_TIME_SCALE must be a number in (0, 10], got {text!r}")
    return scale


def setting_key(record: RunRecord) -> tuple:
    """What must be equal for a steady run's rate to stand for this run's server (module docstring)."""
    m = record.machine
    machine = (m.hostname, m.cpu_model, m.logical_cpus) if m is not None else None
    cpus = (tuple(record.cpus.server), tuple(record.cpus.loadgen)) if record.cpus else None
    return (record.framework, record.preset, tuple(sorted(record.tunables.items())),
            record.slo.p99_ms if record.slo else None, record.profile.get("name"), cpus,
            record.launch, record.target, record.loadgen_workers, record.loadgen_remote_workers, machine)


def newest_steady_run(root: Path, record: RunRecord) -> RunRecord | None:
    """The newest complete, parity-passed run that measured steady in ``record``'s setting, with a rate."""
    want = setting_key(record)
    found = [r for r in list_runs(root) if r.status == "complete" and (r.parity is None or r.parity.passed)
             and (not r.scenarios_run or STEADY in r.scenarios_run) and reference_rate(r) is not None
             and r.run_id != record.run_id and setting_key(r) == want]
    return max(found, key=lambda r: (r.started_at, r.run_id)) if found else None


def needs_rate(names: tuple[str, ...]) -> bool:
    from servingbench.scenarios import get_scenario

    return any(get_scenario(n).needs_slo_rate for n in names if n != STEADY)


def plan_rate(config: BenchConfig, record: RunRecord, out: Callable[[str], None]) -> BenchConfig:
    """The run's scenarios and options once the rate's source is settled: steady first where this run must
    measure it (``this-run``, or ``newest`` with no matching run), the earlier run named otherwise."""
    options = config.scenario_options
    if STEADY in config.scenarios or not needs_rate(config.scenarios) or options.rate_from == GIVEN:
        return config
    if options.rate_from == NEWEST:
        launched = dataclasses.replace(record, launch=config.launch_options().mode)  # set at launch otherwise
        earlier = newest_steady_run(config.results_root, launched)
        if earlier is not None and earlier.folder is not None:
            out(f"reference rate from the newest steady run in this setting: {earlier.run_id} "
                f"(RATE_FROM=this-run measures it afresh)")
            return dataclasses.replace(config, scenario_options=dataclasses.replace(
                options, reference_run=earlier.folder))
        out("no earlier steady run in this setting: measuring steady first for the reference rate")
    return dataclasses.replace(config, scenarios=(STEADY, *config.scenarios))


def scenario_rate(sc: ScenarioContext) -> RateSource:
    """The rate this scenario scales by (see the module docstring); RuntimeError when there is none."""
    options = sc.options
    if options.rate_from == GIVEN and options.rate_rps:
        return RateSource(options.rate_rps, "given (RATE_FROM)", "given")
    if options.reference_run is not None and STEADY not in sc.record.scenarios_run:
        from servingbench.record.results import load_run

        earlier = load_run(options.reference_run)
        ref = reference_rate(earlier) if earlier is not None else None
        if earlier is None or ref is None:
            raise RuntimeError(f"the reference run {options.reference_run} has no reference rate")
        return RateSource(ref.rps, ref.basis, "earlier run", earlier.run_id)
    ref = reference_rate(sc.record)
    if ref is None:
        raise RuntimeError("no reference rate: the steady protocol measured neither an SLO rate nor a peak")
    return RateSource(ref.rps, ref.basis, "this run", sc.record.run_id)


def new_seed() -> int:
    """A fresh arrival seed (recorded with the step, so the schedule can be reproduced)."""
    return secrets.randbits(31)


def scenario_step(step: OpenStep, folder: Path, offered_rps: float | None = None) -> ScenarioStep:
    """An open-loop step as the scenario's record, with its goodput count from the raw samples."""
    samples = np.load(folder / step.samples_file)
    completed = stats.completed_ok_in_window(samples, step.window_start, step.window_end)
    r = step.resources
    return ScenarioStep(
        name=step.name, offered_rps=step.rate_rps if offered_rps is None else offered_rps, seed=step.seed,
        window_start=step.window_start, window_end=step.window_end, samples_file=step.samples_file,
        latency=step.latency, percentile_ci_ms=step.percentile_ci_ms, failure_kinds=step.failure_kinds,
        intended_requests=step.intended_requests, completed_ok=completed,
        in_flight_at_end=step.in_flight_at_end,
        server_cpu_util=r.server_cpu_util, cpu_ms_per_request=r.cpu_ms_per_request,
        generator_cpu_util=r.generator_cpu_util, own_lag_p99_ms=step.own_lag_p99_ms,
        held_back_sends=step.held_back_sends, generator_limited=step.generator_limited,
        meets_slo=step.meets_slo)
