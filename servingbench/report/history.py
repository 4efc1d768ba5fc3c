"""Run history and the regression rule.

Nightly runs of the same configuration form a series per metric. A single noisy night must not raise an
alarm, and a real slowdown must: the newest value is compared with the median of the previous runs, and
only a change larger than every measure of noise we have counts (the previous runs' scatter, the newest
run's own spread across its repeats, and a floor relative to the median). The machine is checked too:
cloud VMs of one type report the same CPU model, count and memory (the series key) yet differ in speed,
so every run's in-process reference (the model alone on the server's CPUs, no serving) is the control.
When it moved beyond the floor, a CPU-bound change is the machine's ("machine changed"), never the
framework's regression. The rule is stated on the page
and in regressions.json so that anyone can check a flag by hand. A figure the report withholds (a
fixed-load p99 on too few samples) is neither judged nor part of any baseline.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from scipy.stats import median_abs_deviation, norm

from servingbench.report.model import RunView


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    unit: str
    higher_is_better: bool
    cpu_bound: bool = True
    """Moves with the machine's speed (the in-process reference's control applies); memory does not."""


METRICS: tuple[Metric, ...] = (
    Metric("throughput_at_slo_rps", "throughput at the SLO", "req/s", True),
    Metric("p99_ms_at_fixed_load", "p99 latency at the fixed load", "ms", False),
    Metric("cpu_ms_per_request", "server CPU per request", "CPU-ms/req", False),
    Metric("mem_peak_mib", "peak server memory", "MiB", False, cpu_bound=False),
)

K_MAD = 3.0
"""Multiples of the scaled MAD of the previous runs a change must exceed."""
MAD_SCALE = float(1 / norm.ppf(0.75))
"""1.4826: makes the MAD estimate a standard deviation for normally distributed noise (scipy's
``median_abs_deviation(scale="normal")``, which the rule uses)."""
MIN_RELATIVE = 0.10
"""A change smaller than this fraction of the median never counts, however quiet the history."""
MIN_PREVIOUS = 3
"""Previous runs needed before the rule judges anything."""
WINDOW = 10
"""At most this many previous runs form the baseline (recent behaviour, not all time)."""

RULE_TEXT = (
    f"For each configuration (framework, preset, profile, SLO, measurement method) and metric, the newest "
    f"complete run is "
    f"compared with the median m of up to {WINDOW} previous complete runs (at least {MIN_PREVIOUS} needed). "
    f"Tolerance = max({K_MAD:g} × {MAD_SCALE:.4f} × MAD of those runs, the width of the newest run's own "
    f"reported spread [min, max] across its repeats, {MIN_RELATIVE:.0%} of m). A change beyond the tolerance "
    f"in the worse direction is a regression; in the better direction an improvement. A fixed-load p99 on "
    f"too few samples for a bounded 95% interval is not a regression metric: it is neither judged nor part "
    f"of any baseline. Control: each run's in-process reference throughput (the model alone on the server's "
    f"CPUs); when the newest run's differs from the median of the same previous runs' by more than "
    f"{MIN_RELATIVE:.0%}, a regression or improvement of a CPU-bound metric (all but memory) is reported as "
    f"\"machine changed\": the machine's speed moved, so the change is not attributed to the framework."
)

MACHINE_CHANGED = "machine changed"


JUDGED = frozenset({"regression", "improvement", "ok", MACHINE_CHANGED})
"""Statuses of a series the rule judged; the others had too little history or a withheld figure."""

SeriesKey = tuple[str, str, str, str, str]
"""(framework, preset, profile, SLO ms, method)."""


def series_key(run: RunView) -> SeriesKey:
    """Runs are comparable over time only with the same framework, preset, profile, SLO and method.

    The method (how throughput at the SLO and the fixed load were measured) changes when the harness
    does: a closed-loop figure followed by an open-loop one is a new series, not a regression.
    """
    slo = f"{run.slo_p99_ms:g}" if run.slo_p99_ms is not None else "?"
    # the machine and CPU sets belong to the series too: a run on other hardware is not a regression
    method = f"{run.slo_source or '?'}; fixed load {run.fixed_load.label or '?'}; {run.setting}"
    return (run.framework, run.preset, run.profile, slo, method)


def series_label(key: SeriesKey) -> str:
    framework, preset, profile, slo, method = key
    older = "" if method.startswith("open-loop search") else f", {method.split(';')[0]}"
    return f"{framework} ({preset}, {profile}, SLO {slo} ms{older})"


def build_series(runs: list[RunView]) -> dict[SeriesKey, list[RunView]]:
    """Complete, parity-passed runs grouped by configuration, oldest first."""
    out: dict[SeriesKey, list[RunView]] = {}
    for run in sorted(runs, key=lambda r: r.sort_time):
        if run.comparable:
            out.setdefault(series_key(run), []).append(run)
    return out


@dataclass(frozen=True)
class Verdict:
    framework: str
    preset: str
    profile: str
    slo_p99_ms: str
    method: str
    metric: str
    title: str
    unit: str
    higher_is_better: bool
    status: str
    """"regression", "improvement", "ok", "insufficient history", or "too few samples" (the newest run's
    figure is withheld: a p99 with no bounded interval is not a regression metric)."""
    run_id: str
    value: float | None
    baseline_median: float | None
    mad: float | None
    tolerance: float | None
    change: float | None
    change_pct: float | None
    own_spread: tuple[float, float] | None
    previous_run_ids: tuple[str, ...]
    machine_change_pct: float | None = None
    """The in-process reference's change against the same previous runs' median, in %; None unmeasured."""

    @property
    def judged(self) -> bool:
        return self.status in JUDGED

    def as_dict(self) -> dict:
        out = asdict(self)
        out["own_spread"] = list(self.own_spread) if self.own_spread else None
        out["previous_run_ids"] = list(self.previous_run_ids)
        return out


def judge(
    value: float | None,
    previous: list[float],
    higher_is_better: bool,
    own_spread: tuple[float, float] | None = None,
) -> tuple[str, float | None, float | None, float | None]:
    """Apply the rule to one value: (status, median, MAD, tolerance)."""
    if value is None or len(previous) < MIN_PREVIOUS:
        return "insufficient history", None, None, None
    median = statistics.median(previous)
    mad = float(median_abs_deviation(previous))  # reported as measured, unscaled
    sigma = float(median_abs_deviation(previous, scale="normal"))  # MAD_SCALE x MAD
    spread_width = (own_spread[1] - own_spread[0]) if own_spread else 0.0
    tolerance = max(K_MAD * sigma, spread_width, MIN_RELATIVE * abs(median))
    change = value - median
    if abs(change) <= tolerance:
        return "ok", median, mad, tolerance
    worse = change < 0 if higher_is_better else change > 0
    return ("regression" if worse else "improvement"), median, mad, tolerance


def _reference_rps(run: RunView) -> float | None:
    ref = run.reference
    return ref.sequential_rps if ref is not None and ref.sequential_rps > 0 else None


def machine_change(newest: RunView, previous: list[RunView]) -> float | None:
    """The relative change of the newest run's in-process reference against the previous runs' median;
    None when the newest or fewer than MIN_PREVIOUS of the previous runs measured one."""
    now = _reference_rps(newest)
    before = [x for r in previous if (x := _reference_rps(r)) is not None]
    if now is None or len(before) < MIN_PREVIOUS:
        return None
    return now / statistics.median(before) - 1.0


def _controlled(status: str, metric: Metric, shift: float | None) -> str:
    """A CPU-bound regression or improvement on a machine whose own speed moved is the machine's."""
    moved = shift is not None and abs(shift) > MIN_RELATIVE
    changed = status in ("regression", "improvement")
    return MACHINE_CHANGED if moved and metric.cpu_bound and changed else status


