"""A headline that holds: the SLO rate is one at which every confirmation met the SLO.

Synthetic servers stand in for real ones here (the search and the confirmations are pure logic given
probe outcomes): one that fails 1 of 3 confirmations at the search's best rate, one that never holds, a
bimodal one whose bad mode appears at random, and the record's reading of what they established.
"""

from __future__ import annotations

import random

from servingbench.measure.slo_search import Confirmation, Probe, SearchResult, confirm, search
from servingbench.record.run_record import SloSearch


def probe(rate: float, seed: int, passed: bool) -> Probe:
    return Probe(rate, 50.0 if passed else 400.0, 0.0, rate * 0.99, passed, seed)


def seeds() -> object:
    rng = random.Random(7)
    return lambda _rate: rng.randrange(2**31)


def test_one_failed_confirmation_sends_the_headline_below_it():
    # passes every search probe up to 100; at 100 the second confirmation fails, at 80 all pass
    outcomes = {100.0: [True, False, True]}
    calls: list[tuple[float, int]] = []

    def measure(rate: float, seed: int) -> Probe:
        calls.append((rate, seed))
        queue = outcomes.get(rate)
        return probe(rate, seed, queue.pop(0) if queue else rate <= 100.0)

    result = SearchResult(100.0, [probe(80.0, 1, True), probe(100.0, 2, True), probe(120.0, 3, False)],
                          120.0, 1 / 6)
    got = confirm(measure, result, repeats=3, max_rounds=3, seed_of=seeds())
    assert got.held_rate_rps == 80.0 and got.lowest_failing_rps == 100.0
    assert [c.rate_rps for c in got.confirmations] == [100.0, 100.0, 80.0, 80.0, 80.0]
    assert len({seed for _, seed in calls}) == len(calls), "every confirmation draws a fresh seed"
    record = SloSearch.of(result, got, schedule_seed=7)
    assert record.slo_rate_rps == 80.0 and record.bracket_rps == (80.0, 100.0)
    assert record.repeats == 3 and record.repeats_passed == 3 and record.throughput_rps == 80.0 * 0.99
    assert len(record.failed_confirmations) == 1
    assert SloSearch.from_dict(record.to_dict()) == record


def test_a_server_that_never_holds_has_no_headline():
    result = SearchResult(50.0, [probe(50.0, 1, True), probe(100.0, 2, False)], 100.0, 0.5)
    got = confirm(lambda rate, seed: probe(rate, seed, False), result, repeats=3, max_rounds=3,
                  seed_of=seeds())
    assert got.held_rate_rps == 0.0 and len(got.confirmations) == 3  # one failure ends each round
    record = SloSearch.of(result, got)
    assert not record.held and record.throughput_rps == 0.0 and record.repeats == 0
    assert record.lowest_failing_rps is not None and record.lowest_failing_rps < 50.0


def test_confirmations_are_bounded_in_rounds():
    result = SearchResult(64.0, [probe(64.0, 1, True)], None, float("nan"))
    calls: list[float] = []

    def measure(rate: float, seed: int) -> Probe:
        calls.append(rate)
        return probe(rate, seed, False)

    confirm(measure, result, repeats=5, max_rounds=2, seed_of=seeds())
    assert calls == [64.0, 51.2]


def test_a_bimodal_server_is_not_headlined_at_a_rate_it_fails_a_third_of_the_time():
    rng = random.Random(3)

    def measure(rate: float, seed: int) -> Probe:  # above 60 req/s, one probe in three hits a slow mode
        return probe(rate, seed, rate <= 60.0 or rng.random() > 1 / 3)

    held, best = [], []
    for _ in range(200):
        result = search(measure, start_rps=90.0, max_probes=6, seed_of=seeds())
        got = confirm(measure, result, repeats=3, max_rounds=3, seed_of=seeds())
        assert all(c.passed for c in got.confirmations if c.rate_rps == got.held_rate_rps)
        held.append(got.held_rate_rps)
        best.append(result.best_rate_rps)
    old_rule = sum(1 for b in best if b > 60.0) / len(best)  # the search's best rate was the headline
    new_rule = sum(1 for h in held if h > 60.0) / len(held)
    # a rate in the slow mode's range holds only if 3 of 3 confirmations dodge it ((2/3)^3 = 0.30 a round)
    assert old_rule > 0.9 and new_rule < old_rule - 0.25, (old_rule, new_rule)


