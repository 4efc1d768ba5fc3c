"""The regression rule: clear cases on both sides of the threshold, and when it refuses to judge."""

from __future__ import annotations

import pytest

from servingbench.record.results import list_runs
from servingbench.report import history
from servingbench.report.history import judge
from servingbench.report.model import run_view
from tests.test_report_data import write_run

PREVIOUS = [100.0, 101.0, 99.0, 100.0, 100.0]  # median 100, MAD 0: the 10% floor decides


def test_throughput_drop_beyond_threshold_is_a_regression():
    assert judge(85.0, PREVIOUS, higher_is_better=True)[0] == "regression"


def test_throughput_drop_within_threshold_is_ok():
    status, median, mad, tolerance = judge(91.0, PREVIOUS, higher_is_better=True)
    assert (status, median, mad) == ("ok", 100.0, 0.0)
    assert tolerance == pytest.approx(10.0)


def test_threshold_edges():
    assert judge(90.0, PREVIOUS, higher_is_better=True)[0] == "ok"  # exactly at the tolerance
    assert judge(89.9, PREVIOUS, higher_is_better=True)[0] == "regression"


def test_latency_rise_is_a_regression_and_fall_an_improvement():
    assert judge(111.0, PREVIOUS, higher_is_better=False)[0] == "regression"
    assert judge(89.0, PREVIOUS, higher_is_better=False)[0] == "improvement"
    assert judge(111.0, PREVIOUS, higher_is_better=True)[0] == "improvement"


def test_noisy_history_widens_the_tolerance():
    noisy = [100.0, 80.0, 120.0, 90.0, 110.0]  # median 100, MAD 10 -> 3 * 1.4826 * 10 = 44.5
    status, _, mad, tolerance = judge(60.0, noisy, higher_is_better=True)
    assert mad == 10.0 and tolerance == pytest.approx(44.478, rel=1e-5)  # 1.4826 to four places
    assert status == "ok"
    assert judge(55.0, noisy, higher_is_better=True)[0] == "regression"


def test_own_spread_widens_the_tolerance():
    assert judge(85.0, PREVIOUS, True, own_spread=(70.0, 95.0))[0] == "ok"  # spread width 25
    assert judge(70.0, PREVIOUS, True, own_spread=(70.0, 95.0))[0] == "regression"


def test_too_little_history_is_not_judged():
    assert judge(10.0, [100.0, 100.0], higher_is_better=True)[0] == "insufficient history"
    assert judge(None, PREVIOUS, higher_is_better=True)[0] == "insufficient history"


def _history(tmp_path, values, **kw):
    for day, tput in enumerate(values, 1):
        write_run(tmp_path, started=f"2026-01-{day:02d}T00:00:00+00:00", tput=tput, samples=False, **kw)
    return [run_view(r) for r in list_runs(tmp_path)]


def test_evaluate_flags_the_newest_run_only(tmp_path):
    views = _history(tmp_path, [50.0, 51.0, 49.0, 50.0, 30.0])
    verdicts = {v.metric: v for v in history.evaluate(views)}
    tput = verdicts["throughput_at_slo_rps"]
    assert tput.status == "regression"
    assert tput.run_id == views[-1].run_id and len(tput.previous_run_ids) == 4
    assert tput.baseline_median == 50.0 and tput.change == -20.0
    assert verdicts["cpu_ms_per_request"].status == "ok"  # unchanged metrics stay quiet
    doc = history.regressions_document(list(verdicts.values()), "now")
    assert [r["metric"] for r in doc["regressions"]] == ["throughput_at_slo_rps"]
    assert doc["rule"]["min_relative"] == history.MIN_RELATIVE and "median" in doc["rule"]["text"]


def test_evaluate_stable_history_has_no_regression(tmp_path):
    views = _history(tmp_path, [50.0, 51.0, 49.0, 50.0, 48.0])
    assert all(v.status == "ok" for v in history.evaluate(views))


def test_series_do_not_mix_profiles_or_failed_runs(tmp_path):
    _history(tmp_path, [50.0, 51.0, 49.0])
    write_run(tmp_path, started="2026-01-10T00:00:00+00:00", tput=10.0, profile="standard", samples=False)
    write_run(tmp_path, started="2026-01-11T00:00:00+00:00", status="failed", reason="boom")
    write_run(tmp_path, started="2026-01-12T00:00:00+00:00", tput=5.0, parity=False, samples=False)
    views = [run_view(r) for r in list_runs(tmp_path)]
    series = history.build_series(views)
    assert sorted(len(s) for s in series.values()) == [1, 3]
    assert all(v.status in ("ok", "insufficient history") for v in history.evaluate(views))


