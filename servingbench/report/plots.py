"""Plots as inline SVG (matplotlib, no network, no JavaScript): the report stays self-contained.

Colours identify frameworks and line styles presets (tuned solid, default dashed), the same on every chart,
so default against tuned reads the same way everywhere.
"""

from __future__ import annotations

import io
import math
import re
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

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


def _point_label(step: dict) -> str:
    if step.get("users") is not None:
        return str(step["users"])
    rate = step.get("rate_rps")
    return f"{rate:.3g}/s" if isinstance(rate, int | float) else ""


def _finite(*values: object) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def latency_throughput(series: dict[str, list[dict]], slo_ms: float | None = None, *, p50: bool = True,
                       styles: dict[str, Style] | None = None, title: str | None = None) -> str:
    """Throughput (x) against p99 (and p50) latency (y, log) for each named series of steps."""
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for i, (name, steps) in enumerate(series.items()):
        color, ls = (styles or {}).get(name, (f"C{i}", "-"))
        # in load order (users, or offered rate), so the curve shows what more load does
        pts = sorted((s for s in steps if _finite(s.get("throughput_rps"), s.get("p99_ms"))),
                     key=lambda s: (s.get("users") or 0, s.get("rate_rps") or 0))
        if not pts:
            continue
        x = [s["throughput_rps"] for s in pts]
        ax.plot(x, [s["p99_ms"] for s in pts], marker="o", ls=ls, color=color, label=f"{name} p99")
        if p50:
            ax.plot(x, [s["p50_ms"] for s in pts], marker="s", ls=":", color=color, alpha=0.6,
                    label=f"{name} p50")
        for s in pts:
            ax.annotate(_point_label(s), (s["throughput_rps"], s["p99_ms"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color=color)
    if slo_ms:
        ax.axhline(slo_ms, color="crimson", lw=1, ls=":", label=f"SLO p99 {slo_ms:g} ms")
    ax.set_yscale("log")
    ax.set_xlabel("throughput (successful requests/s)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title(title or "Latency against throughput (labels: concurrent users or arrival rate)")
    ax.legend(fontsize=7, loc="best")
    return to_svg(fig)


def latency_cdf(curves: dict[str, tuple[list[float], list[float]]], *, styles: dict[str, Style] | None = None,
                title: str = "Latency CDF per step") -> str:
    """Cumulative distribution of latency for each named sample set."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for i, (name, (lat, frac)) in enumerate(curves.items()):
        color, ls = (styles or {}).get(name, (f"C{i}", "-"))
        ax.plot(lat, frac, color=color, ls=ls, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
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
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return to_svg(fig)
