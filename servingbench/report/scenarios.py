"""The scenarios' parts of the pages: each scenario's run-page section and index section, in one list.

A scenario's report module (report/scenario_<name>.py) defines ``run_section(view, env)`` and
``index_section(views, env)``, each returning a Section or None (nothing measured). Its figures come from
the run record and the raw samples, nothing else; its markup from its own template
(templates/scenarios/<name>.html.j2).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from jinja2 import Environment
from markupsafe import Markup

from servingbench.report.model import RunView

MODULES: dict[str, str] = {
    "overload": "servingbench.report.scenario_overload",
    "burst": "servingbench.report.scenario_burst",
    "coldstart": "servingbench.report.scenario_coldstart",
    "batch": "servingbench.report.scenario_batch",
    "size": "servingbench.report.scenario_size",
    "trace": "servingbench.report.scenario_trace",
}


@dataclass(frozen=True)
class Section:
    id: str
    """The HTML id of the section's heading (links, browser tests)."""
    title: str
    html: Markup


def _modules() -> list:
    return [importlib.import_module(m) for m in MODULES.values() if importlib.util.find_spec(m) is not None]


def run_sections(view: RunView, env: Environment) -> list[Section]:
    """The run page's scenario sections, plus one listing the scenarios that failed, with the reason."""
    sections = [s for m in _modules() if (s := m.run_section(view, env)) is not None]
    failed = view.scenario_results.failed
    if failed:
        html = env.get_template("scenarios/failed.html.j2").render(failed=failed)
        sections.append(Section("scenarios-failed", "Scenarios that failed", Markup(html)))
    return sections


def index_sections(views: list[RunView], env: Environment) -> list[Section]:
    """The index's scenario sections (every framework side by side), from every run given."""
    return [s for m in _modules() if (s := m.index_section(views, env)) is not None]


def latest_with(views: list[RunView], name: str) -> list[RunView]:
    """The newest complete run per (framework, preset) that holds scenario ``name``'s result, by label."""
    newest: dict[tuple[str, str], RunView] = {}
    for view in sorted(views, key=lambda v: v.sort_time):
        if view.comparable_scenario and getattr(view.scenario_results, name, None) is not None:
            newest[view.key] = view
    return sorted(newest.values(), key=lambda v: v.label)
