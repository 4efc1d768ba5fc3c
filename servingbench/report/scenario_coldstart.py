"""The cold-start scenario on the pages: each start's figures and their spread (run page); every
framework's cold start beside its keep-warm price (index), so that scale-to-zero can be judged."""

from __future__ import annotations

from jinja2 import Environment
from markupsafe import Markup

from servingbench.measure.coldstart import Spread
from servingbench.report.model import RunView
from servingbench.report.scenarios import Section, latest_with


def spread_text(s: Spread | None, digits: int = 2) -> str:
    """"median [min-max]" (with the median's 95% interval where N allows); "not logged" when absent."""
    if s is None:
        return "not logged"
    text = f"{s.median:.{digits}f} [{s.min:.{digits}f}-{s.max:.{digits}f}]"
    if s.ci_low is not None and s.ci_high is not None:
        text += f" (95% CI of median {s.ci_low:.{digits}f}-{s.ci_high:.{digits}f})"
    return text


def run_section(view: RunView, env: Environment) -> Section | None:
    result = view.scenario_results.coldstart
    if result is None:
        return None
    html = env.get_template("scenarios/coldstart.html.j2").render(r=result, spread=spread_text)
    return Section("scenario-coldstart", "Cold start", Markup(html))


def index_section(views: list[RunView], env: Environment) -> Section | None:
    rows = [(v, r) for v in latest_with(views, "coldstart")
            if (r := v.scenario_results.coldstart) is not None]
    if not rows:
        return None
    html = env.get_template("scenarios/coldstart_index.html.j2").render(rows=rows, spread=spread_text)
    return Section("index-coldstart", "Cold start and keep-warm cost", Markup(html))
