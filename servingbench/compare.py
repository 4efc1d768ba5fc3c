"""Benchmark several frameworks in turn and print one summary table.

A framework that fails (install, start, parity, a crash mid-run) is recorded as a failed run with its
reason and the comparison goes on with the next one; only Ctrl-C stops the whole comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from servingbench.record import RunRecord, SchemaError
from servingbench.results import load_run
from servingbench.run import BenchConfig, run_bench

COLUMNS = [
    ("framework", "{}"), ("preset", "{}"), ("status", "{}"), ("req/s@SLO", "{:.1f}"),
    ("p50@fixed ms", "{:.2f}"), ("p99@fixed ms", "{:.2f}"), ("ready s", "{:.1f}"), ("mem MiB", "{:.0f}"),
    ("CPU-ms/req", "{:.2f}"),
]


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


def row(record: RunRecord) -> list[str]:
    s = record.summary
    figures = [s.throughput_at_slo_rps, s.p50_ms_at_fixed_load, s.p99_ms_at_fixed_load] if s else [None] * 3
    values = [record.framework, record.preset, record.status, *figures, record.time_to_ready_s,
              s.mem_peak_mib if s else None, s.cpu_ms_per_request_at_fixed_load if s else None]
    cells = []
    for (_, fmt), value in zip(COLUMNS, values, strict=True):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            cells.append("-")
        else:
            cells.append(fmt.format(value))
    return cells


def summary_table(runs: list[RunRecord]) -> str:
    """A plain-text table, ranked by throughput at the SLO; failures last with their reason."""
    ok = sorted((r for r in runs if r.status == "complete"),
                key=lambda r: -((r.summary.throughput_at_slo_rps if r.summary else 0.0) or 0.0))
    failed = [r for r in runs if r.status != "complete"]
    rows = [[name for name, _ in COLUMNS]] + [row(r) for r in ok + failed]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in failed:
        reason = (r.failure_reason or "").splitlines() or [""]
        lines.append(f"{r.framework} ({r.preset}) {r.status}: {reason[0]}")
    return "\n".join(lines)
