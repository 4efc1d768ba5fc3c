"""The offline batch scenario on the pages: texts/s and CPU-ms/text per request size against the
in-process predictor (run page); texts/s per request size for every framework, a table and one plot
with the reference (index)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from jinja2 import Environment
from markupsafe import Markup

from servingbench.report.model import RunView
from servingbench.report.plots import framework_colors, preset_style, to_svg
from servingbench.report.scenarios import Section, latest_with
from servingbench.scenarios.records import BatchResult, BatchSize


def vs_reference(row: BatchSize) -> str:
    """The served texts/s as a share of the in-process job's at the same size."""
    if row.refused or row.reference is None or not row.reference.texts_per_s:
        return "-"
    return f"{row.texts_per_s / row.reference.texts_per_s:.0%}"


def run_section(view: RunView, env: Environment) -> Section | None:
    result = view.scenario_results.batch
    if result is None:
        return None
    html = env.get_template("scenarios/batch.html.j2").render(r=result, vs=vs_reference)
    return Section("scenario-batch", "Offline batch job", Markup(html))


def batch_plot(rows: list[tuple[RunView, BatchResult]]) -> str:
    """Texts/s against texts per request, one line per run, the in-process job dotted."""
    colors = framework_colors([v.framework for v, _ in rows])
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for view, result in rows:
        served = [(s.texts_per_request, s.texts_per_s) for s in result.sizes if not s.refused]
        if served:
            ax.plot(*zip(*served, strict=True), marker="o", color=colors[view.framework],
                    linestyle=preset_style(view.preset), label=view.label)
    first = rows[0][1].sizes
    ref = [(s.texts_per_request, s.reference.texts_per_s) for s in first if s.reference is not None]
    if ref:
        ax.plot(*zip(*ref, strict=True), marker="s", color="black", linestyle=":",
                label=f"in-process ({rows[0][0].label}'s CPUs)")
    ax.set_xscale("log", base=2)
    ax.set_xticks([s.texts_per_request for s in first], [str(s.texts_per_request) for s in first])
    ax.set_xlabel("texts per request")
    ax.set_ylabel("texts/s (job of fixed size)")
    ax.set_title("Offline batch job: texts/s by request size")
    ax.legend(fontsize=7)
    return to_svg(fig)


def index_section(views: list[RunView], env: Environment) -> Section | None:
    rows = [(v, r) for v in latest_with(views, "batch") if (r := v.scenario_results.batch) is not None]
    if not rows:
        return None
    sizes = sorted({s.texts_per_request for _, r in rows for s in r.sizes})
    html = env.get_template("scenarios/batch_index.html.j2").render(
        rows=rows, sizes=sizes, plot=Markup(batch_plot(rows)))
    return Section("index-batch", "Offline batch job", Markup(html))
