"""HTML reports from results/: one page per run and an index of runs.

Pages are rendered with Jinja2 from templates/ and embed their plots as SVG, so a page works offline
and can be mailed or published as it is. Only published runs are read (see results.py).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from servingbench import plots, stats
from servingbench.results import list_runs, load_run

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.{digits}f}"
    return str(value)


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = _fmt
    return env


def step_samples(run: dict, step: dict) -> np.ndarray:
    """Successful latencies (ms) of a step's measured window, from the raw samples file."""
    path = Path(run["_folder"]) / step.get("samples_file", "")
    if not path.is_file():
        return np.zeros(0)
    window = stats.in_window(np.load(path), step["window_start"], step["window_end"])
    return stats.ok_latencies(window)


def run_plots(run: dict) -> dict[str, str]:
    steps = run.get("steps") or []
    if not steps:
        return {}
    label = f"{run['framework']} ({run['preset']})"
    curves = {}
    for step in steps:
        lat = step_samples(run, step)
        if lat.size:
            x, y = stats.cdf_points(lat)
            curves[f"{step['users']} users"] = (list(x), list(y))
    out = {"latency_throughput": plots.latency_throughput({label: steps}, run["slo"]["p99_ms"])}
    if curves:
        out["cdf"] = plots.latency_cdf(curves)
    return out


def write_run_report(run_dir: Path) -> Path:
    """Write ``<run_dir>/report.html`` and return its path."""
    run = load_run(run_dir)
    if run is None:
        raise FileNotFoundError(f"{run_dir} is not a published run (no readable run.json)")
    page = run_dir / "report.html"
    html = _env().get_template("run.html.j2").render(run=run, plots=run_plots(run))
    page.write_text(html, encoding="utf-8")
    return page


def write_reports(results: Path, out: Path | None = None) -> list[Path]:
    """Refresh every run's page and write an index of all runs."""
    runs = list_runs(results)
    written = [write_run_report(Path(r["_folder"])) for r in runs]
    out = out or results.parent / "reports"
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    for run in runs:
        run["_page"] = os.path.relpath(Path(run["_folder"]).resolve() / "report.html", out.resolve())
    index.write_text(_env().get_template("index.html.j2").render(runs=runs[::-1]), encoding="utf-8")
    return [*written, index]