def test_a_change_of_method_starts_a_new_series(tmp_path):
    """Closed-loop figures (schema-1 runs of that era) followed by open-loop ones: a new series, not a
    regression."""
    _history(tmp_path, [50.0, 51.0, 49.0, 50.0], schema=1)
    write_run(tmp_path, started="2026-01-09T00:00:00+00:00", tput=5.0, samples=False, summary_extra={
        "slo_source": "open-loop search", "fixed_load_rps": 20, "p99_ms_at_fixed_load": 900.0})
    views = [run_view(r) for r in list_runs(tmp_path)]
    assert len(history.build_series(views)) == 2
    verdicts = history.evaluate(views)
    assert verdicts and all(v.status == "insufficient history" for v in verdicts)
    assert {v.run_id for v in verdicts} == {"20260109T000000Z-baseline-default"}  # old series: not judged


def test_a_p99_on_too_few_samples_is_not_a_regression_metric(tmp_path):
    def night(day, p99, enough):
        write_run(tmp_path, started=f"2026-01-{day:02d}T00:00:00+00:00", tput=50.0, samples=False,
                  summary_extra={"fixed_load_rps": 20.0, "p50_ms_at_fixed_load": 10.0,
                                 "p99_ms_at_fixed_load": p99, "p99_at_fixed_load_enough": enough})

    for day, p99 in enumerate([20.0, 21.0, 19.0, 20.0], 1):
        night(day, p99, True)
    night(5, 80.0, False)  # 4x the p99, but on too few samples: withheld, not a regression
    verdicts = {v.metric: v for v in history.evaluate([run_view(r) for r in list_runs(tmp_path)])}
    p99 = verdicts["p99_ms_at_fixed_load"]
    assert p99.status == "too few samples" and p99.value is None and not p99.judged
    assert verdicts["throughput_at_slo_rps"].judged
    night(6, 20.0, True)  # a later run with enough samples is judged against the runs that had enough
    verdicts = {v.metric: v for v in history.evaluate([run_view(r) for r in list_runs(tmp_path)])}
    assert verdicts["p99_ms_at_fixed_load"].status == "ok"
    assert len(verdicts["p99_ms_at_fixed_load"].previous_run_ids) == 4  # the withheld night is no baseline


def _nights(tmp_path, nights: list[tuple[float, float, float]]):
    """(throughput, memory, in-process reference req/s) per night."""
    for day, (tput, mem, ref) in enumerate(nights, 1):
        write_run(tmp_path, started=f"2026-01-{day:02d}T00:00:00+00:00", tput=tput, mem=mem, samples=False,
                  reference_rps=ref)
    return {v.metric: v for v in history.evaluate([run_view(r) for r in list_runs(tmp_path)])}


def test_a_slower_machine_is_not_the_frameworks_regression(tmp_path):
    """Same fingerprint, a VM 40% slower: the reference dropped with the throughput, so the drop is the
    machine's; memory, which the machine's speed does not move, is still judged by the rule."""
    verdicts = _nights(tmp_path, [(100.0, 150.0, 140.0), (101.0, 150.0, 139.0), (99.0, 150.0, 141.0),
                                  (60.0, 300.0, 84.0)])
    tput = verdicts["throughput_at_slo_rps"]
    assert tput.status == history.MACHINE_CHANGED and tput.judged
    assert tput.machine_change_pct == pytest.approx(-40.0)
    assert verdicts["mem_peak_mib"].status == "regression"
    doc = history.regressions_document(list(verdicts.values()), "now")
    assert [r["metric"] for r in doc["regressions"]] == ["mem_peak_mib"]
    assert [r["metric"] for r in doc["machine_changed"]] == ["throughput_at_slo_rps"]


def test_a_steady_machine_leaves_a_regression_the_frameworks(tmp_path):
    verdicts = _nights(tmp_path, [(100.0, 150.0, 140.0), (101.0, 150.0, 139.0), (99.0, 150.0, 141.0),
                                  (60.0, 150.0, 137.0)])  # the reference within 10%: the server slowed
    tput = verdicts["throughput_at_slo_rps"]
    assert tput.status == "regression" and tput.machine_change_pct == pytest.approx(-2.1, abs=0.05)


def test_without_enough_references_the_rule_is_unchanged(tmp_path):
    for day, tput in enumerate([100.0, 101.0, 99.0], 1):  # earlier runs without a reference (older records)
        write_run(tmp_path, started=f"2026-01-{day:02d}T00:00:00+00:00", tput=tput, samples=False,
                  extra={"reference": None})
    write_run(tmp_path, started="2026-01-04T00:00:00+00:00", tput=60.0, samples=False, reference_rps=80.0)
    verdicts = {v.metric: v for v in history.evaluate([run_view(r) for r in list_runs(tmp_path)])}
    assert verdicts["throughput_at_slo_rps"].status == "regression"
    assert verdicts["throughput_at_slo_rps"].machine_change_pct is None
