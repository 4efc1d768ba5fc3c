"""A bounded configuration search that earns each framework's ``tuned`` preset by measurement.

Candidates are the framework's defaults, then workers (or replicas) crossed with batching off and on at a
few batch sizes and delays. Two stages:

1. Screen: each candidate the framework accepts is benchmarked with the short ``tune`` profile (start,
   parity gate, SLO search, one repeat) while the budget leaves room for stage 2. One repeat proves
   nothing (measure.comparison calls it unproven), so the screen only picks a challenger: the candidate
   with the highest throughput at the SLO, if it beat the defaults there.
2. Confirm: the defaults and the challenger are measured again, fresh, with the ``tune-final`` profile
   (a finer search and three confirmations, like the standard profile), and compared by
   measure.comparison on their intervals (measure.capacity). Fresh runs keep the screen's luck (the
   best of many noisy figures is biased upwards) out of the verdict, and one comparison has one
   false-ahead chance rather than one per candidate.

A tuned configuration is kept only when the challenger is called "ahead" of the defaults; otherwise the
written ``tuned.json`` holds the defaults and says why ("no candidate ahead of the defaults: best X
req/s vs default Y req/s, tied"). The whole search is kept in ``results/tuning/<id>/tuning.json``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from servingbench.adapter import Adapter, Tunables
from servingbench.measure import comparison as stat
from servingbench.measure.capacity import capacity_interval
from servingbench.presets import TUNED_FILE, CandidateRow, TunedPreset
from servingbench.profiles import Profile
from servingbench.progress import JobProgress
from servingbench.record.results import load_run
from servingbench.record.run_record import RunRecord
from servingbench.record.serial import Record
from servingbench.run import BenchConfig, run_bench

BATCH_CHOICES: tuple[tuple[int, float], ...] = ((16, 0.0), (8, 2.0), (16, 5.0), (32, 10.0))
"""(max batch size, max delay ms). A delay of 0 batches only what queued while the model ran; frameworks
that cannot express it refuse it in validate() and it is skipped."""

TUNE_PROFILE = Profile(
    "tune", "configuration search: one closed step to find the range, then the SLO search",
    warmup_s=3, users=(8,), step_warmup_s=2, step_s=5, windows=2, reference_s=0, fixed_rate_rps=20,
    open_warmup_s=2, open_s=5, slo_probes=4, probe_s=6, repeats=1, ceiling_s=0,
    slo_confidence=0.9, probe_max_s=18, probe_looks=2,  # a pass needs 299 clean requests: >= 17 req/s
)
FINAL_PROFILE = replace(
    TUNE_PROFILE, name="tune-final", slo_probes=6, repeats=3,
    description="the defaults and the screen's best, measured again: a finer SLO search and three "
                "confirmations, so measure.comparison can call one ahead",
)
START_ALLOWANCE_S = 30.0
"""Server start, parity gate and stop per run before any run measured them (the estimate of stage 2)."""


@dataclass(frozen=True)
class Decision(Record):
    """Whether the challenger is kept as the tuned preset, and why."""

    kept: bool
    reason: str
    verdict: str = ""
    why: str = ""
    challenger: dict[str, Any] | None = None


@dataclass(frozen=True)
class TuningResult(Record):
    """results/tuning/<id>/tuning.json: the search table, the confirming runs and the decision."""

    framework: str
    date: str
    budget_s: float
    slo_p99_ms: float
    server_cpus: list[int]
    candidates_total: int
    default_tunables: dict[str, Any]
    decision: Decision
    elapsed_s: float = 0.0
    profile: dict[str, Any] = field(default_factory=dict)
    final_profile: dict[str, Any] = field(default_factory=dict)
    table: list[CandidateRow] = field(default_factory=list)
    final: list[CandidateRow] = field(default_factory=list)


def candidates(adapter: Adapter, cpus: int) -> list[Tunables]:
    """The framework's own defaults first, then every configuration of the grid it accepts.

    Each candidate is the default preset with the grid's knobs set (what ``make bench`` runs for those
    overrides), so a framework's extra knobs keep their defaults and equal configurations run once.
    """
    default = adapter.presets()["default"].tunables
    grid = [default]
    for workers in sorted({1, cpus, 2 * cpus}):
        grid.append(Tunables(workers=workers))
        grid += [Tunables(workers=workers, max_batch_size=b, max_batch_delay_ms=d) for b, d in BATCH_CHOICES]
    accepted, seen = [], set()
    for tunables in grid:
        effective = replace(default, **asdict(tunables))
        key = json.dumps(asdict(effective), sort_keys=True)
        if key in seen:
            continue
        try:
            adapter.validate(effective)
        except ValueError:
            continue
        seen.add(key)
        accepted.append(effective)
    return accepted


def candidate_row(tunables: Tunables | dict, record: RunRecord | None, stage: str = "screen") -> CandidateRow:
    """One line of the search table, from the candidate's run (None: no readable run)."""
    summary = record.summary if record else None
    search = record.slo_search if record else None
    interval = capacity_interval(record) if record else None
    return CandidateRow(
        tunables=tunables if isinstance(tunables, dict) else asdict(tunables),
        status=record.status if record else "failed",
        failure_reason=((record.failure_reason if record else None) or "")[:500] or None,
        throughput_at_slo_rps=summary.throughput_at_slo_rps if summary else 0.0,
        p99_ms_at_fixed_load=summary.p99_ms_at_fixed_load if summary else None,
        time_to_ready_s=record.time_to_ready_s if record else None,
        run_id=record.run_id if record else None,
        stage=stage,
        repeats=search.repeats if search else 0,
        interval_rps=_bounds(interval),
        held=search.held if search else None,
    )


