"""reports/summary.md: the ranked table and the regressions, for a CI job summary (GitHub markdown)."""

from __future__ import annotations

from servingbench.report.comparison import Comparison
from servingbench.report.format import fmt, fmt_pct, fmt_signed, fmt_spread
from servingbench.report.history import RULE_TEXT, Verdict


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def ranked_table(comparison: Comparison) -> list[str]:
    lines = [
        "| # | framework | preset | req/s at SLO [spread] | p50 / p99 ms at fixed load | ready s "
        "| memory MiB | CPU-ms/req | $ per M req | overhead ms | parity | profile | run |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in comparison.rows:
        r = row.run
        if r is None:
            last = row.latest_attempt
            reason = _cell((last.reason if last else "")[:120])
            status = last.status if last else ""
            lines.append(f"| – | {row.framework} | {row.preset} | no complete run: {status} {reason} "
                         f"| | | | | | | | | {last.run_id if last else ''} |")
            continue
        tput = f"{fmt(r.throughput_at_slo_rps)} {fmt_spread(r.throughput_spread)}".strip()
        fixed = f"{fmt(r.fixed_load.p50_ms, 2)} / {fmt(r.fixed_load.p99_ms, 2)} ({r.fixed_load.label})"
        parity = {True: "passed", False: "FAILED", None: "–"}[r.parity_passed]
        note = " (newest attempt failed)" if row.failed_after else ""
        lines.append(
            f"| {row.rank or '–'} | {r.framework} | {r.preset} | {tput} | {fixed} | {fmt(r.time_to_ready_s)} "
            f"| {fmt(r.mem_peak_mib, 0)} | {fmt(r.cpu_ms_per_request, 2)} | {fmt(r.usd_per_million, 2)} "
            f"| {fmt_signed(r.overhead_latency_ms, 2)} | {parity} | {r.profile} | {r.run_id}{note} |"
        )
    return lines


def summary_markdown(comparison: Comparison, verdicts: list[Verdict], generated_at: str) -> str:
    lines = [f"## servingbench comparison ({generated_at})", ""]
    if not comparison.rows:
        lines += ["No runs in results/ yet. Produce one with `make bench FRAMEWORK=baseline PROFILE=quick`.",
                  ""]
    else:
        slos = sorted({fmt(r.slo_p99_ms, 0) for r in comparison.latest})
        lines += [
            f"Latest complete run per framework and preset; ranked by throughput at the SLO "
            f"(p99 ≤ {', '.join(slos)} ms, errors ≤ 0.1%). Overhead: p50 at 1 user minus the in-process "
            f"reference p50. Throughput vs in-process is shown where measured.",
            "",
            *ranked_table(comparison),
            "",
        ]
    regressions = [v for v in verdicts if v.status == "regression"]
    lines.append(f"### Regressions ({len(regressions)})")
    lines.append("")
    if regressions:
        for v in regressions:
            lines.append(
                f"- **{v.framework} ({v.preset}, {v.profile})**: {v.title} {fmt(v.value, 2)} {v.unit} "
                f"vs median {fmt(v.baseline_median, 2)} {v.unit} of {len(v.previous_run_ids)} previous runs "
                f"({fmt_signed(v.change_pct)}%, tolerance ±{fmt(v.tolerance, 2)} {v.unit}); run {v.run_id}"
            )
    else:
        judged = sum(1 for v in verdicts if v.status != "insufficient history")
        lines.append(f"None ({judged} metric series judged; the others have too little history).")
    lines += ["", f"Rule: {RULE_TEXT}", ""]
    if comparison.failed:
        lines += [f"### Failed or interrupted runs ({len(comparison.failed)})", ""]
        for r in comparison.failed:
            lines.append(f"- {r.run_id}: **{r.status}**: {_cell(r.reason[:200]) or 'no reason recorded'}")
        lines.append("")
    tf = [r for r in comparison.latest if r.overhead_throughput_fraction is not None]
    if tf:
        lines += ["Throughput vs in-process: " + ", ".join(
            f"{r.label} {fmt_pct(r.overhead_throughput_fraction)}" for r in tf), ""]
    return "\n".join(lines)