def evaluate(runs: list[RunView]) -> list[Verdict]:
    """One verdict per configuration and metric, for the newest run of each configuration."""
    verdicts = []
    all_series = build_series(runs)
    current: dict[tuple[str, ...], str] = {}
    for key, series in all_series.items():
        current[key[:3]] = max(current.get(key[:3], ""), series[-1].sort_time)
    for key, series in sorted(all_series.items()):
        newest, earlier = series[-1], series[:-1][-WINDOW:]
        if newest.sort_time != current[key[:3]]:
            continue  # superseded (e.g. the harness changed method): history only, never judged
        for metric in METRICS:
            value = newest.metric(metric.name)
            prev_runs = [r for r in earlier if r.metric(metric.name) is not None]
            previous = [r.metric(metric.name) for r in prev_runs]
            spread = newest.metric_spread(metric.name)
            status, median, mad, tol = judge(value, previous, metric.higher_is_better, spread)  # type: ignore[arg-type]
            shift = machine_change(newest, prev_runs)
            status = newest.metric_withheld(metric.name) or _controlled(status, metric, shift)
            change = value - median if value is not None and median is not None else None
            verdicts.append(Verdict(
                framework=key[0], preset=key[1], profile=key[2], slo_p99_ms=key[3], method=key[4],
                metric=metric.name, title=metric.title, unit=metric.unit,
                higher_is_better=metric.higher_is_better, status=status, run_id=newest.run_id,
                value=value, baseline_median=median, mad=mad, tolerance=tol, change=change,
                change_pct=(change / median * 100 if change is not None and median else None),
                own_spread=spread, previous_run_ids=tuple(r.run_id for r in prev_runs),
                machine_change_pct=shift * 100 if shift is not None else None,
            ))
    return verdicts


def regressions_document(verdicts: list[Verdict], generated_at: str) -> dict:
    """The machine-readable reports/regressions.json."""
    return {
        "generated_at": generated_at,
        "rule": {
            "text": RULE_TEXT, "k_mad": K_MAD, "mad_scale": MAD_SCALE, "min_relative": MIN_RELATIVE,
            "min_previous": MIN_PREVIOUS, "window": WINDOW,
        },
        "regressions": [v.as_dict() for v in verdicts if v.status == "regression"],
        "improvements": [v.as_dict() for v in verdicts if v.status == "improvement"],
        "machine_changed": [v.as_dict() for v in verdicts if v.status == MACHINE_CHANGED],
        "checked": [v.as_dict() for v in verdicts],
    }