def _bounds(interval: stat.RunInterval | None) -> list[float | None] | None:
    return [interval.low, None if math.isinf(interval.high) else interval.high] if interval else None


def challenger_of(table: list[CandidateRow], default: dict[str, Any]) -> CandidateRow | None:
    """The screen's best candidate other than the defaults, if it beat the defaults' screening figure."""
    done = [r for r in table if r.status == "complete" and r.held is not False]
    base = next((r for r in done if r.tunables == default), None)
    best = max((r for r in done if r.tunables != default), key=_tput, default=None)
    if best is None or not _tput(best) > 0 or (base is not None and _tput(best) <= _tput(base)):
        return None
    return best


def _tput(row: CandidateRow) -> float:
    return row.throughput_at_slo_rps or 0.0


def decide(default: dict[str, Any], screened: list[CandidateRow], final: list[CandidateRow]) -> Decision:
    """Keep the challenger only when its confirming run is called ahead of the defaults'.

    ``final`` holds the confirming runs, the defaults' first and the challenger's second; empty when the
    screen found no challenger.
    """
    if not final:
        return Decision(False, _no_challenger(default, screened))
    base = final[0]
    if len(final) < 2:
        return Decision(False, f"the confirming runs stopped after the defaults' ({base.status})")
    best = final[1]
    if base.status != "complete" or best.status != "complete":
        which, row = ("the defaults'", base) if base.status != "complete" else ("the challenger's", best)
        return Decision(False, f"{which} confirming run {row.status}: nothing was compared",
                        challenger=best.tunables)
    figures = f"best {_tput(best):.1f} req/s vs default {_tput(base):.1f} req/s"
    mine, theirs = best.interval, base.interval
    if mine is None or theirs is None:
        which = "the challenger" if mine is None else "the defaults"
        reason = (f"no candidate ahead of the defaults: {figures}; {which} held no rate in the confirming "
                  f"run, so there is no interval to compare")
        return Decision(False, reason, challenger=best.tunables)
    result = stat.compare(mine, theirs, names=("the challenger", "the defaults"), unit="req/s")
    if result.verdict == "ahead" and result.better == "the challenger":
        return Decision(True, f"ahead of the defaults: {figures}", "ahead", result.explain(), best.tunables)
    verdict = "behind" if result.verdict == "ahead" else result.verdict
    return Decision(False, f"no candidate ahead of the defaults: {figures}, {verdict}", verdict,
                    result.explain(), best.tunables)


def _no_challenger(default: dict[str, Any], screened: list[CandidateRow]) -> str:
    done = [r for r in screened if r.status == "complete"]
    base = next((r for r in done if r.tunables == default), None)
    others = [r for r in done if r is not base]
    if not others:
        return "no candidate but the defaults was measured within the budget"
    best = max(_tput(r) for r in others)
    figure = f"{_tput(base):.1f} req/s" if base else "no figure"
    return (f"no candidate ahead of the defaults: none beat them in the screen (best other {best:.1f} req/s "
            f"vs default {figure}, one repeat each)")


def final_estimate_s(durations: list[float]) -> float:
    """Two confirming runs: the final profile's load plus the start, parity and stop the screen showed."""
    overhead = (statistics.mean(d - TUNE_PROFILE.estimate_s() for d in durations) if durations
                else START_ALLOWANCE_S)
    return 2 * (FINAL_PROFILE.estimate_s() + max(0.0, overhead))


Measure = Callable[[dict[str, Any], Profile, str], CandidateRow]


