"""Plots as inline SVG (matplotlib, no network, no JavaScript): the report stays self-contained.

Colours identify frameworks and line styles presets (tuned solid, default dashed), the same on every chart,
so default against tuned reads the same way everywhere.
"""

from __future__ import annotations

import io
import math
import re
import statistics
import textwrap
from dataclasses import dataclass
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker

from servingbench.report.pareto import Point, Sense

plt.rcParams.update({"svg.fonttype": "none", "font.size": 10, "axes.grid": True, "grid.alpha": 0.3})

PRESET_STYLE = {"tuned": "-", "default": "--"}
Style = tuple[str, str]
"""(colour, line style)."""


def to_svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # fixed pixel sizes would overflow narrow screens: the page's CSS sizes the figure instead
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', svg, count=1)


def framework_colors(frameworks: list[str]) -> dict[str, str]:
    return {name: f"C{i % 10}" for i, name in enumerate(sorted(set(frameworks)))}


def preset_style(preset: str) -> str:
    return PRESET_STYLE.get(preset, ":")


def _offered(step: dict) -> float | None:
    """The load a step offered: its concurrent users (closed loop) or its arrival rate (open loop)."""
    for key in ("users", "rate_rps"):
        value = step.get(key)
        if _finite(value):
            return float(value)  # type: ignore[arg-type]
    return None


def offered_or_inf(step: dict) -> float:
    """A sort key in offered-load order; steps without one last."""
    load = _offered(step)
    return math.inf if load is None else load


def _finite(*values: object) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)


@dataclass(frozen=True)
class CurvePoint:
    """One offered load on a latency-throughput curve: the median of the steps measured at it."""

    load: float
    throughput_rps: float
    p99_ms: float
    p50_ms: float | None
    steps: int
    label: str


def load_curve(steps: list[dict]) -> list[CurvePoint]:
    """The steps as a curve in offered-load order, one point per offered load.

    An SLO search probes rates out of order and confirms some several times: joined in the order they ran,
    its line would zig-zag. Sorted by offered load, with repeats at one load merged into their median,
    the curve shows what more load does; the single measurements are drawn as dots beside it.
    """
    groups: dict[float, list[dict]] = {}
    for s in steps:
        load = _offered(s)
        if load is not None and _finite(s.get("throughput_rps"), s.get("p99_ms")):
            groups.setdefault(load, []).append(s)
    out = []
    for load in sorted(groups):
        group = groups[load]
        p50s = [s["p50_ms"] for s in group if _finite(s.get("p50_ms"))]
        closed = group[0].get("users") is not None
        out.append(CurvePoint(load, statistics.median(s["throughput_rps"] for s in group),
                              statistics.median(s["p99_ms"] for s in group),
                              statistics.median(p50s) if p50s else None, len(group),
                              f"{load:g}" if closed else f"{load:.3g}/s"))
    return out


def _wrap(text: str, width: int = 72) -> str:
    return textwrap.fill(text, width)


