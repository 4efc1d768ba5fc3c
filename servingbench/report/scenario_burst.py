"""The burst scenario on the pages: the run page's timeline (p99 and goodput per second, phases shaded,
SLO line), its phases and what was lost; the index's recovery time and requests lost per framework, side
by side, with a small timeline of each.

Every figure is the run record's, which measure/recovery.py computed from the raw samples.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from jinja2 import Environment
from markupsafe import Markup

from servingbench.report import plots
from servingbench.report.model import RunView
from servingbench.report.scenario_overload import rate_text
from servingbench.report.scenarios import Section, latest_with
from servingbench.scenarios.records import BurstResult


def _draw(ax: plt.Axes, r: BurstResult, slo_ms: float | None, small: bool = False) -> None:
    t = [s.t_s + 0.5 for s in r.timeline]
    p99 = [s.p99_ms if s.p99_ms is not None else float("nan") for s in r.timeline]
    ax.axvspan(r.before_s, r.before_s + r.burst_s, color="orange", alpha=0.15, label="burst")
    ax.plot(t, p99, marker="." if not small else None, color="C3", label="p99 per second (sent in it)")
    if slo_ms:
        ax.axhline(slo_ms, color="crimson", lw=1, ls=":", label=f"SLO p99 {slo_ms:g} ms")
    if r.recovery.recovered and r.recovery.recovery_s:
        at = r.before_s + r.burst_s + r.recovery.recovery_s
        ax.axvline(at, color="green", lw=1, ls="--", label=f"back under SLO (+{r.recovery.recovery_s:g} s)")
    ax.set_yscale("log")
    ax.set_xlim(0, r.before_s + r.burst_s + r.after_s)
    right = ax.twinx()
    right.step([s.t_s for s in r.timeline], [s.goodput_rps for s in r.timeline], where="post", color="C0",
               alpha=0.6, label="goodput per second")
    right.grid(False)
    right.set_ylim(bottom=0)
    if not small:
        ax.set_xlabel("seconds into the measured window")
        ax.set_ylabel("p99 latency (ms, log)")
        right.set_ylabel("goodput (req/s)")
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper right")


def timeline_plot(r: BurstResult, slo_ms: float | None, title: str) -> str:
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    _draw(ax, r, slo_ms)
    ax.set_title(title)
    return plots.to_svg(fig)


def small_multiples(results: dict[str, BurstResult], slo_ms: dict[str, float | None]) -> str:
    """One small timeline per framework, in one figure."""
    n = len(results)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.0 * rows), squeeze=False)
    for ax, (name, r) in zip(axes.flat, results.items(), strict=False):
        _draw(ax, r, slo_ms.get(name), small=True)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("p99 per second (red, log) and goodput (blue); burst shaded", fontsize=9)
    fig.tight_layout()
    return plots.to_svg(fig)


def run_section(view: RunView, env: Environment) -> Section | None:
    result = view.scenario_results.burst
    if result is None:
        return None
    plot = timeline_plot(result, view.slo_p99_ms, "Burst: p99 and goodput per second")
    html = env.get_template("scenarios/burst.html.j2").render(
        r=result, rate_text=rate_text(result.rate), slo=view.slo_p99_ms, plot=Markup(plot))
    return Section("scenario-burst", "Burst and recovery", Markup(html))


def index_section(views: list[RunView], env: Environment) -> Section | None:
    chosen = latest_with(views, "burst")
    if not chosen:
        return None
    results = {v.label: v.scenario_results.burst for v in chosen}
    slos = {v.label: v.slo_p99_ms for v in chosen}
    html = env.get_template("scenarios/burst_index.html.j2").render(
        views=chosen, results=results, rate_text=rate_text,
        plot=Markup(small_multiples(results, slos)))  # type: ignore[arg-type]
    return Section("scenario-burst", "Burst and recovery: time back under the SLO, requests lost",
                   Markup(html))
