"""Which runs the side-by-side comparison uses, in what order, and what the order proves.

The comparison takes the latest complete run per (framework, preset); older ones only feed history. Runs
that failed or were interrupted are never dropped: they are listed with their reason, and a configuration
whose newest attempt failed is marked in the table even when an older complete run stands for it.

Ranked runs are ordered by throughput at the SLO (held rate's median goodput); a run where no rate held
ranks below every run where one did. The order alone proves nothing: each ranked row is compared with
the next and with the leader by measure.comparison on the runs' intervals (measure.capacity), and the
table says "ahead" only where the intervals are disjoint, "tied" where they overlap within the margin,
"unproven" otherwise (one repeat, as in the quick profile, is always unproven).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from servingbench.measure import comparison as stat
from servingbench.report.model import RunView

NO_RATE_HELD = "no rate held"
"""The verdict between a run that held a rate and one that did not (ranked below by rule, not by noise)."""


@dataclass(frozen=True)
class Standing:
    """How one ranked run stands against another (the next below it, or the leader)."""

    verdict: str
    """"ahead", "behind", "tied", "unproven", or NO_RATE_HELD."""
    other_rank: int
    text: str
    """Short, for a table cell: "ahead of #3", "tied with #1", "unproven vs #2"."""
    why: str
    """The sentence the verdict rests on (intervals, repeats, the false-ahead bound)."""


@dataclass
class Row:
    """One line of the ranked table: a (framework, preset) and the run that represents it."""

    run: RunView | None
    framework: str
    preset: str
    rank: int | None = None
    latest_attempt: RunView | None = None
    """The newest run of this configuration when it is not ``run`` (a later failed attempt)."""
    versus_next: Standing | None = None
    """How this row's throughput at the SLO compares with the next ranked row's (see standing())."""
    versus_leader: Standing | None = None
    """How this row compares with the ranked row #1 (rows below #2 only: #2's is #1's versus_next)."""
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
    def standings(self) -> list[tuple[Row, Standing]]:
        """Every verdict of the ranked table with the row it belongs to, in table order."""
        return [(row, st) for row in self.rows for st in (row.versus_next, row.versus_leader) if st]

    @property
    def profiles(self) -> list[str]:
        return sorted({r.profile for r in self.latest})


def latest_complete(runs: list[RunView]) -> dict[tuple[str, str, str], RunView]:
    """Newest complete run per (framework, preset, model variant) that measured the steady protocol (a
    scenario-only run has no headline: it does not displace the last one that has)."""
    best: dict[tuple[str, str, str], RunView] = {}
    for run in sorted(runs, key=lambda r: r.sort_time):
        if run.complete and run.measured_steady:
            best[run.key] = run
    return best


def rank_key(run: RunView) -> tuple:
    """Runs that held a rate first, highest throughput at the SLO first; ties (and missing values) by
    lower p99 at the fixed load (a p99 on too few samples is not one: it breaks no tie)."""
    tput = run.throughput_at_slo_rps
    p99 = run.fixed_load.p99_shown_ms
    return (
        0 if run.comparable else 1,
        0 if run.held else 1,
        -(tput if tput is not None else -1.0),
        p99 if p99 is not None else float("inf"),
        run.framework,
        run.preset,
    )


def standing(this: RunView, other: RunView, other_rank: int) -> Standing:
    """``this`` against ``other`` by measure.comparison, from this run's side."""
    if not (this.held and other.held):
        return _no_rate_held(this, other, other_rank)
    if this.interval is None or other.interval is None:
        gone = this if this.interval is None else other
        return Standing("unproven", other_rank, f"unproven vs #{other_rank}",
                        f"{gone.label} has no usable confirmations to build an interval from.")
    result = stat.compare(this.interval, other.interval, names=(this.label, other.label), unit="req/s")
    if result.verdict == "ahead":
        mine = result.better == this.label
        verdict, text = ("ahead", f"ahead of #{other_rank}") if mine else ("behind", f"behind #{other_rank}")
    elif result.verdict == "tied":
        verdict, text = "tied", f"tied with #{other_rank}"
    else:
        verdict, text = "unproven", f"unproven vs #{other_rank}"
    return Standing(verdict, other_rank, text, result.explain())


def _no_rate_held(this: RunView, other: RunView, other_rank: int) -> Standing:
    if this.held:
        return Standing(NO_RATE_HELD, other_rank, f"above #{other_rank} (it held no rate)",
                        f"{other.label} held no rate in every confirmation: it ranks below every run "
                        f"that held one, {this.label} among them.")
    if other.held:
        return Standing(NO_RATE_HELD, other_rank, f"below #{other_rank} (no rate held)",
                        f"{this.label} held no rate in every confirmation: it ranks below every run "
                        f"that held one, {other.label} among them.")
    return Standing(NO_RATE_HELD, other_rank, f"vs #{other_rank}: neither held a rate",
                    f"Neither {this.label} nor {other.label} held a rate in every confirmation: "
                    f"their order (by their fixed-load p99, then name) proves nothing.")


def compare(runs: list[RunView]) -> Comparison:
    """Rank the latest complete run of each configuration; keep every failed run with its reason."""
    ordered = sorted(runs, key=lambda r: r.sort_time)
    newest: dict[tuple[str, str, str], RunView] = {}
    for run in ordered:
        if run.measured_steady:
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
        upper.versus_next = standing(upper.run, lower.run, lower.rank)  # type: ignore[arg-type]
    for row in ranked[2:]:
        row.versus_leader = standing(row.run, ranked[0].run, 1)  # type: ignore[arg-type]
    never = sorted(k for k in newest if k not in chosen)
    rows += [Row(None, key[0], key[1], latest_attempt=newest[key]) for key in never]
    failed = [r for r in reversed(ordered) if not r.complete]
    return Comparison(rows=rows, failed=failed, all_runs=list(reversed(ordered)))
