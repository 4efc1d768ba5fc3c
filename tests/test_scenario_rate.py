"""Where overload and burst take their reference rate from: RATE_FROM=newest reuses the newest complete
steady run of the same setting (else this run measures steady first), this-run always measures it, a
number is used as given; the choice is recorded with the result."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from servingbench.profiles import PROFILES
from servingbench.record.results import load_run
from servingbench.record.run_record import CpuSets, RunRecord
from servingbench.run import BenchConfig
from servingbench.scenarios import STEADY, parse_scenarios
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.scaled import (
    GIVEN,
    NEWEST,
    THIS_RUN,
    newest_steady_run,
    parse_rate_from,
    parse_time_scale,
    plan_rate,
    scenario_rate,
)
from tests.test_report_data import write_run


def current(root: Path) -> RunRecord:
    """A new run in the setting write_run uses (baseline, default, quick, SLO 100, CPUs 0 / 1)."""
    import tempfile

    record = load_run(write_run(Path(tempfile.mkdtemp(dir=root.parent)), started="2026-02-01T00:00:00+00:00"))
    assert record is not None
    return dataclasses.replace(record, run_id="this-run", status="running", scenarios_run=[])


def config(root: Path, rate_from: str = NEWEST, scenarios: tuple[str, ...] = ("overload",)) -> BenchConfig:
    return BenchConfig(framework="baseline", preset="default", profile=PROFILES["quick"], slo_p99_ms=100.0,
                       server_cpus=(0,), loadgen_cpus=(1,), results_root=root, scenarios=scenarios,
                       scenario_options=ScenarioOptions(rate_from=rate_from))


def test_rate_from_parses_its_three_forms_and_refuses_others():
    assert parse_rate_from(None) == (NEWEST, None)
    assert parse_rate_from("this-run") == (THIS_RUN, None)
    assert parse_rate_from("42.5") == (GIVEN, 42.5)
    for bad in ("latest", "0", "-3", "nan", "inf"):
        with pytest.raises(ValueError, match="newest, this-run or a rate"):
            parse_rate_from(bad)
    assert parse_time_scale("0.25") == 0.25
    with pytest.raises(ValueError, match="SCENARIO_TIME_SCALE"):
        parse_time_scale("0")


def test_parse_scenarios_can_leave_the_needed_steady_to_the_run():
    assert parse_scenarios("overload", ()) == (STEADY, "overload")
    assert parse_scenarios("overload", (), insert_steady=False) == ("overload",)
    assert parse_scenarios("steady,burst", (), insert_steady=False) == (STEADY, "burst")


def test_the_newest_run_of_the_same_setting_is_chosen(tmp_path):
    old = write_run(tmp_path, started="2026-01-01T00:00:00+00:00", tput=40.0)
    new = write_run(tmp_path, started="2026-01-02T00:00:00+00:00", tput=50.0)
    write_run(tmp_path, started="2026-01-03T00:00:00+00:00", profile="standard")  # another profile
    write_run(tmp_path, started="2026-01-04T00:00:00+00:00", parity=False)  # failed the gate
    write_run(tmp_path, started="2026-01-05T00:00:00+00:00", status="failed", reason="x")
    write_run(tmp_path, started="2026-01-06T00:00:00+00:00", framework="bentoml")
    write_run(tmp_path, started="2026-01-07T00:00:00+00:00",  # scenario-only: measured no steady
              extra={"scenarios_run": ["coldstart"]})
    other_cpus = write_run(tmp_path, started="2026-01-08T00:00:00+00:00")
    moved = load_run(other_cpus)
    assert moved is not None
    moved.cpus = CpuSets(server=[1], loadgen=[0])
    (other_cpus / "run.json").write_text(json.dumps(moved.to_dict()))
    found = newest_steady_run(tmp_path, current(tmp_path / "x"))
    assert found is not None and found.folder == new and found.folder != old


def test_newest_reuses_an_earlier_run_and_skips_steady(tmp_path):
    earlier = write_run(tmp_path, started="2026-01-02T00:00:00+00:00", tput=50.0)
    lines: list[str] = []
    planned = plan_rate(config(tmp_path), current(tmp_path / "x"), lines.append)
    assert planned.scenarios == ("overload",) and planned.scenario_options.reference_run == earlier
    assert earlier.name in lines[0]


def test_without_a_matching_run_or_with_this_run_steady_is_measured_first(tmp_path):
    lines: list[str] = []
    planned = plan_rate(config(tmp_path), current(tmp_path / "x"), lines.append)
    assert planned.scenarios == (STEADY, "overload")
    assert "measuring steady first" in lines[0]
    write_run(tmp_path, started="2026-01-02T00:00:00+00:00")
    planned = plan_rate(config(tmp_path, THIS_RUN), current(tmp_path / "x"), lines.append)
    assert planned.scenarios == (STEADY, "overload") and planned.scenario_options.reference_run is None
    given = config(tmp_path, GIVEN)
    assert plan_rate(given, current(tmp_path / "x"), lines.append) is given
    steady_asked = config(tmp_path, scenarios=(STEADY, "burst"))
    assert plan_rate(steady_asked, current(tmp_path / "x"), lines.append) is steady_asked


def _context(record: RunRecord, options: ScenarioOptions, folder: Path) -> ScenarioContext:
    return ScenarioContext(None, None, None, None, PROFILES["quick"], record, folder, folder,  # type: ignore[arg-type]
                           options)


def test_the_scenario_records_where_its_rate_came_from(tmp_path):
    earlier = write_run(tmp_path, started="2026-01-02T00:00:00+00:00", tput=50.0,
                        summary_extra={"slo_rate_rps": 52.0})
    record = current(tmp_path / "x")
    options = ScenarioOptions(rate_from=NEWEST, reference_run=earlier)
    borrowed = scenario_rate(_context(record, options, tmp_path))
    assert (borrowed.rps, borrowed.source, borrowed.run_id) == (52.0, "earlier run", earlier.name)
    given = scenario_rate(_context(record, ScenarioOptions(rate_from=GIVEN, rate_rps=33.0), tmp_path))
    assert (given.rps, given.source) == (33.0, "given")
    record.scenarios_run = [STEADY, "overload"]
    own = scenario_rate(_context(record, ScenarioOptions(rate_from=THIS_RUN), tmp_path))
    assert own.source == "this run" and own.rps == record.summary.throughput_at_slo_rps  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="no reference rate"):
        scenario_rate(_context(RunRecord(framework="x", preset="y"), ScenarioOptions(), tmp_path))
