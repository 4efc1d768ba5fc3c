"""The cross-check as a person reads it: both tools' verdicts side by side, then AGREE/DISAGREE lines.

Also reads crosscheck.json back (the run page can show it): one writer, one reader, the same record.
"""

from __future__ import annotations

import json
from pathlib import Path

from servingbench.crosscheck.verdict import CROSSCHECK_FILE, CrossCheck, LoadgenRun, OurHeadline
from servingbench.texttable import text_table

OURS = "servingbench (open-loop SLO search)"
THEIRS = "MLPerf LoadGen (Server scenario)"


def read_crosscheck(run_folder: Path) -> CrossCheck | None:
    """The cross-check written beside a run, or None when it has none (or an unreadable one)."""
    try:
        return CrossCheck.from_dict(json.loads((run_folder / CROSSCHECK_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _interval(ci: list[float | None]) -> str:
    if len(ci) != 2:
        return ""
    low, high = (f"{v:.1f}" if v is not None else "unbounded" for v in ci)
    return f" [{low}, {high}]"


def _ours_at(ours: OurHeadline, factor: float) -> list[str]:
    """Our verdict at ``factor`` x the held rate, from the run's search and confirmations."""
    rate = ours.held_rate_rps * factor
    failing = ours.lowest_failing_rps
    if factor == 1.0:
        worst = ours.worst
        lines = [f"held: {sum(c.passed for c in ours.confirmations)}/{len(ours.confirmations)} "
                 f"confirmations met the SLO", f"achieved {ours.achieved_rps:.1f} req/s"]
        if worst is not None:
            lines.append(f"p99 {worst.p99_ms:.1f} ms{_interval(worst.p99_ci_ms)} (highest)")
        return lines
    if factor < 1.0:
        return ["below our held rate: holds"]
    if failing is not None and failing <= rate:
        return [f"fails: {failing:.1f} req/s already failed", "(lowest failing rate)"]
    return [f"not probed (bracket ends at {failing:.1f} req/s)" if failing else "not probed"]


def _theirs(run: LoadgenRun) -> list[str]:
    s = run.summary
    p99 = f"p99 {s.p99_ms:.1f} ms" if s.p99_ms is not None else "no p99"
    early = s.early_stopping.strip().splitlines()[0].lstrip("* ").strip() if s.early_stopping else "-"
    lines = [f"{s.result}, {p99}", f"early stopping: {early}"]
    if s.overlatency_count is not None and s.query_count:
        lines.append(f"{s.overlatency_count}/{s.query_count} queries over the bound")
    if run.failed:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(run.failures.items()))
        lines.append(f"{run.failed} failed requests ({kinds})")
    return lines


def side_by_side(check: CrossCheck) -> str:
    """The table and the verdict lines printed at the end of ``servingbench crosscheck``."""
    ours = check.ours
    bracket = f"{ours.lowest_failing_rps:.1f}" if ours.lowest_failing_rps else "none failed"
    out = [f"cross-check of {check.framework}/{check.preset} run {ours.run_id}: SLO p99 <= "
           f"{ours.slo_p99_ms:g} ms, errors <= {ours.max_error_rate:.1%}; our bracket "
           f"[{ours.held_rate_rps:.1f}, {bracket}] req/s",
           f"LoadGen {check.loadgen_version or '?'}: {check.loadgen_duration_s:g} s per rate, "
           f"{check.threads} client threads with keep-alive connections", ""]
    rows = []
    for run in sorted(check.runs, key=lambda r: r.factor):
        left, right = _ours_at(ours, run.factor), _theirs(run)
        label = f"{run.target_qps:.1f} req/s ({run.factor:g}x)"
        rows += [[label if i == 0 else "", left[i] if i < len(left) else "",
                  right[i] if i < len(right) else ""] for i in range(max(len(left), len(right)))]
    verdicts = [[a.verdict, f"{a.claim}: {a.reason}"] for a in check.agreements]
    out += [text_table(("rate", OURS, THEIRS), rows), "", text_table(("verdict", "claim"), verdicts)]
    out.append(f"overall: {'AGREE' if check.agree else 'DISAGREE'} (servingbench and MLPerf LoadGen)")
    if check.known_difference:
        out.append(check.known_difference)
    return "\n".join(out)
