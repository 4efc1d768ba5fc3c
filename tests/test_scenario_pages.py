"""The overload and burst sections of the run page and the index, from synthetic samples: the figures equal
the samples', the verdict and the rate's source are shown, a collapse is called out by name and rate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from servingbench.load.failures import count_kinds
from servingbench.load.steps import open_window, percentile_intervals
from servingbench.measure import stats
from servingbench.measure.goodput_curve import judge_curve
from servingbench.measure.recovery import recovery, timeline
from servingbench.profiles import PROFILES
from servingbench.record.results import load_run
from servingbench.report.pages import write_reports, write_run_report
from servingbench.scenarios.burst import phases, plan
from servingbench.scenarios.records import (
    BurstResult,
    OverloadResult,
    RateSource,
    ScenarioResults,
    ScenarioStep,
)
from tests.scenario_pages import check_burst_page, check_overload_page, table_rows
from tests.test_report_data import write_run

T0 = 5000.0


def fake_samples(rate: float, served: float, seconds: float, seed: int, base_ms: float = 20.0) -> np.ndarray:
    """Poisson sends at ``rate`` for ``seconds`` to a server that answers ``served`` req/s (FIFO queue)."""
    rng = np.random.default_rng(seed)
    sends = T0 + np.cumsum(rng.exponential(1 / rate, int(rate * seconds * 1.2)))
    sends = sends[sends < T0 + seconds]
    free, rows = T0, []
    for t in sends:
        free = max(free, t) + 1 / served
        lat = (free - t) * 1000 + base_ms
        rows.append([t, lat, 200 if lat < 3000 else -2, 0.1, 0.0])
    return np.array(rows)


def step_of(folder: Path, name: str, samples: np.ndarray, rate: float, warmup: float,
            measure: float) -> ScenarioStep:
    np.save(folder / "load" / f"{name}.samples.npy", samples)
    start = T0 + warmup
    window, summary = open_window(samples, start, measure)
    return ScenarioStep(name=name, offered_rps=rate, seed=1, window_start=start, window_end=start + measure,
                        samples_file=f"load/{name}.samples.npy", latency=summary,
                        percentile_ci_ms=percentile_intervals(stats.ok_latencies(window)),
                        failure_kinds=count_kinds(window[:, 2]), intended_requests=int(window.shape[0]),
                        completed_ok=stats.completed_ok_in_window(samples, start, start + measure))


def add_results(folder: Path, served: float, collapse: bool) -> None:
    rate = RateSource(40.0, "SLO throughput (offered rate that held)", "earlier run", "20260101T000000Z-x")
    steps = []
    for i, m in enumerate((0.5, 1.0, 1.5, 2.0), 1):
        capacity = served / (3 if collapse and m == 2.0 else 1)  # the collapse: a third of the capacity
        samples = fake_samples(40 * m, capacity, 10, i)
        steps.append(step_of(folder, f"overload_{i}_x{m:g}", samples, 40 * m, 2, 8))
    over = OverloadResult(rate=rate, multiples=[0.5, 1.0, 1.5, 2.0], warmup_s=2, measure_s=8, steps=steps,
                          verdict=judge_curve([s.curve_point() for s in steps]))
    p = plan(PROFILES["quick"])
    shift = np.array([1.0, 0, 0, 0, 0])
    raw = np.vstack([fake_samples(20, served, p.warmup_s + p.before_s, 9),
                     fake_samples(60, served, p.burst_s, 10) + shift * (p.warmup_s + p.before_s),
                     fake_samples(20, served, p.after_s, 11) + shift * (p.warmup_s + p.before_s + p.burst_s)])
    bstep = step_of(folder, "burst", raw, 30.0, p.warmup_s, p.measure_s)
    seconds = timeline(raw, bstep.window_start, bstep.window_end)
    burst = BurstResult(rate=rate, base_fraction=0.5, burst_fraction=1.5, warmup_s=p.warmup_s,
                        before_s=p.before_s, burst_s=p.burst_s, after_s=p.after_s, step=bstep,
                        phases=phases(raw, bstep.window_start, p, rate), timeline=seconds,
                        recovery=recovery(seconds, p.before_s, p.before_s + p.burst_s, 100.0, 0.001))
    doc = json.loads((folder / "run.json").read_text())
    doc["scenarios_run"] = ["overload", "burst"]
    doc["scenarios"] = ScenarioResults(overload=over, burst=burst).to_dict()
    (folder / "run.json").write_text(json.dumps(doc))


def test_the_run_page_shows_the_samples_figures_the_verdict_and_the_rates_source(tmp_path):
    folder = write_run(tmp_path)
    add_results(folder, served=50.0, collapse=True)
    html = write_run_report(folder).read_text()
    assert check_overload_page(html, folder) == 4
    assert check_burst_page(html, folder) == plan(PROFILES["quick"]).measure_s
    assert 'data-verdict="collapses under overload"' in html
    assert "rate from run 20260101T000000Z-x" in html
    record = load_run(folder)
    assert record is not None and record.scenarios is not None and record.scenarios.burst is not None
    rec = record.scenarios.burst.recovery
    assert f'data-recovered="{str(rec.recovered).lower()}"' in html
    rows = table_rows(html, "burst-phases")
    assert rows["burst"]["sent"] == record.scenarios.burst.phases[1].sent


def test_the_index_puts_every_framework_on_one_plot_and_names_the_collapse(tmp_path):
    results = tmp_path / "results"
    add_results(write_run(results, framework="rayserve"), served=50.0, collapse=True)
    add_results(write_run(results, framework="baseline"), served=200.0, collapse=False)
    index = write_reports(results)[-1].read_text()
    section = index[index.index('id="scenario-overload"'):]
    assert "ideal: goodput = offered" in section and section.count("<svg") >= 2
    at = section.index('id="overload-collapses"')
    called = section[at:section.index("</p>", at)]
    assert "Rayserve" in called and "Baseline" not in called and 'data-field="collapse_offered_rps"' in called
    assert 'data-framework="baseline" data-verdict="keeps up"' in section
    burst = index[index.index('id="burst-index"'):]
    assert 'data-framework="rayserve"' in burst and 'data-field="recovery_s"' in burst
