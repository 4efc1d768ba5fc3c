"""Choosing scenarios, running them in turn (a failing one is recorded, the rest still run), and keeping
scenario-only runs out of the steady ranking."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from servingbench.load.locust import LoadError
from servingbench.profiles import PROFILES
from servingbench.record.results import load_run
from servingbench.record.run_record import RunRecord
from servingbench.record.serial import Record
from servingbench.report.comparison import compare
from servingbench.report.model import run_view
from servingbench.scenarios import STEADY, available, parse_scenarios
from servingbench.scenarios.base import ScenarioContext, reference_rate, run_scenarios
from servingbench.scenarios.records import ScenarioResults
from tests.test_report_data import write_run


def test_the_default_is_the_profiles_and_steady_comes_first():
    assert parse_scenarios(None, ("steady",)) == ("steady",)
    assert parse_scenarios("", PROFILES["quick"].scenarios) == PROFILES["quick"].scenarios
    assert parse_scenarios("steady,steady", ()) == ("steady",)
    assert parse_scenarios("all", ())[0] == STEADY
    assert set(parse_scenarios("all", ())) == set(available())


def test_an_unknown_scenario_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown scenario\(s\) warp.*choose from: steady"):
        parse_scenarios("steady,warp", ())


@dataclass
class Done(Record):
    value: float = 0.0


@dataclass
class FakeScenario:
    name: str
    fail_with: Exception | None = None
    question: str = "does it work?"
    needs_slo_rate: bool = False
    restarts_server: bool = False

    def run(self, sc: ScenarioContext) -> Record:
        if self.fail_with is not None:
            raise self.fail_with
        return Done(1.0)


class _Server:
    def exited(self):
        return None


class _Ctx:
    server = _Server()


def test_a_failing_scenario_is_recorded_and_the_next_still_runs(tmp_path):
    record = RunRecord(framework="baseline", preset="default")
    scenarios = {"first": FakeScenario("first", LoadError("Locust failed (exit 1)")),
                 "second": FakeScenario("second")}
    lines: list[str] = []
    sc = ScenarioContext(_Ctx(), None, None, None, PROFILES["quick"], record, tmp_path, tmp_path,  # type: ignore[arg-type]
                         progress=lines.append)
    ran: list[str] = []

    def get(name: str) -> FakeScenario:
        ran.append(name)
        return scenarios[name]

    results = ScenarioResults()
    record.scenarios = results
    results.second = None  # type: ignore[attr-defined]  # a field a scenario would declare
    run_scenarios(sc, ("first", "second"), get)
    assert ran == ["first", "second"]
    assert record.scenarios.failed == {"first": "LoadError: Locust failed (exit 1)"}
    assert record.scenarios.second == Done(1.0)  # type: ignore[attr-defined]
    assert any("scenario first FAILED" in line for line in lines)


def test_reference_rate_is_the_held_slo_rate_else_the_closed_loop_peak(tmp_path):
    held = load_run(write_run(tmp_path, tput=50.0, summary_extra={"slo_rate_rps": 52.0}))
    assert held is not None and held.summary is not None
    rate = reference_rate(held)
    assert rate is not None and rate.rps == 52.0 and "offered rate" in rate.basis
    held.summary = dataclasses.replace(held.summary, slo_rate_rps=None)
    goodput = reference_rate(held)
    assert goodput is not None and goodput.rps == 50.0 and "goodput" in goodput.basis
    held.summary = dataclasses.replace(held.summary, throughput_at_slo_rps=0.0)
    peak = reference_rate(held)
    assert peak is not None and peak.rps == held.summary.peak_throughput_rps and "peak" in peak.basis
    assert reference_rate(RunRecord(framework="x", preset="y")) is None


def test_a_scenario_only_run_does_not_displace_the_last_steady_one(tmp_path: Path):
    write_run(tmp_path, started="2026-01-01T00:00:00+00:00", tput=50.0)
    later = write_run(tmp_path, started="2026-01-02T00:00:00+00:00", tput=90.0,
                      extra={"scenarios_run": ["coldstart"], "summary": None, "slo_search": None})
    runs = [run_view(r) for r in (load_run(p) for p in sorted(tmp_path.iterdir())) if r is not None]
    comparison = compare(runs)
    ranked = [row.run for row in comparison.rows if row.rank]
    assert len(ranked) == 1 and ranked[0].throughput_at_slo_rps == pytest.approx(50.0, rel=0.2)
    assert all(row.latest_attempt is None or row.latest_attempt.folder != later for row in comparison.rows)


def test_profiles_choose_the_scenarios_the_issue_names():
    """quick: steady load only (CI smoke); standard adds overload and cold start; full (nightly) runs
    every scenario, trace included (the example trace when no TRACE is given)."""
    assert parse_scenarios(None, PROFILES["quick"].scenarios) == ("steady",)
    assert parse_scenarios(None, PROFILES["standard"].scenarios) == ("steady", "overload", "coldstart")
    assert set(parse_scenarios(None, PROFILES["full"].scenarios)) == set(available())
