"""Benchmark several frameworks in turn and print one summary table, ranked and judged as the index is.

A framework that fails (install, start, parity, a crash mid-run) is recorded as a failed run with its
reason and the comparison goes on with the next one; only Ctrl-C stops the whole comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from servingbench.frameworks import load_adapter
from servingbench.progress import JobProgress, adapter_start_estimate
from servingbench.record.results import load_run
from servingbench.record.run_record import RunRecord, SchemaError
from servingbench.report.comparison import Row
from servingbench.report.comparison import compare as rank
from servingbench.report.model import run_view
from servingbench.run import BenchConfig, run_bench
from servingbench.texttable import text_table

COLUMNS = ("#", "framework", "preset", "status", "req/s@SLO", "interval", "vs next / #1", "p50@fixed ms",
           "p99@fixed ms", "ready s", "mem MiB", "CPU-ms/req")


def planned_s(frameworks: list[str], presets: list[str], base: BenchConfig) -> list[float]:
    """Each run's planned seconds, as run_bench plans its own: the profile plus start, parity and stop
    (twice with a fresh-start confirmation), nothing for a remote target."""
    starts = 2 if base.profile.fresh_start and base.profile.repeats > 1 else 1
    plan = []
    for framework in frameworks:
        start_s = 0.0 if base.target else adapter_start_estimate(load_adapter(framework)) * starts
        plan += [base.profile.estimate_s() + start_s] * len(presets)
    return plan


def compare(frameworks: list[str], presets: list[str], base: BenchConfig, model_dir: Path,
            out: Callable[[str], None] = print, live: bool | None = None) -> list[RunRecord]:
    """Run every (framework, preset); returns the run records (failed ones included). Every line says
    where the whole comparison is (i of N, elapsed, time left), a live bar on a terminal."""
    runs: list[RunRecord] = []
    pairs = [(f, p) for f in frameworks for p in presets]
    with JobProgress("compare", planned_s(frameworks, presets, base), out, live=live) as job:
        for framework, preset in pairs:
            say = job.start(f"{framework} ({preset})")
            record = _one(replace(base, framework=framework, preset=preset), model_dir, say)
            job.finish()
            runs.append(record)
            if record.status == "interrupted":
                break
    return runs


def _one(config: BenchConfig, model_dir: Path, out: Callable[[str], None]) -> RunRecord:
    """One run of the comparison; a failure of any kind becomes a failed record with its reason."""
    framework, preset = config.framework, config.preset
    try:
        folder = run_bench(config, model_dir, out)
        return load_run(folder) or _failed(framework, preset, f"unreadable result in {folder}")
    except SchemaError as exc:
        return _failed(framework, preset, f"unreadable result: {exc}")
    except (ValueError, RuntimeError, OSError) as exc:  # e.g. a preset this framework lacks
        return _failed(framework, preset, f"{type(exc).__name__}: {exc}")


def _failed(framework: str, preset: str, reason: str) -> RunRecord:
    """The record of a configuration that produced no readable run."""
    return RunRecord(framework=framework, preset=preset, status="failed", failure_reason=reason)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _cells(row: Row) -> list[str]:
    """One line of the table: a ranked (or unranked) run with its verdicts, or a configuration that failed."""
    v = row.run
    if v is None:
        last = row.latest_attempt
        return ["-", row.framework, row.preset, last.status if last else "failed", *["-"] * 8]
    fixed = v.fixed_load
    p99 = "too few" if fixed.too_few_for_p99 else _num(fixed.p99_ms, 2)
    tput = _num(v.throughput_at_slo_rps, 1) if v.held else f"{_num(v.throughput_at_slo_rps, 1)} (none held)"
    verdicts = "; ".join(st.text for st in (row.versus_next, row.versus_leader) if st) or "-"
    return [str(row.rank or "-"), v.framework, v.preset, v.status, tput,
            v.interval.describe() if v.interval else "-", verdicts, _num(fixed.p50_ms, 2), p99,
            _num(v.time_to_ready_s, 1), _num(v.mem_peak_mib, 0), _num(v.cpu_ms_per_request, 2)]


def summary_table(runs: list[RunRecord]) -> str:
    """A plain-text table ranked as the index ranks (report.comparison): held runs by throughput at the
    SLO, each called ahead, tied or unproven against the next and #1; failures last with their reason."""
    ranking = rank([run_view(r) for r in runs])
    lines = text_table(COLUMNS, [_cells(r) for r in ranking.rows]).splitlines()
    for r in ranking.failed:
        reason = r.reason.splitlines() or [""]
        lines.append(f"{r.framework} ({r.preset}) {r.status}: {reason[0]}")
    if ranking.standings:
        lines += ["", "Why each verdict:"]
        lines += [f"  #{row.rank} {st.text}: {st.why}" for row, st in ranking.standings]
    return "\n".join(lines)
