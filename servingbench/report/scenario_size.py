"""SCENARIO=size on the pages: latency and CPU per request against request size.

Run page: one row per size (target and actual tokens, what the encoder sees, p50/p99 with their 95%
intervals, CPU-ms/request, failures by kind) and a plot of latency and CPU-ms against tokens. Index: each
framework's p99 and CPU-ms/request at every size side by side. Every figure is the run record's, which
load/steps.open_step computed from the raw samples file named in each row.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from jinja2 import Environment
from markupsafe import Markup

from servingbench.report import plots
from servingbench.report.model import RunView
from servingbench.report.scenarios import Section, latest_with
from servingbench.scenarios.records import SizePoint, SizeResult

SECTION_ID = "scenario-size"


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else math.nan


def _ci(point: SizePoint, key: str) -> tuple[float, float]:
    """(value - low, high - value) of a percentile's interval, NaN where a side is unbounded."""
    value = getattr(point.step.latency, f"{key}_ms")
    low, high = (point.step.percentile_ci_ms.get(key) or [None, None])
    return (value - _finite(low), _finite(high) - value)


def size_plot(result: SizeResult) -> str:
    """Latency (p50, p99 with 95% intervals) and CPU-ms/request against tokens, the truncation marked."""
    fig, (lat_ax, cpu_ax) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    tokens = [p.tokens_max for p in result.points]
    for key, marker in (("p50", "s"), ("p99", "o")):
        values = [getattr(p.step.latency, f"{key}_ms") for p in result.points]
        errors = list(zip(*(_ci(p, key) for p in result.points), strict=True))
        lat_ax.errorbar(tokens, values, yerr=[[max(0, e) if math.isfinite(e) else 0 for e in side]
                                              for side in errors], marker=marker, capsize=3, label=key)
    cpu_ax.plot(tokens, [_finite(p.step.cpu_ms_per_request) for p in result.points], marker="o", color="C2")
    for ax in (lat_ax, cpu_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(tokens, [str(t) for t in tokens])
        ax.minorticks_off()
        ax.set_xlabel("tokens per request (model tokenizer)")
        ax.axvline(result.max_length, color="grey", ls=":", lw=1)
        ax.annotate(f"truncated at {result.max_length}", (result.max_length, 0.95), fontsize=7, color="grey",
                    xycoords=("data", "axes fraction"), ha="right")
    lat_ax.set_ylabel("latency (ms, from intended send)")
    lat_ax.set_title(f"Latency at {result.rate_rps:g} req/s")
    lat_ax.legend(fontsize=8)
    cpu_ax.set_ylabel("server CPU-ms per request")
    cpu_ax.set_title("CPU per request")
    return plots.to_svg(fig)


def run_section(view: RunView, env: Environment) -> Section | None:
    result = view.scenario_results.size
    if result is None or not result.points:
        return None
    html = env.get_template("scenarios/size.html.j2").render(r=result, plot=Markup(size_plot(result)),
                                                            slo=view.slo_p99_ms)
    return Section(SECTION_ID, "Request size", Markup(html))


def index_section(views: list[RunView], env: Environment) -> Section | None:
    runs = latest_with(views, "size")
    if not runs:
        return None
    sizes = sorted({p.tokens for v in runs for p in v.scenario_results.size.points})  # type: ignore[union-attr]
    rows = [(v, {p.tokens: p for p in v.scenario_results.size.points}) for v in runs]  # type: ignore[union-attr]
    html = env.get_template("scenarios/size_index.html.j2").render(rows=rows, sizes=sizes)
    return Section(SECTION_ID, "Request size: p99 and CPU per request by tokens", Markup(html))
