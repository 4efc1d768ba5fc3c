"""The index at a glance: Pareto front, curves in offered-load order, the three-sentence verdict."""

from __future__ import annotations

import re
from pathlib import Path

from servingbench.record.results import list_runs
from servingbench.report.comparison import compare
from servingbench.report.model import run_view
from servingbench.report.pages import pareto_points, write_reports
from servingbench.report.pareto import Point, dominates, front
from servingbench.report.plots import latency_throughput, load_curve
from servingbench.report.verdict import cost_interval, verdict
from tests.test_report_data import held_search, none_held, write_run


def pt(label: str, x: float, y: float) -> Point:
    return Point(label, label, x, y)


def test_dominance_needs_at_least_as_good_on_both_and_better_on_one():
    a, b, same = pt("a", 100, 20), pt("b", 90, 30), pt("c", 100, 20)
    assert dominates(a, b, ("max", "min")) and not dominates(b, a, ("max", "min"))
    assert not dominates(a, same, ("max", "min"))  # equal points dominate neither way
    assert dominates(b, a, ("min", "max"))  # the senses decide


def test_front_keeps_the_non_dominated_points_only():
    points = [pt("fast", 140, 55), pt("balanced", 100, 40), pt("lean", 95, 30),
              pt("slow", 60, 70), pt("worse", 99, 41), pt("twin", 100, 40)]
    on = front(points, ("max", "min"))
    assert [p.label for p in on] == ["lean", "balanced", "twin", "fast"]  # in order of x
    # both axes lower-is-better ($ against p99): the cheapest and the fastest and what lies between
    cost = [pt("a", 30, 0.5), pt("b", 40, 0.2), pt("c", 50, 0.1), pt("d", 45, 0.3)]
    assert [p.label for p in front(cost, ("min", "min"))] == ["a", "b", "c"]
    assert front([], ("max", "min")) == []


def step_open(rate: float, tput: float, p99: float, purpose: str = "slo_probe") -> dict:
    return {"rate_rps": rate, "throughput_rps": tput, "p99_ms": p99, "p50_ms": p99 / 3, "purpose": purpose}


def test_curve_is_in_offered_load_order_with_repeats_merged():
    # probes in the order a search runs them: high, low, between, then three confirmations at one rate
    ran = [step_open(20, 20, 9, "fixed_load"), step_open(160, 120, 900), step_open(40, 40, 12),
           step_open(80, 79, 60), step_open(80, 80, 50), step_open(80, 78, 70), step_open(120, 100, 400)]
    curve = load_curve(ran)
    assert [c.load for c in curve] == [20, 40, 80, 120, 160]
    at80 = curve[2]
    assert (at80.steps, at80.throughput_rps, at80.p99_ms) == (3, 79, 60)
    assert [c.label for c in curve][:2] == ["20/s", "40/s"]
    closed = load_curve([{"users": 4, "throughput_rps": 90, "p99_ms": 30, "p50_ms": 10},
                         {"users": 1, "throughput_rps": 40, "p99_ms": 12, "p50_ms": 8},
                         {"users": 2, "throughput_rps": float("nan"), "p99_ms": 20}])
    assert [(c.load, c.label) for c in closed] == [(1, "1"), (4, "4")]  # a NaN step is left off


def _polyline_x(svg: str) -> list[float]:
    """x coordinates of the first drawn line of an SVG plot (its path's vertices)."""
    path = re.search(r'<path d="M ([^"]+)"[^>]*style="fill: none; stroke: #1f77b4', svg)
    assert path, "no line drawn"
    return [float(v) for v in re.findall(r"(?:M|L)?\s*([\d.]+) [\d.]+", "M " + path.group(1))]


def test_the_drawn_line_never_goes_back_along_x():
    ran = [step_open(20, 20, 9), step_open(160, 150, 900), step_open(40, 40, 12), step_open(80, 79, 60)]
    xs = _polyline_x(latency_throughput({"x": ran}, 100.0, p50=False, styles={"x": ("#1f77b4", "-")}))
    assert len(xs) == 4 and xs == sorted(xs)


