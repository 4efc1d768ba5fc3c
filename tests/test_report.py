"""Report building: which runs are compared, ranking, failed runs, pages, links, summary.md, edge cases."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from servingbench.record.results import list_runs, load_run
from servingbench.report.comparison import compare
from servingbench.report.markdown import summary_markdown
from servingbench.report.model import run_view
from servingbench.report.pages import write_reports, write_run_report
from tests.test_report_data import held_search, none_held, searched, write_run


def views(root: Path):
    return [run_view(r) for r in list_runs(root)]


class Links(HTMLParser):
    """hrefs and src attributes of a page, plus any element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: dict[str, dict] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])
        if a.get("id"):
            self.ids[a["id"]] = a


def parse(page: Path) -> Links:
    p = Links()
    p.feed(page.read_text())
    return p


def local_links_resolve(page: Path) -> list[str]:
    """Relative links of a page that point nowhere (anchors and absolute URLs are skipped)."""
    broken = []
    for href in parse(page).links:
        if href.startswith("#") or re.match(r"^[a-z]+:", href):
            continue
        target = (page.parent / href.split("#")[0]).resolve()
        if not target.exists():
            broken.append(href)
    return broken


def test_latest_complete_run_per_framework_and_preset(tmp_path):
    write_run(tmp_path, "baseline", "default", "2026-01-01T00:00:00+00:00", tput=40.0)
    write_run(tmp_path, "baseline", "default", "2026-01-02T00:00:00+00:00", tput=45.0)
    write_run(tmp_path, "baseline", "default", "2026-01-03T00:00:00+00:00", status="failed", reason="died")
    write_run(tmp_path, "baseline", "tuned", "2026-01-01T00:00:00+00:00", tput=60.0)
    c = compare(views(tmp_path))
    chosen = {(r.framework, r.preset): r.run.run_id for r in c.rows if r.run}
    assert chosen == {("baseline", "default"): "20260102T000000Z-baseline-default",
                      ("baseline", "tuned"): "20260101T000000Z-baseline-tuned"}
    default_row = next(r for r in c.rows if r.preset == "default")
    assert default_row.failed_after and default_row.latest_attempt.reason == "died"
    assert [f.run_id for f in c.failed] == ["20260103T000000Z-baseline-default"]
    assert len(c.all_runs) == 4


def test_ranking_by_throughput_then_p99_and_parity_failures_unranked(tmp_path):
    write_run(tmp_path, "alpha", "default", tput=30.0)
    write_run(tmp_path, "beta", "default", tput=80.0)
    write_run(tmp_path, "gamma", "default", tput=80.0, p99_1=20.0)  # same throughput, lower p99
    write_run(tmp_path, "delta", "default", tput=500.0, parity=False)
    write_run(tmp_path, "omega", "default", status="interrupted", reason="Ctrl-C")
    rows = compare(views(tmp_path)).rows
    assert [(r.framework, r.rank) for r in rows] == [
        ("gamma", 1), ("beta", 2), ("alpha", 3), ("delta", None), ("omega", None)]
    assert rows[-1].run is None and rows[-1].latest_attempt.status == "interrupted"


def test_missing_and_newer_fields(tmp_path):
    old = write_run(tmp_path, "old", samples=False, schema=1,
                    extra={"summary": {}, "steps": [], "cpus": None})
    v = run_view(load_run(old))
    assert v.throughput_at_slo_rps is None and v.fixed_load.p99_ms is None and v.usd_per_million is None
    new = write_run(tmp_path, "new", summary_extra={
        "throughput_at_slo_rps": 72.5, "throughput_at_slo_spread": [70.0, 75.0],
        "slo_source": "open-loop search",
        "fixed_load_rps": 20, "p50_ms_at_fixed_load": 11.0, "p99_ms_at_fixed_load": 19.5,
        "cost": {"instance": "c7i.large", "usd_per_hour": 0.0893, "usd_per_million": 0.34,
                 "assumption": "1 vCPU", "price_source": "AWS on-demand", "price_date": "2026-01-01"},
        "overhead": {"latency_ms_at_1_user": 1.5, "throughput_fraction": 0.8},
    }, extra={"slo_search": searched([70.0, 72.5, 75.0]), "generator_ceiling": {"rps": 2500.0, "cpus": [1]}})
    v = run_view(load_run(new))
    assert v.throughput_at_slo_rps == 72.5 and v.throughput_spread == (70.0, 75.0)
    assert v.slo_source == "open-loop search" and v.repeats == 3
    fixed = v.fixed_load
    assert (fixed.label, fixed.p50_ms, fixed.p99_ms) == ("20 req/s open loop", 11.0, 19.5)
    assert v.usd_per_million == 0.34 and v.overhead_latency_ms == 1.5
    assert v.overhead_throughput_fraction == 0.8
    written = write_reports(tmp_path, tmp_path.parent / "reports")
    index = (tmp_path.parent / "reports" / "index.html").read_text()
    assert "AWS on-demand" in index and "2026-01-01" in index and "2,500 req/s" in index
    assert 'data-metric="usd_per_million" data-value="0.34">$0.34<' in index
    assert "[70.0–75.0]" in index and "80%" in index
    assert all(p.exists() for p in written)


