"""Scenarios beyond steady online load: overload, burst and recovery, cold start, offline batch, request
size, trace replay. Each is one module here with one job: run its load against the server under test and
return its typed result (scenarios/records.py), which the run record keeps under the scenario's name.

Orchestration, like run.py and protocol.py: a scenario may use servers (through the Target and the
ServerUnderTest's restart), load (steps, schedules) and measure (statistics, confidence), never report.
Its page section lives in report/scenario_<name>.py.

``steady`` is the base protocol (closed-loop steps, the fixed load, the SLO search and its confirmations):
a scenario that needs the SLO throughput (``needs_slo_rate``) makes the run measure it first.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # base imports the run record, which imports scenarios.records: no import cycle here
    from servingbench.scenarios.base import Scenario

STEADY = "steady"
MODULES: dict[str, str] = {
    "overload": "servingbench.scenarios.overload",
    "burst": "servingbench.scenarios.burst",
    "coldstart": "servingbench.scenarios.coldstart",
    "batch": "servingbench.scenarios.batch",
    "size": "servingbench.scenarios.size",
    "trace": "servingbench.scenarios.trace",
}
"""Every scenario by its SCENARIO= name; a module defines ``SCENARIO`` (a base.Scenario)."""


def available() -> list[str]:
    """Scenario names a user may ask for, ``steady`` first, those whose module exists."""
    return [STEADY, *(name for name in MODULES if importlib.util.find_spec(MODULES[name]) is not None)]


def get_scenario(name: str) -> Scenario:
    if name not in MODULES or name not in available():
        raise ValueError(f"unknown scenario {name!r}; choose from: {', '.join(available())} (or all)")
    return importlib.import_module(MODULES[name]).SCENARIO


def parse_scenarios(text: str | None, default: tuple[str, ...], *,
                    insert_steady: bool = True) -> tuple[str, ...]:
    """``SCENARIO=overload,burst`` (or ``all``; empty: the profile's ``default``) as a checked, ordered,
    de-duplicated tuple; ValueError naming the valid ones otherwise. ``steady`` comes first where asked
    for or needed by a scenario (its SLO throughput); ``insert_steady=False`` leaves a needed one out
    (RATE_FROM=newest: the run decides once it knows whether an earlier steady run can stand in,
    scenarios/scaled.plan_rate)."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()] or list(default)
    if names == ["all"]:
        names = available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; choose from: "
                         f"{', '.join(available())} (or all)")
    chosen = list(dict.fromkeys(names))
    if insert_steady and STEADY not in chosen and any(get_scenario(n).needs_slo_rate for n in chosen):
        chosen.insert(0, STEADY)
    if STEADY in chosen:
        chosen.remove(STEADY)
        chosen.insert(0, STEADY)
    return tuple(chosen)