def _held(root: Path, name: str, achieved: list[float], rate: float, usd: float, p99: float,
          preset: str = "default") -> None:
    tput = sorted(achieved)[len(achieved) // 2]
    cost = {"instance": "c7i.large", "usd_per_hour": 0.0446, "usd_per_million": usd, "assumption": "1 vCPU",
            "price_source": "a page", "price_date": "2026-10-01"}
    write_run(root, name, preset, samples=False, tput=tput,
              summary_extra={"throughput_at_slo_spread": [min(achieved), max(achieved)], "cost": cost,
                             "fixed_load_rps": 20, "p50_ms_at_fixed_load": p99 / 3,
                             "p99_ms_at_fixed_load": p99},
              extra={"slo_search": held_search(achieved, rate)})


def _comparison(root: Path):
    return compare([run_view(r) for r in list_runs(root)])


def test_verdict_calls_fastest_and_cheapest_only_when_ahead_of_every_other(tmp_path):
    _held(tmp_path, "alpha", [140.0, 141.0, 142.0], 140.0, 0.09, 55.0)
    _held(tmp_path, "beta", [94.0, 95.0, 96.0], 95.0, 0.13, 30.0)
    _held(tmp_path, "gamma", [59.0, 60.0, 61.0], 60.0, 0.2, 70.0)
    fast, cheap, caveats = verdict(_comparison(tmp_path))
    assert fast.text.startswith("alpha (default) is fastest at the SLO (p99 ≤ 100 ms): 141.0 req/s")
    assert ("alpha (default)", "20260101T000000Z-alpha-default") in fast.parts  # the label links its run
    assert cheap.text.startswith("alpha (default) is cheapest: $0.09 per million requests")
    assert caveats.text.startswith("No caveat applies")


def test_verdict_never_calls_a_tie_or_an_unproven_lead_fastest(tmp_path):
    _held(tmp_path, "alpha", [99.0, 100.0, 101.0], 100.0, 0.12, 40.0)
    # tied with alpha; the same price over its throughput (0.12 x 100 / 95), so its cost ties too
    _held(tmp_path, "beta", [94.0, 95.0, 96.0], 95.0, 0.1263, 30.0)
    fast, cheap, _ = verdict(_comparison(tmp_path))
    assert "is tied with beta (default) (95.0 req/s): no configuration is called fastest" in fast.text
    assert "fastest at the SLO" not in fast.text
    assert "tied with beta (default) ($0.13): none is called cheapest" in cheap.text

    _held(tmp_path, "delta", [300.0], 300.0, 0.03, 20.0)  # one repeat: on top, but nothing proven
    fast, cheap, caveats = verdict(_comparison(tmp_path))
    assert fast.text.startswith("delta (default) holds 300.0 req/s")
    assert "is unproven, so none is called fastest" in fast.text
    assert "not proven lower than" in cheap.text
    assert "delta (default) had a single repeat" in caveats.text


def test_verdict_caveats_name_what_applies(tmp_path):
    write_run(tmp_path, "solo", samples=False, tput=50.0)  # an old run: one value, one repeat
    write_run(tmp_path, "stuck", samples=False, tput=0.0, extra={"slo_search": none_held()})
    write_run(tmp_path, "broken", status="failed", reason="died")
    fast, cheap, caveats = verdict(_comparison(tmp_path))
    assert fast.text == ("solo (default) holds 50.0 req/s within the SLO (p99 ≤ 100 ms), the only ranked "
                         "configuration that held a rate in every confirmation.")
    assert cheap.text.startswith("No ranked configuration has a cost figure")
    assert "every ranked run has a single repeat" not in caveats.text  # stuck has no interval at all
    assert "solo (default) had a single repeat" in caveats.text
    assert "stuck (default) held no rate within the SLO" in caveats.text
    assert "1 configuration failed on the newest attempt" in caveats.text


def test_cost_interval_turns_the_throughput_interval_into_dollars(tmp_path):
    _held(tmp_path, "alpha", [99.0, 100.0, 101.0], 100.0, 0.12, 40.0)
    (v,) = [r.run for r in _comparison(tmp_path).rows if r.run]
    iv = cost_interval(v)
    assert iv.median == 0.12 and iv.repeats == 3
    assert iv.low == 0.12 * 100.0 / v.interval.high and iv.high == 0.12 * 100.0 / v.interval.low


def test_index_opens_with_the_verdict_and_draws_pareto_charts_linked_to_runs(tmp_path):
    _held(tmp_path, "alpha", [140.0, 141.0, 142.0], 140.0, 0.09, 55.0, "tuned")
    _held(tmp_path, "alpha", [99.0, 100.0, 101.0], 100.0, 0.12, 40.0)
    _held(tmp_path, "gamma", [59.0, 60.0, 61.0], 60.0, 0.2, 70.0)
    speed, cost = pareto_points(_comparison(tmp_path))
    assert {p.label for p in front(speed, ("max", "min"))} == {"alpha (tuned)", "alpha (default)"}
    assert {p.label for p in front(cost, ("min", "min"))} == {"alpha (tuned)", "alpha (default)"}
    html = write_reports(tmp_path, tmp_path / "reports")[-1].read_text()
    top = html.index('id="verdict"')
    assert top < html.index('id="ranking"')
    assert html.count("data-sentence=") == 3
    for key in ("pareto-speed", "pareto-cost"):
        assert f'id="plot-{key}"' in html
    # the points are SVG links to their run pages, and each caption links the runs it draws
    assert 'xlink:href="runs/20260101T000000Z-gamma-default.html"' in html
    assert 'data-figure-runs="pareto_speed"' in html
