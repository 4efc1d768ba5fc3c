"""The overload scenario on the pages: the run page's table per offered rate and verdict, and the index's
goodput-against-offered-load plot of every framework with the ideal line.

The x axis is the absolute offered rate (req/s): the honest one, since frameworks' reference rates differ
and the ideal line is the same for all. A second plot normalises both axes by each framework's reference
rate, so where each one's curve bends is comparable at a glance. Figures come from the run record; each
goodput's interval is the Poisson interval of its completion count (measure/goodput_curve.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from jinja2 import Environment
from markupsafe import Markup

from servingbench.measure.goodput_curve import COLLAPSES
from servingbench.report import plots
from servingbench.report.model import RunView
from servingbench.report.scenarios import Section, latest_with
from servingbench.scenarios.records import OverloadResult, RateSource, ScenarioStep


@dataclass(frozen=True)
class Row:
    """One offered rate as the run page's table shows it."""

    multiple: float
    step: ScenarioStep
    goodput_low: float
    goodput_high: float


def rows(result: OverloadResult) -> list[Row]:
    out = []
    for multiple, step in zip(result.multiples, result.steps, strict=False):
        low, high = step.curve_point().goodput_interval()
        out.append(Row(multiple, step, low, high))
    return out


def rate_text(rate: RateSource) -> str:
    """Where the reference rate came from, in words (run page and index)."""
    if rate.source == "earlier run":
        return (f"rate from run {rate.run_id} (the newest complete steady run in the same setting; "
                f"RATE_FROM=this-run measures it afresh)")
    if rate.source == "given":
        return "rate given by the user (RATE_FROM=<req/s>), not measured"
    return "rate measured by this run's steady protocol"


def _curve(ax: plt.Axes, result: OverloadResult, color: str, label: str, scale: float = 1.0) -> None:
    pts = sorted(rows(result), key=lambda r: r.step.offered_rps)
    x = [r.step.offered_rps / scale for r in pts]
    y = [r.step.curve_point().goodput_rps / scale for r in pts]
    err = [[(r.step.curve_point().goodput_rps - r.goodput_low) / scale for r in pts],
           [(r.goodput_high - r.step.curve_point().goodput_rps) / scale for r in pts]]
    ax.errorbar(x, y, yerr=err, marker="o", ms=4, capsize=2, color=color, label=label)
    for r, xi, yi in zip(pts, x, y, strict=True):
        if r.step.generator_limited:
            ax.annotate("gen-limited", (xi, yi), textcoords="offset points", xytext=(3, -9), fontsize=6)


def goodput_plot(curves: dict[str, OverloadResult], *, normalized: bool = False,
                 colors: dict[str, str] | None = None) -> str:
    """Goodput against offered load, one curve per name, with the ideal line goodput = offered."""
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    top = 0.0
    for i, (name, result) in enumerate(curves.items()):
        scale = result.rate.rps if normalized else 1.0
        _curve(ax, result, (colors or {}).get(name, f"C{i}"), name, scale)
        top = max(top, max((s.offered_rps / scale for s in result.steps), default=0.0))
    ax.plot([0, top * 1.05], [0, top * 1.05], color="grey", ls=":", lw=1, label="ideal: goodput = offered")
    unit = "x reference rate" if normalized else "req/s"
    ax.set_xlabel(f"offered load ({unit})")
    ax.set_ylabel(f"goodput ({unit})")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_title("Goodput against offered load (95% Poisson intervals)"
                 + (", normalised by each reference rate" if normalized else ""))
    ax.legend(fontsize=7, loc="upper left")
    return plots.to_svg(fig)


def run_section(view: RunView, env: Environment) -> Section | None:
    result = view.scenario_results.overload
    if result is None:
        return None
    html = env.get_template("scenarios/overload.html.j2").render(
        r=result, rows=rows(result), rate_text=rate_text(result.rate), slo=view.slo_p99_ms,
        plot=Markup(goodput_plot({view.framework: result})), collapses=COLLAPSES)
    return Section("scenario-overload", "Overload: goodput from 0.5x to 2x the reference rate", Markup(html))


def index_section(views: list[RunView], env: Environment) -> Section | None:
    chosen = latest_with(views, "overload")
    if not chosen:
        return None
    curves = {v.label: v.scenario_results.overload for v in chosen}
    colors = plots.framework_colors([v.framework for v in chosen])
    by_label = {v.label: colors[v.framework] for v in chosen}
    html = env.get_template("scenarios/overload_index.html.j2").render(
        views=chosen, curves=curves, rate_text=rate_text, collapses=COLLAPSES,
        plot=Markup(goodput_plot(curves, colors=by_label)),  # type: ignore[arg-type]
        plot_normalized=Markup(goodput_plot(curves, normalized=True, colors=by_label)))  # type: ignore[arg-type]
    return Section("scenario-overload", "Overload: goodput against offered load", Markup(html))
