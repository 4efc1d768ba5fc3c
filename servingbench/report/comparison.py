"""Which runs the side-by-side comparison uses, and in what order.

The comparison takes the latest complete run per (framework, preset); older ones only feed history. Runs
that failed or were interrupted are never dropped: they are listed with their reason, and a configuration
whose newest attempt failed is marked in the table even when an older complete run stands for it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from servingbench.report.model import RunView


@dataclass
class Row:
    """One line of the ranked table: a (framework, preset) and the run that represents it."""

    run: RunView | None
    framework: str
    preset: str
    rank: int | None = None
    latest_attempt: RunView | None = None
    """The newest run of this configuration when it is not ``run`` (a later failed attempt)."""
    versus_next: str | None = None
    """How this row's throughput at the SLO compares with the next ranked row's (see separation())."""
    other_setting: str | None = None
    """Set when the run was measured under another setting than the ranked ones: it is not ranked."""

    @property
    def failed_after(self) -> bool:
        return self.latest_attempt is not None and not self.latest_attempt.complete


@dataclass
class Comparison:
    rows: list[Row] = field(default_factory=list)
    failed: list[RunView] = field(default_factory=list)
    all_runs: list[RunView] = field(default_factory=list)

    @property
    def latest(self) -> list[RunView]:
        """The runs the comparison uses, in table order."""
        return [r.run for r in self.rows if r.run is not None]

    @property
    def profiles(self) -> list[str]:
        return sorted({r.profile for r in self.latest})


def latest_complete(runs: list[RunView]) -> dict[tuple[str, str], RunView]:
    """Newest complete run per (framework, preset)."""
    best: dict[tuple[str, str], RunView] = {}
    for run in sorted(runs, key=lambda r: r.sort_time):
        if run.complete:
            best[run.key] = run
    return best


def rank_key(run: RunView) -> tuple:
    """Highest throughput at the SLO first; ties (and missing values) by lower p99 at the fixed load."""
    tput = run.throughput_at_slo_rps
    p99 = run.fixed_load.p99_ms
    return (
        0 if run.comparable else 1,
        -(tput if tput is not None else -1.0),
        p99 if p99 is not None else float("inf"),
        run.framework,
        run.preset,
    )


def separation(upper: RunView, lower: RunView, lower_rank: int | None) -> str:
    """Is ``upper`` really ahead of ``lower``? Only when their repeat spreads do not overlap.

    Two configurations are called different only beyond their measured spread: with repeats on both
    sides and disjoint [min, max] intervals. Overlapping spreads are a tie; a single measurement on
    either side proves no difference at all.
    """
    a, b = upper.throughput_spread, lower.throughput_spread
    if a is None or b is None:
        return f"vs #{lower_rank}: unproven (no repeats to measure the spread)"
    if a[0] > b[1]:
        return f"ahead of #{lower_rank} beyond the spread"
    return f"tied with #{lower_rank}: spreads overlap"


def compare(runs: list[RunView]) -> Comparison:
    """Rank the latest complete run of each configuration; keep every failed run with its reason."""
    ordered = sorted(runs, key=lambda r: r.sort_time)
    newest: dict[tuple[str, str], RunView] = {}
    for run in ordered:
        newest[run.key] = run
    chosen = latest_complete(ordered)
    rows = []
    for run in sorted(chosen.values(), key=rank_key):
        last = newest[run.key]
        rows.append(Row(run, run.framework, run.preset, latest_attempt=None if last is run else last))
    rank = 0
    # the setting most of the comparable runs share (ties: the better-ranked one) is the table's
    settings = Counter(r.run.setting for r in rows if r.run is not None and r.run.comparable)
    setting = max(settings, key=lambda s: settings[s]) if settings else None
    for row in rows:
        if row.run is None or not row.run.comparable:
            continue
        if row.run.setting != setting:  # never rank unlike runs together
            row.other_setting = row.run.setting
            continue
        rank += 1
        row.rank = rank
    rows = [r for r in rows if r.rank] + [r for r in rows if not r.rank]  # the ranked table first
    ranked = [r for r in rows if r.rank]
    for upper, lower in itertools.pairwise(ranked):
        upper.versus_next = separation(upper.run, lower.run, lower.rank)  # type: ignore[arg-type]
    never = sorted(k for k in newest if k not in chosen)
    rows += [Row(None, fw, preset, latest_attempt=newest[(fw, preset)]) for fw, preset in never]
    failed = [r for r in reversed(ordered) if not r.complete]
    return Comparison(rows=rows, failed=failed, all_runs=list(reversed(ordered)))