def test_overhead_falls_back_to_reference(tmp_path):
    folder = write_run(tmp_path)
    v = run_view(load_run(folder))
    assert v.overhead_latency_ms == 2.0  # p50 at 1 user (10 ms) - in-process p50 (8 ms)
    assert v.overhead_throughput_fraction is None  # never invented


def test_reproduce_command(tmp_path):
    overrides = {"workers": 2, "threads_per_worker": None}
    folder = write_run(tmp_path, "rayserve", "tuned", extra={"overrides": overrides, "loadgen_workers": 1})
    v = run_view(load_run(folder))
    assert v.reproduce_command == ("make bench FRAMEWORK=rayserve PRESET=tuned PROFILE=quick SLO=100 "
                                   "SERVER_CPUS=0 LOADGEN_CPUS=1 WORKERS=2")
    remote = write_run(tmp_path, "remote", extra={"target": "http://10.0.0.5:8000", "loadgen_workers": 2})
    assert run_view(load_run(remote)).reproduce_command.endswith(
        "TARGET=http://10.0.0.5:8000 LOADGEN_WORKERS=2")


def test_empty_results_page_says_how_to_produce_runs(tmp_path):
    out = tmp_path / "reports"
    written = write_reports(tmp_path / "results", out)  # folder does not even exist
    assert written[-1] == out / "index.html"
    page = parse(out / "index.html")
    assert "empty" in page.ids
    assert "make bench FRAMEWORK=baseline PROFILE=quick" in (out / "index.html").read_text()
    doc = json.loads((out / "regressions.json").read_text())
    assert doc["regressions"] == [] and doc["checked"] == []
    assert "No runs" in (out / "summary.md").read_text()


def test_single_run_and_partial_runs_ignored(tmp_path):
    results = tmp_path / "results"
    folder = write_run(results, tput=42.0)
    (results / ".partial-20260105T000000Z-baseline-default").mkdir()
    (results / ".partial-20260105T000000Z-baseline-default" / "run.json").write_text("{}")
    out = tmp_path / "reports"
    write_reports(results, out)
    index = out / "index.html"
    html = index.read_text()
    assert f'data-run-id="{folder.name}"' in html and ".partial-" not in html
    assert 'data-metric="throughput_at_slo_rps" data-value="42.0">42.0' in html
    run_page = out / "runs" / f"{folder.name}.html"
    assert run_page.exists() and (out / "runs" / folder.name / "run.json").exists()
    assert (folder / "report.html").exists()
    assert local_links_resolve(index) == []
    assert local_links_resolve(run_page) == []
    assert local_links_resolve(folder / "report.html") == []
    assert "server/server.log" in parse(run_page).links[-1] or any(
        link.endswith("server/server.log") for link in parse(run_page).links)


def test_reports_folder_is_self_contained(tmp_path):
    """Published alone: no link leaves reports/, no network reference, no script."""
    results = tmp_path / "results"
    write_run(results, "alpha", "default", tput=30.0)
    write_run(results, "alpha", "tuned", tput=35.0)
    write_run(results, "beta", "default", status="failed", reason="LaunchError: port busy")
    out = tmp_path / "site" / "reports"
    write_reports(results, out)
    for page in [out / "index.html", *sorted((out / "runs").glob("*.html"))]:
        html = page.read_text()
        assert "<script" not in html and "@import" not in html and not re.search(r"url\((?!#)", html)
        assert not re.search(r'(?:href|src)="(?:https?:)?//', html), page
        assert local_links_resolve(page) == [], page
        for href in parse(page).links:
            if not href.startswith("#"):
                assert (page.parent / href).resolve().is_relative_to(out.resolve()), href
    index = (out / "index.html").read_text()
    assert "LaunchError: port busy" in index  # failed runs are listed with their reason
    assert 'id="plot-latency-throughput"' in index and 'id="plot-cdf"' in index