def test_a_run_without_repeats_headlines_its_own_passing_probe():
    own = [probe(40.0, 9, True)]
    record = SloSearch.of(SearchResult(40.0, own, 50.0, 0.2), Confirmation(40.0, own, 50.0))
    assert record.throughput_rps == 40.0 * 0.99 and record.bracket_rps == (40.0, 50.0)


def test_older_runs_keep_their_reading():
    old = SloSearch(60.0, 80.0, 0.25, [], [probe(60.0, 1, True), probe(60.0, 2, False), probe(60.0, 3, True)])
    assert old.held_rate_rps is None and old.slo_rate_rps == 60.0
    assert old.repeats == 3 and old.repeats_passed == 2 and old.throughput_rps == 60.0 * 0.99


def test_the_run_page_states_the_held_rate_the_bracket_and_the_failed_confirmation(tmp_path):
    from servingbench.report.pages import write_run_report
    from tests.test_report_data import write_run

    result = SearchResult(100.0, [probe(80.0, 1, True), probe(100.0, 2, True)], 120.0, 1 / 6)
    got = Confirmation(80.0, [probe(100.0, 3, True), probe(100.0, 4, False), probe(80.0, 5, True),
                              probe(80.0, 6, True), probe(80.0, 7, True)], 100.0)
    held = SloSearch.of(result, got, schedule_seed=12345)
    folder = write_run(tmp_path, samples=False, extra={"slo_search": held.to_dict()})
    html = write_run_report(folder).read_text()
    assert 'id="held-rate" data-value="80.0"' in html and "[80.0, 100" in html
    assert "Failed confirmations: 100" in html and "seed 12345" in html
    none = SloSearch.of(result, Confirmation(0.0, [probe(100.0, 3, False)], 100.0))
    folder = write_run(tmp_path / "none", samples=False, extra={"slo_search": none.to_dict()})
    html = write_run_report(folder).read_text()
    assert 'id="no-rate-held"' in html and "data-none-held-why" in html
    assert "(100 req/s failed; 100, 80 req/s passed a probe" in html


def test_a_fixed_load_p99_on_too_few_samples_is_flagged_and_not_tracked(tmp_path):
    from servingbench.record.results import load_run
    from servingbench.report.model import run_view
    from servingbench.report.pages import write_run_report
    from tests.test_report_data import write_run

    folder = write_run(tmp_path, samples=False, summary_extra={
        "fixed_load_rps": 20.0, "p50_ms_at_fixed_load": 10.0, "p99_ms_at_fixed_load": 40.0,
        "p99_at_fixed_load_enough": False})
    view = run_view(load_run(folder))
    assert view.fixed_load.p99_ms == 40.0 and view.metric("p99_ms_at_fixed_load") is None
    assert view.fixed_load.p99_shown_ms is None and view.metric_withheld("p99_ms_at_fixed_load")
    page = write_run_report(folder).read_text()
    assert '<span id="p99-fixed" class="warn" data-too-few>too few samples</span>' in page
    assert "40.00" not in page.split('id="headline"')[1].split("</div></div>")[2]  # the card shows no number
    enough = write_run(tmp_path / "b", samples=False, summary_extra={
        "fixed_load_rps": 20.0, "p50_ms_at_fixed_load": 10.0, "p99_ms_at_fixed_load": 40.0,
        "p99_at_fixed_load_enough": True})
    assert run_view(load_run(enough)).metric("p99_ms_at_fixed_load") == 40.0


# --- the same rules on sample streams: verdicts from synthetic latencies, not given outcomes -------------
def stream_probe(rate: float, seed: int, slow_fraction: float) -> Probe:
    """A quick-profile probe judged by the early-stopping rule on a synthetic Poisson stream."""
    import numpy as np

    from servingbench.measure.probe_verdict import ProbeRule, judge
    from tests.synthetic_server import poisson_rows

    rows = poisson_rows(rate, 8.0, np.random.default_rng(seed), slow_fraction=slow_fraction)
    verdict = judge(rows, ProbeRule(100.0, 0.001, 0.95, 2))
    lat = np.sort(rows[:, 1])
    return Probe(rate, float(lat[int(0.99 * len(lat))]), 0.0, rate, verdict.passed, seed, verdict=verdict)


