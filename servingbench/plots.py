"""Plots as inline SVG (matplotlib, no network, no JavaScript): the report stays self-contained."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.rcParams.update({"svg.fonttype": "none", "font.size": 10, "axes.grid": True, "grid.alpha": 0.3})


def to_svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def latency_throughput(series: dict[str, list[dict]], slo_ms: float | None = None) -> str:
    """Throughput (x) against p50 and p99 latency (y, log) for each named series of steps."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, steps) in enumerate(series.items()):
        color = f"C{i}"
        steps = sorted(steps, key=lambda s: s["users"])
        x = [s["throughput_rps"] for s in steps]
        ax.plot(x, [s["p99_ms"] for s in steps], "o-", color=color, label=f"{name} p99")
        ax.plot(x, [s["p50_ms"] for s in steps], "s--", color=color, alpha=0.6, label=f"{name} p50")
        for s in steps:
            ax.annotate(str(s["users"]), (s["throughput_rps"], s["p99_ms"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color=color)
    if slo_ms:
        ax.axhline(slo_ms, color="crimson", lw=1, ls=":", label=f"SLO p99 {slo_ms:g} ms")
    ax.set_yscale("log")
    ax.set_xlabel("throughput (successful requests/s)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("Latency against throughput (labels: concurrent users)")
    ax.legend(fontsize=8, loc="upper left")
    return to_svg(fig)


def latency_cdf(curves: dict[str, tuple[list[float], list[float]]]) -> str:
    """Cumulative distribution of latency for each named sample set."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for i, (name, (lat, frac)) in enumerate(curves.items()):
        ax.plot(lat, frac, color=f"C{i}", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title("Latency CDF per step")
    ax.legend(fontsize=8, loc="lower right")
    return to_svg(fig)
