"""HTML reports from results/: one page per run, the comparative index, history and regressions.

``write_reports`` writes everything under reports/ so that the folder can be published alone (GitHub Pages,
a CI artifact): each run's page is rendered into reports/runs/<run_id>.html with its raw files copied beside
it, and every link is relative. ``write_run_report`` keeps the page inside the run folder as well. Pages are
Jinja2 templates with inline CSS and SVG plots: no JavaScript, no network, no external fonts.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from servingbench.crosscheck.report import read_crosscheck
from servingbench.measure import stats
from servingbench.record.results import list_runs, load_run
from servingbench.report import history, pareto, plots
from servingbench.report.comparison import Comparison, compare
from servingbench.report.format import fmt, fmt_pct, fmt_signed, fmt_spread
from servingbench.report.history import METRICS
from servingbench.report.markdown import summary_markdown
from servingbench.report.model import RunView, run_view
from servingbench.report.pareto import Point
from servingbench.report.protocols import protocol_rows
from servingbench.report.scenarios import index_sections, run_sections
from servingbench.report.server_view import mismatches, server_rows
from servingbench.report.variants import accuracy_rows, variant_pairs
from servingbench.report.verdict import verdict

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_COPY_BYTES = 32 * 2**20
"""Raw files larger than this stay in results/ only (the page says so): published reports stay small."""


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(fmt=fmt, spread=fmt_spread, pct=fmt_pct, signed=fmt_signed)
    env.globals.update(variant_rows=accuracy_rows, server_rows=server_rows, server_mismatches=mismatches)
    return env


def step_samples(view: RunView, step: dict) -> np.ndarray:
    """Successful latencies (ms) of a step's measured window, from the raw samples file.

    Closed-loop windows hold the requests that completed inside them; open-loop windows the requests
    whose intended send time fell inside them (their latency counts from that time).
    """
    path = view.folder / str(step.get("samples_file") or "")
    start, end = step.get("window_start"), step.get("window_end")
    if not path.is_file() or start is None or end is None:
        return np.zeros(0)
    try:
        samples = np.load(path)
    except (OSError, ValueError):
        return np.zeros(0)
    pick = stats.sent_in_window if step.get("mode") == "open" or "rate_rps" in step else stats.in_window
    return stats.ok_latencies(pick(samples, float(start), float(end)))


def _cdf(view: RunView, step: dict) -> tuple[list[float], list[float]] | None:
    lat = step_samples(view, step)
    if not lat.size:
        return None
    x, y = stats.cdf_points(lat)
    return list(x), list(y)


def run_plots(view: RunView) -> dict[str, str]:
    """The per-run page's plots: latency against throughput and a latency CDF per step."""
    out: dict[str, str] = {}
    series = {}
    if view.steps:
        series["closed loop"] = view.steps
    if view.open_steps:
        series["open loop"] = view.open_steps
    if series:
        out["latency_throughput"] = plots.latency_throughput(series, view.slo_p99_ms)
    curves = {}
    for step in view.steps:
        if (c := _cdf(view, step)) is not None:
            curves[f"{step.get('users')} users"] = c
    by_rate = sorted(enumerate(view.open_steps, 1), key=lambda e: plots.offered_or_inf(e[1]))
    for i, step in by_rate:  # legend in offered-load order, like the curves
        if (c := _cdf(view, step)) is not None:
            rate = step.get("rate_rps")
            rate_text = f"{rate:g}" if isinstance(rate, int | float) else "?"
            name = f"{rate_text} req/s open ({step.get('purpose') or 'step'})"
            curves[name if name not in curves else f"{name} #{i}"] = c
    if curves:
        out["cdf"] = plots.latency_cdf(curves)
    return out


@dataclass
class RawFile:
    path: str
    """Relative to the run folder, with forward slashes."""
    size: int
    copied: bool = True


def _skip(rel: Path) -> bool:
    """Generated pages, hidden files and servers' scratch folders (Ray's can be huge) are not results."""
    return rel.name == "report.html" or rel.suffix == ".pid" or any(
        part.startswith(".") or part in ("tmp", "__pycache__") for part in rel.parts)