def screen_plan(remaining: int, left_s: float, durations: list[float]) -> list[float]:
    """The planned seconds of the rest of the search: the candidates still expected to fit the budget
    (at least the next one), each as long as the screened ones took, then the two confirming runs."""
    per = statistics.mean(durations) if durations else TUNE_PROFILE.estimate_s() + START_ALLOWANCE_S
    reserve = final_estimate_s(durations)
    fits = max(1, min(remaining, int(max(0.0, left_s - reserve) // max(per, 1.0))))
    return [per] * fits + [reserve / 2] * 2


def screen(grid: list[Tunables], budget_s: float, measure: Measure, out: Callable[[str], None],
           name: str, job: JobProgress | None = None) -> list[CandidateRow]:
    """Screen candidates (the defaults always) while the budget keeps room for the confirming runs."""
    started = time.monotonic()
    table: list[CandidateRow] = []
    durations: list[float] = []
    for i, tunables in enumerate(grid, 1):
        spent = time.monotonic() - started
        reserve = final_estimate_s(durations)
        upcoming = statistics.mean(durations) if durations else 0.0
        if job is not None:
            job.replan_rest(screen_plan(len(grid) - i + 1, budget_s - spent, durations))
        if table and spent + upcoming + reserve > budget_s:
            out(f"[tune {name}] screen stops after {i - 1} of {len(grid)} candidates: "
                f"{reserve / 60:.1f} min of the {budget_s / 60:.0f} min budget kept for the confirming runs")
            break
        out(f"[tune {name}] candidate {i}/{len(grid)}: {tunables} ({(budget_s - spent) / 60:.1f} min left)")
        t0 = time.monotonic()
        table.append(measure(asdict(tunables), TUNE_PROFILE, "screen"))
        durations.append(time.monotonic() - t0)
        if table[-1].status == "interrupted":
            break
    return table


def tune(adapter: Adapter, base: BenchConfig, model_dir: Path, budget_s: float, out_root: Path,
         out: Callable[[str], None] = print) -> TuningResult:
    """Screen candidates, confirm the defaults and the best one, and decide by measure.comparison."""
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out_root / f"{stamp}-{adapter.name}"
    folder.mkdir(parents=True, exist_ok=True)
    default = asdict(adapter.presets()["default"].tunables)
    grid = candidates(adapter, len(base.server_cpus))

    with JobProgress(f"tune {adapter.name}", screen_plan(len(grid), budget_s, []), out) as job:
        def measure(tunables: dict[str, Any], profile: Profile, stage: str) -> CandidateRow:
            config = replace(base, framework=adapter.name, preset="default", profile=profile,
                             overrides=dict(tunables), results_root=folder / stage)
            say = job.start(f"{stage} {_short(tunables)}")
            row = candidate_row(tunables, load_run(run_bench(config, model_dir, say)), stage)
            job.finish()
            return row

        table = screen(grid, budget_s, measure, job.say, adapter.name, job)
        final = _confirm(default, challenger_of(table, default), table, measure, job, adapter.name)
    result = TuningResult(
        framework=adapter.name, date=stamp, budget_s=budget_s, slo_p99_ms=base.slo_p99_ms,
        server_cpus=list(base.server_cpus), candidates_total=len(grid), default_tunables=default,
        decision=decide(default, table, final), elapsed_s=round(time.monotonic() - started, 1),
        profile=TUNE_PROFILE.as_dict(), final_profile=FINAL_PROFILE.as_dict(), table=table, final=final,
    )
    (folder / "tuning.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _confirm(default: dict[str, Any], challenger: CandidateRow | None, table: list[CandidateRow],
             measure: Measure, job: JobProgress, name: str) -> list[CandidateRow]:
    """Stage 2: the defaults and the challenger measured again (none when there is no challenger)."""
    final: list[CandidateRow] = []
    if challenger is None or any(r.status == "interrupted" for r in table):
        job.replan_rest([])
        return final
    job.replan_rest(job.planned_s[-2:])  # every plan of the screen ends with the two confirming runs
    job.say(f"[tune {name}] confirming the defaults and the screen's best, {challenger.tunables}")
    for tunables in (default, challenger.tunables):
        final.append(measure(tunables, FINAL_PROFILE, "final"))
        if final[-1].status == "interrupted":
            break
    return final


def _short(tunables: dict[str, Any]) -> str:
    """The knobs that are set, compactly ("workers=2 max_batch_size=16")."""
    return " ".join(f"{k}={v}" for k, v in tunables.items() if v not in (None, 0, 0.0)) or "defaults"


def tuned_preset(result: TuningResult) -> TunedPreset | None:
    """What tuned.json says after this search; None when it should stay as it is (nothing completed, or
    the search was interrupted)."""
    rows = result.table + result.final
    if any(r.status == "interrupted" for r in rows):
        return None
    default = result.default_tunables
    measured = [r for r in rows if r.tunables == default and r.status == "complete"]
    if not measured:
        return None
    base = measured[-1]  # the confirming run when there was one
    decision = result.decision
    kept = next((r for r in result.final if decision.kept and r.tunables == decision.challenger), None)
    chosen = kept or base
    confirmed = ", the defaults and the best confirmed" if result.final else ""
    return TunedPreset(
        tunables=chosen.tunables, throughput_at_slo_rps=_tput(chosen),
        default_throughput_at_slo_rps=_tput(base),
        slo_p99_ms=result.slo_p99_ms, server_cpus=len(result.server_cpus),
        searched=f"{len(result.table)} of {result.candidates_total} candidates screened{confirmed}",
        date=result.date, profile=(FINAL_PROFILE if result.final else TUNE_PROFILE).name, table=result.table,
        kept=kept is not None, verdict=decision.verdict, reason=decision.reason, why=decision.why,
        final=result.final,
    )


def write_tuned_preset(adapter: Adapter, result: TuningResult) -> Path | None:
    """Write ``frameworks/<name>/tuned.json`` (the kept configuration, or the defaults and why)."""
    tuned = tuned_preset(result)
    if tuned is None:
        return None
    path = adapter.folder / TUNED_FILE
    path.write_text(json.dumps(tuned.to_dict(), indent=2) + "\n")
    return path