def test_a_server_failing_one_of_three_confirmations_on_its_samples_sends_the_headline_below_it():
    confirmations = {100.0: iter([0.0, 0.03, 0.0])}  # the second confirmation at 100 hits a slow mode (3%)

    def measure(rate: float, seed: int) -> Probe:
        slow = next(confirmations[rate]) if rate in confirmations else 0.0
        return stream_probe(rate, seed, slow)

    result = SearchResult(100.0, [stream_probe(80.0, 1, 0.0), stream_probe(100.0, 2, 0.0),
                                  stream_probe(120.0, 3, 0.2)], 120.0, 1 / 6)
    assert [p.outcome for p in result.probes] == ["pass", "pass", "fail"]
    got = confirm(measure, result, repeats=3, max_rounds=3, seed_of=seeds())
    assert [c.outcome for c in got.confirmations] == ["pass", "fail", "pass", "pass", "pass"]
    assert got.held_rate_rps == 80.0 and got.lowest_failing_rps == 100.0


def test_a_server_that_comes_up_worse_on_a_fresh_start_is_headlined_below_its_first_start(tmp_path):
    """Between-start variance: the fresh-start confirmation fails at the first start's rate."""
    from servingbench import protocol
    from servingbench.profiles import PROFILES
    from tests.synthetic_server import SyntheticServer, synthetic_context

    server = SyntheticServer(capacity_rps=100.0, fresh_capacity_rps=70.0)
    ctx = synthetic_context(tmp_path, server)

    def restart():
        server.restart()
        return ctx

    search = protocol.run_slo_search(ctx, PROFILES["standard"], 60.0, [], lambda _m: None, schedule_seed=1,
                                     fresh=protocol.FreshStart(restart))
    first_round = [c for c in search.confirmations if c.rate_rps == search.best_rate_rps]
    assert search.best_rate_rps > 70.0 and [c.passed for c in first_round] == [True, True, False]
    assert first_round[-1].fresh_start
    assert 0 < search.held_rate_rps <= 70.0 and search.lowest_failing_rps <= search.best_rate_rps
    held = search.headline_confirmations
    assert all(c.passed for c in held) and held[-1].fresh_start


def test_the_run_page_shows_each_verdict_undecided_as_undecided_and_the_fresh_start(tmp_path):
    from servingbench.measure.probe_verdict import ProbeVerdict
    from servingbench.report.pages import write_run_report
    from tests.test_report_data import write_run

    def judged(rate: float, outcome: str, n: int, over: int, *, fresh: bool = False, es: float | None = 60.0):
        verdict = ProbeVerdict(outcome, n, over, 0, 0.95, 0.975, 2, 2, 1234, es, "reason")
        return Probe(rate, 60.0, 0.0, rate, outcome == "pass", 5, verdict=verdict, fresh_start=fresh,
                     measured_s=24.0)

    search = SearchResult(80.0, [judged(80.0, "pass", 900, 1), judged(100.0, "undecided", 1100, 9, es=None),
                                 judged(160.0, "fail", 1300, 400)], 100.0, 0.2)
    got = Confirmation(80.0, [judged(80.0, "pass", 900, 0), judged(80.0, "pass", 910, 1),
                              judged(80.0, "pass", 905, 0, fresh=True)], 100.0)
    record = SloSearch.of(search, got, 3, fresh_start_ready_s=[1.4])
    folder = write_run(tmp_path, samples=False, extra={"slo_search": record.to_dict()})
    html = write_run_report(folder).read_text()
    table = html.split('id="slo-probes"')[1].split("</table>")[0]
    assert table.count('data-outcome="pass"') == 4 and table.count('data-outcome="fail"') == 1
    assert 'data-outcome="undecided"' in table and "undecided</span>: needs 1234 requests" in table
    assert "confirmation 3 <span" in table and table.count("data-fresh-start") == 1
    assert ">too few<" in table and "24 (2)" in table and "at 95%" in table
    assert 'id="fresh-starts"' in html and "ready in 1.4 s" in html
    remote = SloSearch.of(search, got, 3, fresh_start_note="fresh-start confirmation not possible for a "
                                                           "remote target")
    page = write_run_report(write_run(tmp_path / "r", samples=False, extra={"slo_search": remote.to_dict()}))
    assert 'id="fresh-start-note"' in page.read_text() and "remote target" in page.read_text()