def raw_files(view: RunView) -> list[RawFile]:
    """The run's files worth linking, in a stable order."""
    files = []
    for path in sorted(view.folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and not _skip(path.relative_to(view.folder)):
            rel = path.relative_to(view.folder).as_posix()
            files.append(RawFile(rel, path.stat().st_size))
    return files


def _render_run(env: Environment, view: RunView, figures: dict[str, str], files: list[RawFile], *,
                raw_prefix: str, index_href: str | None) -> str:
    return env.get_template("run.html.j2").render(
        run=view.record, v=view, plots=figures, files=files, raw=raw_prefix, index_href=index_href,
        generated_at=_now(), sections=run_sections(view, env), crosscheck=read_crosscheck(view.folder),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_run_report(run_dir: Path, index_href: str | None = "../../reports/index.html") -> Path:
    """Write ``<run_dir>/report.html`` (links to its raw files beside it) and return its path."""
    run = load_run(run_dir)
    if run is None:
        raise FileNotFoundError(f"{run_dir} is not a published run (no readable run.json)")
    view = run_view(run)
    page = run_dir / "report.html"
    page.write_text(_render_run(_env(), view, run_plots(view), raw_files(view), raw_prefix="",
                                index_href=index_href), encoding="utf-8")
    return page


def _code_mtime() -> float:
    """Newest change to the code that renders a run page: a page older than this is stale."""
    here = Path(__file__).resolve().parent
    sources = [*TEMPLATES.rglob("*.j2"), *here.glob("*.py")]  # scenarios/ templates too
    return max(p.stat().st_mtime for p in sources if p.exists())


def _fresh(page: Path, view: RunView, code_mtime: float) -> bool:
    try:
        return page.stat().st_mtime >= max(code_mtime, (view.folder / "run.json").stat().st_mtime)
    except OSError:
        return False


def _publish_run(env: Environment, view: RunView, out: Path, code_mtime: float = 0.0) -> list[Path]:
    """Render the run's page into reports/runs/ and copy its raw files beside it; also refresh its own page.

    Nightly history makes hundreds of runs: a page newer than its run.json and than the report code is
    kept as it is, so a report build only renders what changed.
    """
    page = out / "runs" / f"{view.run_id}.html"
    own = view.folder / "report.html"
    if code_mtime and _fresh(page, view, code_mtime) and _fresh(own, view, code_mtime):
        return [page, own]
    figures = run_plots(view)
    files = raw_files(view)
    dest = out / "runs" / view.run_id
    if dest.is_dir():
        shutil.rmtree(dest)
    for f in files:
        if f.size > MAX_COPY_BYTES:
            f.copied = False
            continue
        target = dest / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(view.folder / f.path, target)
    page.write_text(_render_run(env, view, figures, files, raw_prefix=f"{view.run_id}/",
                                index_href="../index.html"), encoding="utf-8")
    index_href = os.path.relpath(out.resolve() / "index.html", view.folder.resolve())
    own.write_text(_render_run(env, view, figures, [RawFile(f.path, f.size) for f in files], raw_prefix="",
                               index_href=Path(index_href).as_posix()), encoding="utf-8")
    return [page, own]


def _prune(runs_dir: Path, keep: set[str]) -> None:
    """Remove pages and copied files of runs no longer in results/ (reports/runs/ is generated only)."""
    for path in runs_dir.iterdir():
        name = path.name.removesuffix(".html")
        if name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _styles(views: list[RunView]) -> dict[str, plots.Style]:
    colors = plots.framework_colors([v.framework for v in views])
    return {v.label: (colors[v.framework], plots.preset_style(v.preset)) for v in views}


def index_plots(comparison: Comparison) -> dict[str, str]:
    """Side-by-side plots of the latest run per configuration."""
    latest = comparison.latest
    if not latest:
        return {}
    styles = _styles(latest)
    colors = plots.framework_colors([v.framework for v in latest])
    slo = next((v.slo_p99_ms for v in latest if v.slo_p99_ms), None)
    out = {}
    closed = {v.label: v.steps for v in latest if v.steps}
    if closed:
        out["latency_throughput"] = plots.latency_throughput(
            closed, slo, p50=False, styles=styles, title="p99 latency against throughput, closed loop "
            "(labels: concurrent users)")
    opened = {v.label: v.open_steps for v in latest if v.open_steps}
    if opened:
        out["latency_throughput_open"] = plots.latency_throughput(
            opened, slo, p50=False, styles=styles, title="p99 latency against throughput, open loop "
            "(labels: arrival rate; latency from intended send time)")
    curves, cdf_styles = {}, {}
    for v in latest:
        step = v.fixed_load.step
        if step is not None and (c := _cdf(v, step)) is not None:
            name = f"{v.label} at {v.fixed_load.label}"
            curves[name] = c
            cdf_styles[name] = styles[v.label]
    if curves:
        out["cdf"] = plots.latency_cdf(curves, styles=cdf_styles, title="Latency CDF at the fixed load")
    bars = {
        "ready": ("Time to ready", "seconds", lambda v: v.time_to_ready_s),
        "memory": ("Peak server memory", "MiB", lambda v: v.mem_peak_mib),
        "cpu": ("Server CPU per request", "CPU-ms per request",
                lambda v: v.cpu_ms_per_request),
        "cost": ("Cost", "US$ per million requests", lambda v: v.usd_per_million),
    }
    out.update(pareto_plots(comparison, styles))
    for key, (title, unit, get) in bars.items():
        values: dict[str, dict[str, float]] = {}
        for v in latest:
            if (x := get(v)) is not None:
                values.setdefault(v.framework, {})[v.preset] = x
        if values:
            out[f"bar_{key}"] = plots.grouped_bars(values, title=title, unit=unit, colors=colors)
    return out


def figure_runs(comparison: Comparison) -> dict[str, list[RunView]]:
    """For each index figure, the runs it draws: its caption links each to its page."""
    latest = comparison.latest
    speed, cost = pareto_points(comparison)
    by_id = {v.run_id: v for v in latest}
    return {
        "latency_throughput": [v for v in latest if v.steps],
        "latency_throughput_open": [v for v in latest if v.open_steps],
        "cdf": [v for v in latest if v.fixed_load.step is not None],
        "pareto_speed": [by_id[p.run_id] for p in speed],
        "pareto_cost": [by_id[p.run_id] for p in cost],
        "bar_ready": [v for v in latest if v.time_to_ready_s is not None],
        "bar_memory": [v for v in latest if v.mem_peak_mib is not None],
        "bar_cpu": [v for v in latest if v.cpu_ms_per_request is not None],
        "bar_cost": [v for v in latest if v.usd_per_million is not None],
    }


def pareto_points(comparison: Comparison) -> tuple[list[Point], list[Point]]:
    """The ranked configurations that held a rate, as (throughput at SLO, p99 at the fixed load) and as
    (p99 at the fixed load, $ per million requests); a figure the run lacks leaves it off that chart."""
    ranked = [r.run for r in comparison.rows if r.rank and r.run is not None and r.run.held]
    speed, cost = [], []
    for v in ranked:
        p99 = v.fixed_load.p99_shown_ms
        if p99 is not None and v.throughput_at_slo_rps:
            speed.append(Point(v.label, v.run_id, v.throughput_at_slo_rps, p99))
        if p99 is not None and v.usd_per_million is not None:
            cost.append(Point(v.label, v.run_id, p99, v.usd_per_million))
    return speed, cost


def pareto_plots(comparison: Comparison, styles: dict[str, plots.Style]) -> dict[str, str]:
    """The two Pareto charts of the index (each point links to its run's page)."""
    speed, cost = pareto_points(comparison)
    ranked = [r.run for r in comparison.rows if r.rank and r.run is not None]
    fixed = next((v.fixed_load.label for v in ranked if v.fixed_load.label), "the fixed load")
    hrefs = {p.run_id: f"runs/{p.run_id}.html" for p in [*speed, *cost]}
    out = {}
    if speed:
        senses: tuple[pareto.Sense, pareto.Sense] = ("max", "min")
        out["pareto_speed"] = plots.pareto_chart(
            speed, pareto.front(speed, senses), senses, styles=styles, hrefs=hrefs,
            title=f"Throughput at the SLO against p99 latency at {fixed}",
            xlabel="throughput at the SLO (req/s)", ylabel=f"p99 at {fixed} (ms)")
    if cost:
        senses = ("min", "min")
        out["pareto_cost"] = plots.pareto_chart(
            cost, pareto.front(cost, senses), senses, styles=styles, hrefs=hrefs,
            title=f"Cost against p99 latency at {fixed}",
            xlabel=f"p99 at {fixed} (ms)", ylabel="US$ per million requests")
    return out


def _when(view: RunView) -> datetime | None:
    try:
        return datetime.fromisoformat(view.started_at)
    except ValueError:
        return None


def history_plots(views: list[RunView], verdicts: list[history.Verdict]) -> dict[str, str]:
    """One trend chart per metric, one line per configuration with at least two complete runs."""
    series = {k: s for k, s in history.build_series(views).items() if len(s) >= 2}
    if not series:
        return {}
    colors = plots.framework_colors([k[0] for k in series])
    styles = {history.series_label(k): (colors[k[0]], plots.preset_style(k[1])) for k in series}
    flagged_runs = {(v.run_id, v.metric) for v in verdicts if v.status == "regression"}
    out = {}
    for metric in METRICS:
        lines: dict[str, list[tuple[datetime, float]]] = {}
        flagged = []
        for key, runs in series.items():
            pts = []
            for r in runs:
                when, value = _when(r), r.metric(metric.name)
                if when is not None and value is not None:
                    pts.append((when, value))
                    if (r.run_id, metric.name) in flagged_runs:
                        flagged.append((when, value))
            if pts:
                lines[history.series_label(key)] = pts
        if lines:
            out[metric.name] = plots.trend(lines, title=f"{metric.title} over time", unit=metric.unit,
                                           styles=styles, flagged=flagged)
    return out


def _methodology(comparison: Comparison) -> dict:
    """Environment facts that differ between runs are listed per run; shared ones once."""
    latest = comparison.latest
    return {
        "machines": sorted({v.machine_text for v in latest}),
        "slos": sorted({fmt(v.slo_p99_ms, 0) for v in latest}),
        "profiles": {v.profile: v.record.profile for v in latest},
        "libraries": sorted({(k, val) for v in latest for k, val in v.library_versions.items()}),
        "models": sorted({v.model_text for v in latest}),
        "ceilings": [(v, v.generator_ceiling) for v in latest if v.generator_ceiling],
        "prices": sorted({v.price_row for v in latest if v.cost and not v.cost.no_fit}),
        "stale_prices": [v for v in latest if v.price_age],
        "no_fit": [v for v in latest if v.cost and v.cost.no_fit],
        "limited": [v for v in latest if v.generator_limited],
        "fixed_labels": list(dict.fromkeys(v.fixed_load.label for v in latest if v.fixed_load.label)),
    }


def write_reports(results: Path, out: Path | None = None) -> list[Path]:
    """Write reports/: index.html, runs/<run_id>.html with raw files, regressions.json and summary.md."""
    results = Path(results)
    out = Path(out) if out else results.parent / "reports"
    out.mkdir(parents=True, exist_ok=True)
    views = [run_view(r) for r in list_runs(results)]
    env = _env()
    runs_dir = out / "runs"
    runs_dir.mkdir(exist_ok=True)
    _prune(runs_dir, {v.run_id for v in views})
    code_mtime = _code_mtime()
    written: list[Path] = []
    for view in views:
        written += _publish_run(env, view, out, code_mtime)
    # the ranking is REST's; gRPC runs are ranked and tracked apart, and meet REST only in protocol_rows
    comparison = compare([v for v in views if v.transport == "rest"])
    comparison.failed = [v for v in sorted(views, key=lambda r: r.sort_time, reverse=True) if not v.complete]
    comparison.all_runs = sorted(views, key=lambda r: r.sort_time, reverse=True)
    verdicts = history.evaluate(views)
    generated = _now()
    index = out / "index.html"
    index.write_text(env.get_template("index.html.j2").render(
        c=comparison, verdicts=verdicts, headline=verdict(comparison),
        regressions=[v for v in verdicts if v.status == "regression"], plots=index_plots(comparison),
        figure_runs=figure_runs(comparison), trends=history_plots(views, verdicts), metrics=METRICS,
        rule=history.RULE_TEXT, meta=_methodology(comparison), generated_at=generated,
        protocols=protocol_rows(views),
        results_dir=str(results), sections=index_sections(views, env), variant_pairs=variant_pairs(views),
    ), encoding="utf-8")
    regressions = out / "regressions.json"
    regressions.write_text(json.dumps(history.regressions_document(verdicts, generated), indent=2) + "\n")
    summary = out / "summary.md"
    summary.write_text(summary_markdown(comparison, verdicts, generated), encoding="utf-8")
    return [*written, regressions, summary, index]  # the index last: callers print it as "the report"
