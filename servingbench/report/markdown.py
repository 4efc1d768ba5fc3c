"""reports/summary.md: the ranked table and the regressions, for a CI job summary (GitHub markdown)."""

from __future__ import annotations

from servingbench.report.comparison import Comparison, Row
from servingbench.report.format import fmt, fmt_pct, fmt_signed, fmt_spread
from servingbench.report.history import MACHINE_CHANGED, RULE_TEXT, Verdict
from servingbench.report.model import TOO_FEW_SAMPLES, RunView


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _standing(row: Row) -> str:
    """The row's verdicts against the next row and the leader, as the index shows them."""
    return "; ".join(st.text for st in (row.versus_next, row.versus_leader) if st) or "–"


def _fixed(r: RunView) -> str:
    p99 = TOO_FEW_SAMPLES if r.fixed_load.too_few_for_p99 else fmt(r.fixed_load.p99_ms, 2)
    return f"{fmt(r.fixed_load.p50_ms, 2)} / {p99} ({r.fixed_load.label})"


def _throughput(r: RunView) -> str:
    if not r.held:
        why = f"; {r.none_held_why}" if r.none_held_why else ""
        return f"{fmt(r.throughput_at_slo_rps)} (no rate held: ranked below every run that held one{why})"
    return f"{fmt(r.throughput_at_slo_rps)} {fmt_spread(r.throughput_spread)}".strip()


def ranked_table(comparison: Comparison) -> list[str]:
    lines = [
        "| # | framework | preset | req/s at SLO [spread] | vs next / #1 | p50 / p99 ms at fixed load "
        "| ready s | memory MiB | CPU-ms/req | $ per M req | overhead ms | parity | profile | run |",
        "|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in comparison.rows:
        r = row.run
        if r is None:
            last = row.latest_attempt
            reason = _cell((last.reason if last else "")[:120])
            status = last.status if last else ""
            lines.append(f"| – | {row.framework} | {row.preset} | no complete run: {status} {reason} "
                         f"| | | | | | | | | | {last.run_id if last else ''} |")
            continue
        parity = {True: "passed", False: "FAILED", None: "–"}[r.parity_passed]
        note = " (newest attempt failed)" if row.failed_after else ""
        lines.append(
            f"| {row.rank or '–'} | {r.framework} | {r.preset} | {_throughput(r)} | {_standing(row)} "
            f"| {_fixed(r)} | {fmt(r.time_to_ready_s)} "
            f"| {fmt(r.mem_peak_mib, 0)} | {fmt(r.cpu_ms_per_request, 2)} | {fmt(r.usd_per_million, 2)} "
            f"| {fmt_signed(r.overhead_latency_ms, 2)} | {parity} | {r.profile} | {r.run_id}{note} |"
        )
    return lines


VERDICT_RULE = ("Against the next row and #1: ahead only when the runs' intervals do not overlap, tied when "
                "they overlap within 25%, unproven otherwise (one repeat, as in the quick profile, proves "
                "nothing).")


def verdict_lines(comparison: Comparison) -> list[str]:
    """Each verdict with the sentence it rests on, so a reader can check it by hand."""
    if not comparison.standings:
        return []
    lines = ["Why each verdict:", ""]
    lines += [f"- #{row.rank} {st.text}: {_cell(st.why)}" for row, st in comparison.standings]
    return [*lines, ""]


def _machine_changed_lines(verdicts: list[Verdict]) -> list[str]:
    """Changes the in-process reference explains: listed apart, never as the framework's regressions."""
    moved = [v for v in verdicts if v.status == MACHINE_CHANGED]
    if not moved:
        return []
    lines = ["", f"### Not attributed: the machine's speed changed ({len(moved)})", ""]
    for v in moved:
        lines.append(
            f"- {v.framework} ({v.preset}, {v.profile}): {v.title} {fmt(v.value, 2)} {v.unit} vs median "
            f"{fmt(v.baseline_median, 2)} ({fmt_signed(v.change_pct)}%), while the in-process reference "
            f"moved {fmt_signed(v.machine_change_pct)}%; run {v.run_id}"
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
            f"(p99 ≤ {', '.join(slos)} ms, errors ≤ 0.1%); runs where no rate held rank below every run "
            f"where one did. {VERDICT_RULE} Overhead: p50 at 1 user minus the in-process reference p50. "
            f"Throughput vs in-process is shown where measured.",
            "",
            *ranked_table(comparison),
            "",
            *verdict_lines(comparison),
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
        judged = sum(1 for v in verdicts if v.judged)
        lines.append(f"None ({judged} metric series judged; the others have too little history).")
    lines += _machine_changed_lines(verdicts)
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