def test_history_trends_and_regression_on_index(tmp_path):
    results = tmp_path / "results"
    for day, tput in enumerate([50.0, 51.0, 49.0, 50.0, 30.0], 1):
        write_run(results, started=f"2026-01-{day:02d}T00:00:00+00:00", tput=tput, samples=False)
    out = tmp_path / "reports"
    write_reports(results, out)
    html = (out / "index.html").read_text()
    assert 'id="trend-throughput_at_slo_rps"' in html
    row = ('class="regression" data-run-id="20260105T000000Z-baseline-default" '
           'data-metric="throughput_at_slo_rps"')
    assert row in html
    assert json.loads((out / "regressions.json").read_text())["regressions"][0]["value"] == 30.0
    md = (out / "summary.md").read_text()
    assert "### Regressions (1)" in md and "throughput at the SLO 30.00 req/s vs median 50.00" in md


def test_a_change_the_machine_explains_is_shown_apart(tmp_path):
    """The in-process reference fell 40% with the throughput: no regression, a "machine changed" row."""
    results = tmp_path / "results"
    for day, (tput, ref) in enumerate([(50.0, 140.0), (51.0, 139.0), (49.0, 141.0), (50.0, 140.0),
                                       (30.0, 84.0)], 1):
        write_run(results, started=f"2026-01-{day:02d}T00:00:00+00:00", tput=tput, samples=False,
                  reference_rps=ref)
    out = tmp_path / "reports"
    write_reports(results, out)
    html = (out / "index.html").read_text()
    assert 'class="regression" data-run-id' not in html
    assert "data-machine-changed" in html and "machine changed (reference -40%)" in html
    assert json.loads((out / "regressions.json").read_text())["regressions"] == []
    md = (out / "summary.md").read_text()
    assert "### Regressions (0)" in md and "the machine's speed changed (1)" in md
    assert "moved -40.0%" in md


def test_summary_markdown_table(tmp_path):
    write_run(tmp_path, "alpha", tput=30.0)
    write_run(tmp_path, "beta", tput=80.0)
    write_run(tmp_path, "gamma", status="failed", reason="ParityFailed: 3 label | mismatches")
    md = summary_markdown(compare(views(tmp_path)), [], "2026-01-01")
    lines = md.splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| # | framework | preset | req/s at SLO")
    assert table[1].startswith("| 1 | beta | default | 80.0 |")
    assert table[2].startswith("| 2 | alpha | default | 30.0 |")
    assert "no complete run: failed" in table[3]
    assert "3 label \\| mismatches" in md  # pipes escaped: the table stays a table
    assert "### Failed or interrupted runs (1)" in md and "### Regressions (0)" in md
    assert all(line.count("|") - line.count("\\|") == table[0].count("|") for line in table)


def test_write_run_report_in_run_folder(tmp_path):
    folder = write_run(tmp_path / "results", status="failed", reason="LaunchError: no port")
    page = write_run_report(folder)
    html = page.read_text()
    assert page == folder / "report.html" and "LaunchError: no port" in html
    assert 'href="run.json"' in html and 'href="../../reports/index.html"' in html


def test_spread_needs_repeats(tmp_path):
    folder = write_run(tmp_path, samples=False, summary_extra={"throughput_at_slo_spread": [50.0, 50.0]},
                       extra={"slo_search": searched([50.0])})
    assert run_view(load_run(folder)).throughput_spread is None


def test_rebuild_keeps_fresh_pages_and_prunes_removed_runs(tmp_path):
    results, out = tmp_path / "results", tmp_path / "reports"
    keep = write_run(results, "alpha", samples=False)
    gone = write_run(results, "beta", samples=False)
    write_reports(results, out)
    page = out / "runs" / f"{keep.name}.html"
    before = page.stat().st_mtime_ns
    shutil.rmtree(gone)
    write_reports(results, out)
    assert page.stat().st_mtime_ns == before  # unchanged run: page kept, not re-rendered
    assert not (out / "runs" / f"{gone.name}.html").exists() and not (out / "runs" / gone.name).exists()
    assert gone.name not in (out / "index.html").read_text()


