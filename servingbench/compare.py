"""Benchmark several frameworks in turn and print one summary table, ranked and judged as the index is.

A framework that fails (install, start, parity, a crash mid-run) is recorded as a failed run with its
reason and the comparison goes on with the next one; only Ctrl-C stops the whole comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from servingbench.record import RunRecord, SchemaError
from servingbench.report.comparison import Row
from servingbench.report.comparison import compare as rank
from servingbench.report.model import run_view
from servingbench.results import load_run
from servingbench.run import BenchConfig, run_bench

COLUMNS = ("#", "framework", "preset", "status", "req/s@SLO", "interval", "vs next / #1", "p50@fixed ms",
           "p99@fixed ms", "ready s", "mem MiB", "CPU-ms/req")


def compare(frameworks: list[str], presets: list[str], base: BenchConfig, model_dir: Path,
            out: Callable[[str], None] = print) -> list[RunRecord]:
    """Run every (framework, preset); returns the run records (failed ones included)."""
    runs: list[RunRecord] = []
    total = len(frameworks) * len(presets)
    n = 0
    for framework in frameworks:
        for preset in presets:
            n += 1
            out(f"=== {n}/{total}: {framework} ({preset}) ===")
            config = replace(base, framework=framework, preset=preset)
            try:
                folder = run_bench(config, model_dir, out)
                record = load_run(folder) or _failed(framework, preset, f"unreadable result in {folder}")
            except SchemaError as exc:
                record = _failed(framework, preset, f"unreadable result: {exc}")
            except (ValueError, RuntimeError, OSError) as exc:  # e.g. a preset this framework lacks
                record = _failed(framework, preset, f"{type(exc).__name__}: {exc}")
            runs.append(record)
            if record.status == "interrupted":
                return runs
    return runs


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
    rows = [list(COLUMNS)] + [_cells(r) for r in ranking.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in ranking.failed:
        reason = r.reason.splitlines() or [""]
        lines.append(f"{r.framework} ({r.preset}) {r.status}: {reason[0]}")
    if ranking.standings:
        lines += ["", "Why each verdict:"]
        lines += [f"  #{row.rank} {st.text}: {st.why}" for row, st in ranking.standings]
    return "\n".join(lines)
