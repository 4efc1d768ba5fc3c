"""SCENARIO=trace on the pages: the replayed trace second by second, and its SLO seconds.

Run page: the trace (file, hash, speed), overall p50/p99 with 95% intervals, goodput ratio, failures by
kind, seconds over the SLO, and a timeline plot (offered against goodput per second; each second's p99
with the SLO line, violating seconds shaded). Index: each framework's trace p99, seconds over the SLO and
goodput ratio, with the trace and speed they were measured on. Every figure is the run record's, computed
from the raw samples file it names (measure/timeline.py).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from jinja2 import Environment
from markupsafe import Markup

from servingbench.report import plots
from servingbench.report.model import RunView
from servingbench.report.scenarios import Section, latest_with
from servingbench.scenarios.records import TraceResult

SECTION_ID = "scenario-trace"


def timeline_plot(result: TraceResult) -> str:
    """Offered and goodput per second (top); each second's p99, the SLO and the seconds over it (bottom)."""
    line = result.timeline
    seconds = list(range(len(line.offered)))
    fig, (load_ax, lat_ax) = plt.subplots(2, 1, figsize=(9.0, 5.2), sharex=True)
    edges = list(range(len(seconds) + 1))
    load_ax.stairs(line.offered, edges, color="C0", label="offered (arrivals sent)")
    load_ax.stairs(line.goodput, edges, color="C2", label="goodput (successes completed)")
    if any(line.failed):
        load_ax.bar(seconds, line.failed, width=1.0, align="edge", color="crimson", alpha=0.5, label="failed")
    load_ax.set_ylabel("requests per second")
    load_ax.legend(fontsize=7, loc="upper left")
    load_ax.set_title(f"{result.trace.rsplit('/', 1)[-1]} at speed {result.speed:g}")
    p99 = [math.nan if v is None else v for v in line.p99_ms]
    lat_ax.plot([s + 0.5 for s in seconds], p99, marker=".", lw=1, color="C1", label="p99 of the second")
    slo = result.slo_p99_ms
    lat_ax.axhline(slo, color="crimson", ls=":", lw=1, label=f"SLO p99 {slo:g} ms")
    for s, over in zip(seconds, line.over_slo, strict=True):
        if over:
            lat_ax.axvspan(s, s + 1, color="crimson", alpha=0.15, lw=0)
    lat_ax.set_yscale("log")
    lat_ax.set_ylabel("latency (ms, log)")
    lat_ax.set_xlabel("seconds since the trace's start (replayed)")
    lat_ax.legend(fontsize=7, loc="upper left")
    return plots.to_svg(fig)


def run_section(view: RunView, env: Environment) -> Section | None:
    result = view.scenario_results.trace
    if result is None:
        return None
    html = env.get_template("scenarios/trace.html.j2").render(r=result, plot=Markup(timeline_plot(result)))
    return Section(SECTION_ID, "Trace replay", Markup(html))


def index_section(views: list[RunView], env: Environment) -> Section | None:
    runs = latest_with(views, "trace")
    if not runs:
        return None
    html = env.get_template("scenarios/trace_index.html.j2").render(runs=runs)
    return Section(SECTION_ID, "Trace replay: p99, seconds over the SLO, goodput", Markup(html))