def _held_run(root, name, achieved, rate, failing=None, extra_transport="rest", **kw):
    tput = sorted(achieved)[len(achieved) // 2]
    spread = [min(achieved), max(achieved)]
    return write_run(root, name, samples=False, tput=tput, summary_extra={"throughput_at_slo_spread": spread},
                     extra={"slo_search": held_search(achieved, rate, failing), "transport": extra_transport},
                     **kw)


def test_ahead_tied_and_unproven_come_from_the_runs_intervals(tmp_path):
    _held_run(tmp_path, "alpha", [99.0, 100.0, 101.0], 100.0)  # [99, 106]
    _held_run(tmp_path, "beta", [94.0, 95.0, 96.0], 95.0)      # [94, 101]: overlaps alpha within 25%
    _held_run(tmp_path, "gamma", [59.0, 60.0, 61.0], 60.0)     # [59, 64]: wholly below beta, 3 vs 3
    _held_run(tmp_path, "delta", [10.0], 10.0)                 # one repeat: nothing proven
    write_run(tmp_path, "epsilon", samples=False, tput=0.0, p99_1=5.0, extra={"slo_search": none_held()})
    c = compare(views(tmp_path))
    rows = [r for r in c.rows if r.rank]
    assert [r.framework for r in rows] == ["alpha", "beta", "gamma", "delta", "epsilon"]
    nxt = [r.versus_next and (r.versus_next.verdict, r.versus_next.text) for r in rows]
    assert nxt == [("tied", "tied with #2"), ("ahead", "ahead of #3"), ("unproven", "unproven vs #4"),
                   ("no rate held", "above #5 (it held no rate)"), None]
    lead = [r.versus_leader and (r.versus_leader.verdict, r.versus_leader.text) for r in rows]
    assert lead == [None, None, ("behind", "behind #1"), ("unproven", "unproven vs #1"),
                    ("no rate held", "below #1 (no rate held)")]
    assert "lies wholly above" in rows[1].versus_next.why and "at most 10%" in rows[1].versus_next.why
    assert "single repeat" in rows[2].versus_next.why or "more repeats" in rows[2].versus_next.why
    assert rows[4].run.interval is None and not rows[4].run.held
    written = write_reports(tmp_path, tmp_path / "reports")
    index = written[-1].read_text()
    for verdict in ("tied", "ahead", "unproven", "no rate held"):
        assert f'data-versus-next="{verdict}"' in index, verdict
    assert 'data-versus-leader="behind"' in index and 'id="verdicts-why"' in index
    assert "data-no-rate-held" in index and "interval [99, 106" in index
    md = (tmp_path / "reports" / "summary.md").read_text()
    assert "| 1 | alpha | default | 100.0 [99.0–101.0] | tied with #2 |" in md
    assert "| 3 | gamma | default | 60.0 [59.0–61.0] | unproven vs #4; behind #1 |" in md
    assert "- #2 ahead of #3: beta (default) is ahead of gamma (default)" in md
    assert "no rate held: ranked below every run that held one" in md


def test_a_run_with_no_rate_held_ranks_below_every_run_with_one(tmp_path):
    _held_run(tmp_path, "slow", [5.0, 5.1, 4.9], 5.0)
    # a higher figure in the summary cannot lift a run whose confirmations held no rate
    write_run(tmp_path, "stalled", samples=False, tput=80.0, extra={"slo_search": none_held(80.0)})
    rows = [r for r in compare(views(tmp_path)).rows if r.rank]
    assert [(r.framework, r.run.held) for r in rows] == [("slow", True), ("stalled", False)]


def test_old_runs_without_a_search_are_ranked_but_prove_nothing(tmp_path):
    write_run(tmp_path, "alpha", samples=False, tput=90.0)  # no slo_search: the headline alone
    write_run(tmp_path, "beta", samples=False, tput=10.0)
    rows = [r for r in compare(views(tmp_path)).rows if r.rank]
    assert rows[0].run.interval.repeats == 1
    assert rows[0].versus_next.verdict == "unproven"  # 9x apart, yet one value each proves no difference


def test_a_headline_whose_repeats_missed_the_slo_says_so(tmp_path):
    for name, tput, spread, passed in (("alpha", 18.7, [16.2, 18.8], 2), ("beta", 50.0, [49.0, 51.0], 3)):
        write_run(tmp_path, name, samples=False, tput=tput,
                  summary_extra={"throughput_at_slo_spread": spread},
                  extra={"slo_search": searched([spread[0], tput, spread[1]], passed=passed)})
    index = write_reports(tmp_path, tmp_path / "reports")[-1].read_text()
    assert index.count("data-repeats-missed") == 1 and "SLO met in 2 of 3 repeats" in index


def _cost(price_date: str, **over) -> dict:
    cost = {"instance": "c7i.large", "usd_per_hour": 0.0446, "usd_per_million": 0.25,
            "assumption": "1 vCPU and 0.15 GiB priced as 50% of one c7i.large", "price_source": "a page",
            "price_date": price_date}
    return {**cost, **over}


def test_a_price_older_than_12_months_is_flagged_on_the_run_page_and_the_index(tmp_path):
    root = tmp_path / "results"
    stale = write_run(root, "baseline", started="2026-01-01T00:00:00+00:00",
                      summary_extra={"cost": _cost("2024-01")})
    fresh = write_run(root, "rayserve", started="2026-01-01T00:00:00+00:00",
                      summary_extra={"cost": _cost("2025-06-01")})
    assert run_view(load_run(stale)).price_age == "price dated 2024-01, older than 12 months"
    assert run_view(load_run(fresh)).price_age == ""
    page = write_run_report(stale).read_text()
    assert 'id="price-stale">price dated 2024-01, older than 12 months<' in page
    assert 'id="price-unverified"' in page  # a row without a source page (older runs' rows have none)
    assert "price-stale" not in write_run_report(fresh).read_text()
    write_reports(root, tmp_path / "reports")
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "baseline: price dated 2024-01, older than 12 months" in index
    assert "rayserve: price dated" not in index


def test_no_fitting_instance_is_said_on_the_page_with_no_figure(tmp_path):
    reason = "no instance in the table fits 1 vCPU and 40.00 GiB peak memory (family c7i)"
    folder = write_run(tmp_path / "results", summary_extra={"cost": _cost(
        "", instance="", usd_per_hour=float("nan"), usd_per_million=float("nan"), assumption=reason,
        price_source="", no_fit=reason, family="c7i")})
    v = run_view(load_run(folder))
    assert v.usd_per_million is None and v.price_age == "" and not v.price_unverified
    page = write_run_report(folder).read_text()
    assert f'id="cost-no-fit">{reason}<' in page and "usd-per-million" not in page


def test_run_page_shows_listeners_beyond_loopback_in_red(tmp_path):
    exposed = write_run(tmp_path / "results", extra={"exposed_listeners": ["0.0.0.0:41234"]})
    page = parse(write_run_report(exposed))
    assert page.ids["exposed"].get("class") == "bad"
    assert "0.0.0.0:41234" in write_run_report(exposed).read_text()
    clean = write_run(tmp_path / "results", "omega")
    assert "exposed" not in parse(write_run_report(clean)).ids


def test_runs_under_another_setting_are_not_ranked_with_the_others(tmp_path):
    root = tmp_path / "results"
    write_run(root, "alpha", tput=50.0, samples=False)
    write_run(root, "beta", tput=40.0, samples=False)
    other = write_run(root, "gamma", tput=90.0, samples=False,
                      extra={"cpus": {"server": [0, 1], "loadgen": [2]}})
    c = compare([run_view(r) for r in list_runs(root)])
    ranks = {row.framework: row.rank for row in c.rows}
    assert ranks == {"alpha": 1, "beta": 2, "gamma": None}
    assert [row.framework for row in c.rows] == ["alpha", "beta", "gamma"]  # ranked rows first
    gamma = next(row for row in c.rows if row.framework == "gamma")
    assert gamma.other_setting and "server CPUs 0,1" in gamma.other_setting
    assert run_view(load_run(other)).setting != c.rows[0].run.setting
    write_reports(root, tmp_path / "reports")
    assert "data-other-setting" in (tmp_path / "reports" / "index.html").read_text()


def test_history_series_do_not_mix_machines_or_cpu_sets(tmp_path):
    from servingbench.report.history import build_series

    root = tmp_path / "results"
    write_run(root, "alpha", started="2026-01-01T00:00:00+00:00", samples=False)
    write_run(root, "alpha", started="2026-01-02T00:00:00+00:00", samples=False)
    write_run(root, "alpha", started="2026-01-03T00:00:00+00:00", samples=False,
              extra={"cpus": {"server": [0, 1], "loadgen": [2]}})
    series = build_series([run_view(r) for r in list_runs(root)])
    assert sorted(len(v) for v in series.values()) == [1, 2]


def test_run_page_says_the_resources_are_from_the_measured_window(tmp_path):
    windowed = write_run(tmp_path / "results")
    assert run_view(load_run(windowed)).resources_covers == "window"
    page = write_run_report(windowed).read_text()
    assert 'data-resources-covers="window"' in page and "cover the measured window only" in page
    assert "of which the harness's resource monitor 1.0%" in page  # its share of the generator's CPU
    older = write_run(tmp_path / "results", "omega", schema=1)  # figures over each whole Locust run
    assert run_view(load_run(older)).resources_covers == "run"
    assert 'data-resources-covers="run"' in write_run_report(older).read_text()


def test_a_fixed_load_p99_on_too_few_samples_is_shown_as_such_not_as_a_number(tmp_path):
    few = {"fixed_load_rps": 20.0, "p50_ms_at_fixed_load": 10.0, "p99_ms_at_fixed_load": 43.21,
           "p99_at_fixed_load_enough": False}
    write_run(tmp_path, "alpha", samples=False, tput=50.0, summary_extra=few)
    write_run(tmp_path, "beta", samples=False, tput=50.0, summary_extra={**few, "p99_ms_at_fixed_load": 1.0})
    rows = [r for r in compare(views(tmp_path)).rows if r.rank]
    assert [r.framework for r in rows] == ["alpha", "beta"]  # a withheld p99 breaks no tie
    index = write_reports(tmp_path, tmp_path / "reports")[-1].read_text()
    assert index.count('data-metric="p99_ms_at_fixed_load" data-too-few') == 2
    assert index.count('<span class="warn">too few samples</span><span class="sub">no bounded interval') == 2
    assert "43.21" not in index and 'data-value="43.21' not in index
    md = (tmp_path / "reports" / "summary.md").read_text()
    assert "10.00 / too few samples (20 req/s open loop)" in md and "43.21" not in md


def test_rest_and_grpc_runs_meet_only_in_the_protocol_table(tmp_path):
    """A gRPC run is never ranked with REST runs nor tracked in their series; the REST vs gRPC table
    pairs it with the same framework's REST run and calls the difference from the two intervals."""
    day1, day2 = "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"
    _held_run(tmp_path, "mlserver", [59.0, 60.0, 61.0], 60.0, failing=70.0, started=day1)
    _held_run(tmp_path, "mlserver", [99.0, 100.0, 101.0], 100.0, failing=110.0,
              started=day2, extra_transport="grpc")
    _held_run(tmp_path, "triton", [50.0, 51.0, 52.0], 51.0, started=day1)
    all_views = views(tmp_path)
    assert {v.label for v in all_views} == {"mlserver (default)", "mlserver (default, gRPC)",
                                            "triton (default)"}
    from servingbench.report import history
    from servingbench.report.protocols import protocol_rows

    assert len({history.series_key(v) for v in all_views if v.framework == "mlserver"}) == 2
    (row,) = protocol_rows(all_views)
    assert (row.framework, row.rest.throughput_rps, row.grpc.throughput_rps) == ("mlserver", 60.0, 100.0)
    assert row.verdict == "gRPC ahead" and row.grpc.bracket == (100.0, 110.0)
    index = write_reports(tmp_path, tmp_path / "reports")[-1].read_text()
    ranking = index.split('id="ranking-section"')[1].split('id="protocols"')[0]
    assert 'data-framework="mlserver"' in ranking and "20260102T000000Z-mlserver-default" not in ranking
    table = index.split('id="protocols-table"')[1].split("</table>")[0]
    assert 'data-protocol="grpc"' in table and 'data-verdict="gRPC ahead"' in table
    assert "bracket 100.0–110.0 req/s" in table