def _legend(ax: plt.Axes) -> None:
    """Beside the axes, never over a curve; every chart the same way, so they print at one scale."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _plain_log(axis: object) -> None:
    """Log-scale ticks at 1, 2, 5 x 10^n written as plain numbers (20, 50, 100), readable in print."""
    axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # type: ignore[attr-defined]
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _pos: f"{v:g}"))  # type: ignore[attr-defined]
    axis.set_minor_formatter(mticker.NullFormatter())  # type: ignore[attr-defined]


def latency_throughput(series: dict[str, list[dict]], slo_ms: float | None = None, *, p50: bool = True,
                       styles: dict[str, Style] | None = None, title: str | None = None) -> str:
    """Throughput (x) against p99 (and p50) latency (y, log) for each named series, in offered-load order."""
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for i, (name, steps) in enumerate(series.items()):
        color, ls = (styles or {}).get(name, (f"C{i}", "-"))
        curve = load_curve(steps)
        if not curve:
            continue
        x = [c.throughput_rps for c in curve]
        ax.plot(x, [c.p99_ms for c in curve], marker="o", ls=ls, color=color, label=f"{name} p99")
        if any(c.steps > 1 for c in curve):  # repeats at one load: every measurement, unjoined
            dots = [s for s in steps if _offered(s) is not None
                    and _finite(s.get("throughput_rps"), s.get("p99_ms"))]
            ax.scatter([s["throughput_rps"] for s in dots], [s["p99_ms"] for s in dots], s=10, color=color,
                       alpha=0.45, zorder=1)
        if p50 and all(c.p50_ms is not None for c in curve):
            ax.plot(x, [c.p50_ms for c in curve], marker="s", ls=":", color=color, alpha=0.6,
                    label=f"{name} p50")
        for c in curve:
            ax.annotate(c.label, (c.throughput_rps, c.p99_ms), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color=color)
    if slo_ms:
        ax.axhline(slo_ms, color="crimson", lw=1, ls=":", label=f"SLO p99 {slo_ms:g} ms")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel("throughput (successful requests/s)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title(_wrap(title or "Latency against throughput (labels: concurrent users or arrival rate)"))
    _legend(ax)
    return to_svg(fig)


def pareto_chart(points: list[Point], on_front: list[Point], senses: tuple[Sense, Sense], *, title: str,
                 xlabel: str, ylabel: str, styles: dict[str, Style] | None = None,
                 hrefs: dict[str, str] | None = None) -> str:
    """Configurations on two figures; the Pareto front filled and joined, dominated ones hollow.

    Each point links to its run's page (an SVG link), and the legend names every point, so no label
    is drawn over another.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    front_ids = {p.run_id for p in on_front}
    for i, p in enumerate(points):
        color, ls = (styles or {}).get(p.label, (f"C{i % 10}", "-"))
        marker = "s" if ls == "--" else "o"
        on = p.run_id in front_ids
        dot = ax.scatter([p.x], [p.y], s=70, marker=marker, color=color if on else "white", edgecolors=color,
                         linewidths=1.8, zorder=3, label=f"{p.label}{'' if on else ' (dominated)'}")
        if hrefs and p.run_id in hrefs:
            dot.set_urls([hrefs[p.run_id]])
    if len(on_front) > 1:
        ax.plot([p.x for p in on_front], [p.y for p in on_front], color="0.35", lw=1, ls="--", zorder=2,
                label="Pareto front")
    better = {"max": "higher is better", "min": "lower is better"}
    ax.set_xlabel(f"{xlabel} ({better[senses[0]]})")
    ax.set_ylabel(f"{ylabel}\n({better[senses[1]]})")
    ax.set_title(_wrap(title))
    ax.margins(0.15)
    _legend(ax)
    return to_svg(fig)


def latency_cdf(curves: dict[str, tuple[list[float], list[float]]], *, styles: dict[str, Style] | None = None,
                title: str = "Latency CDF per step") -> str:
    """Cumulative distribution of latency for each named sample set."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for i, (name, (lat, frac)) in enumerate(curves.items()):
        color, ls = (styles or {}).get(name, (f"C{i}", "-"))
        ax.plot(lat, frac, color=color, ls=ls, label=name)
    ax.set_xscale("log")
    _plain_log(ax.xaxis)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    ax.set_title(_wrap(title))
    _legend(ax)
    return to_svg(fig)


def grouped_bars(values: dict[str, dict[str, float]], *, title: str, unit: str,
                 colors: dict[str, str] | None = None) -> str:
    """Horizontal bars: one group per framework, one bar per preset (hatched = default), value printed."""
    frameworks = sorted(values)
    presets = sorted({p for v in values.values() for p in v}, key=lambda p: (p != "default", p))
    height = 0.8 / max(1, len(presets))
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.55 * len(frameworks) * max(1, len(presets))))
    for j, preset in enumerate(presets):
        for i, fw in enumerate(frameworks):
            value = values[fw].get(preset)
            if value is None:
                continue
            y = i + (j - (len(presets) - 1) / 2) * height
            color = (colors or {}).get(fw, "C0")
            ax.barh(y, value, height=height * 0.9, color=color, alpha=0.85 if preset != "default" else 0.45,
                    hatch="//" if preset == "default" else None, edgecolor=color)
            ax.annotate(f"{value:,.3g} ({preset})", (value, y), textcoords="offset points", xytext=(3, -3),
                        fontsize=7)
    ax.set_yticks(range(len(frameworks)), frameworks)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title)
    ax.margins(x=0.25)
    ax.grid(axis="y", visible=False)
    return to_svg(fig)


def trend(series: dict[str, list[tuple[datetime, float]]], *, title: str, unit: str,
          styles: dict[str, Style] | None = None,
          flagged: list[tuple[datetime, float]] | None = None) -> str:
    """A metric over time, one line per configuration; regressions circled in red."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for i, (name, points) in enumerate(series.items()):
        if not points:
            continue
        color, ls = (styles or {}).get(name, (f"C{i}", "-"))
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", ms=4, ls=ls, color=color, label=name)
    if flagged:
        xs, ys = zip(*flagged, strict=True)
        ax.scatter(xs, ys, s=160, facecolors="none", edgecolors="crimson", linewidths=2, label="regression",
                   zorder=5)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
    ax.set_ylabel(unit)
    ax.set_xlabel("run start (UTC)")
    ax.set_title(_wrap(title))
    _legend(ax)
    return to_svg(fig)
