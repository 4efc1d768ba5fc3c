"""The LoadGen cross-check's logic: reading LoadGen's summary, our headline, the agreement rule, the output,
and the HTTP client that LoadGen drives (against a small real HTTP server, not a framework stand-in).

The summaries under tests/data/loadgen/ are LoadGen's own files from runs of this SUT against the
baseline server on the development VM (2026-12-02): one at 1500 req/s (overloaded, INVALID) and one well
inside the server's capacity (VALID).
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from servingbench.adapter import HttpRequest
from servingbench.crosscheck.command import NoRun, newest_run, run_tunables
from servingbench.crosscheck.report import read_crosscheck, side_by_side
from servingbench.crosscheck.summary import LoadgenSummary, SummaryError, parse_summary, with_detail
from servingbench.crosscheck.sut import NEVER_SENT, HttpSut
from servingbench.crosscheck.verdict import (
    AGREE,
    CROSSCHECK_FILE,
    DISAGREE,
    CrossCheck,
    LoadgenRun,
    OurHeadline,
    judge,
    needs_lower_rate,
)
from servingbench.record.results import RunWriter
from servingbench.record.run_record import SLO_PROBE, SLO_REPEAT, RunRecord, Slo, SloSearch
from tests.test_record import opened

DATA = Path(__file__).parent / "data" / "loadgen"


def summary(name: str) -> LoadgenSummary:
    parsed = parse_summary((DATA / f"{name}_summary.txt").read_text())
    detail = DATA / f"{name}_detail.txt"
    return with_detail(parsed, detail.read_text()) if detail.exists() else parsed


# --- LoadGen's summary ----------------------------------------------------------------------------------
def test_an_overloaded_run_reads_as_invalid_with_loadgen_reasons():
    s = summary("overloaded")
    assert s.result == "INVALID" and not s.valid
    assert s.scenario == "Server" and s.mode == "PerformanceOnly"
    assert s.perf_constraints_met is False and s.early_stopping_met is False and s.min_duration_met is True
    assert "Run unsuccessful" in s.early_stopping and "more queries" in s.early_stopping
    assert s.recommendations == ["Reduce target QPS to improve latency."]
    assert s.target_qps == 1500.0 and s.target_latency_ns == 100_000_000 and s.min_duration_ms == 4000
    assert s.p99_ms is not None and s.p99_ms > 1000  # the client gave up after 10 s on most queries
    assert list(s.latency_ns) == ["min", "max", "mean", "p50", "p90", "p95", "p97", "p99", "p99.9"]
    assert s.latency_ns["min"] <= s.latency_ns["p50"] <= s.latency_ns["p99"] <= s.latency_ns["max"]
    assert s.scheduled_qps is not None and s.completed_qps is not None and s.completed_qps < s.scheduled_qps
    assert s.loadgen_version.startswith("6.0.17") and s.query_count and s.overlatency_count
    assert s.overlatency_count <= s.query_count


def test_a_run_within_capacity_reads_as_valid():
    s = summary("valid")
    assert s.result == "VALID" and s.valid
    assert s.perf_constraints_met is True and s.early_stopping_met is True
    assert "Run successful" in s.early_stopping and s.recommendations == []
    assert s.p99_ms is not None and s.p99_ms * 1e6 <= s.target_latency_ns


def test_the_summary_round_trips_and_a_foreign_file_is_refused():
    s = summary("overloaded")
    assert LoadgenSummary.from_dict(s.to_dict()) == s
    with pytest.raises(SummaryError):
        parse_summary("MLPerf Results Summary\nScenario : Server\n")


def test_a_result_line_that_says_invalid_wins_over_the_latencies():
    # the verdict is LoadGen's result line, not a re-computation from the p99 shown
    text = (DATA / "valid_summary.txt").read_text().replace("Result is : VALID", "Result is : INVALID")
    assert not parse_summary(text).valid


# --- our headline ---------------------------------------------------------------------------------------
def our_run(held: float, *, repeats: bool = True, p99s=(40.0, 55.0, 48.0), failing: float | None = None,
            run_id: str = "20261202T000000Z-baseline-default") -> RunRecord:
    probes = [opened(held, held * 0.99, 50.0, SLO_PROBE, "slo_probe1"),
              opened(held * 1.2, held, 400.0, SLO_PROBE, "slo_probe2")]
    confirms = [opened(held, held * 0.99, p, SLO_REPEAT, f"slo_repeat{i}") for i, p in enumerate(p99s, 1)]
    steps = [*probes, *(confirms if repeats else [])]
    search = SloSearch(held, failing or held * 1.2, 0.2, [p.probe(100.0, 0.001) for p in probes],
                       [c.probe(100.0, 0.001) for c in confirms] if repeats else [], held_rate_rps=held)
    return RunRecord(run_id=run_id, framework="baseline", preset="default", slo=Slo(100.0, 0.001),
                     open_steps=steps, slo_search=search, profile={"probe_s": 12.0}, status="complete",
                     tunables={"workers": 1, "threads_per_worker": 1, "max_batch_size": 1,
                               "max_batch_delay_ms": 0.0})


def test_our_headline_is_the_held_rate_with_every_confirmation_there():
    ours = OurHeadline.of(our_run(120.0, failing=144.0))
    assert ours.held_rate_rps == 120.0 and ours.lowest_failing_rps == 144.0 and ours.slo_p99_ms == 100.0
    assert [c.p99_ms for c in ours.confirmations] == [40.0, 55.0, 48.0]
    assert ours.worst is not None and ours.worst.p99_ms == 55.0
    assert ours.achieved_rps == pytest.approx(120.0 * 0.99)
    quick = OurHeadline.of(our_run(120.0, repeats=False))  # no repeats: the search's own probe
    assert [c.p99_ms for c in quick.confirmations] == [50.0]
    assert OurHeadline.from_dict(ours.to_dict()) == ours


def test_a_run_that_held_nothing_has_no_headline_to_check():
    run = our_run(120.0)
    run.slo_search = dataclasses.replace(run.slo_search, held_rate_rps=0.0)
    with pytest.raises(ValueError, match="held no rate"):
        OurHeadline.of(run)


def test_the_newest_complete_run_of_the_framework_and_preset_is_taken(tmp_path):
    with pytest.raises(NoRun, match="make bench FRAMEWORK=baseline PRESET=default"):
        newest_run(tmp_path, "baseline", "default")
    for held, preset, status in [(100.0, "default", "complete"), (110.0, "default", "complete"),
                                 (999.0, "tuned", "complete"), (500.0, "default", "failed")]:
        writer = RunWriter(tmp_path, "baseline", preset)
        source = our_run(held)
        writer.record.slo, writer.record.open_steps = source.slo, source.open_steps
        writer.record.slo_search, writer.record.tunables = source.slo_search, {"workers": 2}
        writer.finish(status)  # same second: the next id gets -2, -3 and still sorts after
    run = newest_run(tmp_path, "baseline", "default")
    assert run.slo_search.held_rate_rps == 110.0 and run_tunables(run).workers == 2


# --- the agreement rule ---------------------------------------------------------------------------------
def lg_run(factor: float, held: float, valid: bool, *, failed: int = 0, issued: int = 5000) -> LoadgenRun:
    base = summary("valid" if valid else "overloaded")
    return LoadgenRun(factor, held * factor, base, issued, issued - failed,
                      {"HTTP 503": failed} if failed else {}, 16, 30.0, f"crosscheck/x/{factor:g}x")


def verdicts(runs: list[LoadgenRun], held: float = 120.0) -> list[str]:
    return [a.verdict for a in judge(OurHeadline.of(our_run(held)), runs)]


def test_valid_at_our_rate_and_invalid_above_agree():
    assert verdicts([lg_run(1.0, 120, True), lg_run(1.25, 120, False)]) == [AGREE, AGREE]


def test_invalid_at_our_rate_but_valid_ten_percent_below_still_agrees():
    runs = [lg_run(1.0, 120, False), lg_run(0.9, 120, True), lg_run(1.25, 120, False)]
    agreements = judge(OurHeadline.of(our_run(120.0)), runs)
    assert [a.verdict for a in agreements] == [AGREE, AGREE] and "within 10%" in agreements[0].reason


def test_invalid_at_our_rate_and_below_disagrees():
    runs = [lg_run(1.0, 120, False), lg_run(0.9, 120, False), lg_run(1.25, 120, False)]
    assert verdicts(runs) == [DISAGREE, AGREE]


def test_valid_at_a_quarter_above_our_rate_disagrees():
    agreements = judge(OurHeadline.of(our_run(120.0)), [lg_run(1.0, 120, True), lg_run(1.25, 120, True)])
    assert [a.verdict for a in agreements] == [AGREE, DISAGREE]
    assert "holds more than our headline" in agreements[1].reason


def test_valid_but_failing_requests_beyond_the_error_budget_does_not_hold():
    ours = OurHeadline.of(our_run(120.0))
    noisy = lg_run(1.0, 120, True, failed=10, issued=5000)  # 0.2% > 0.1%
    assert noisy.summary.valid and not noisy.holds(ours.max_error_rate)
    assert lg_run(1.0, 120, True, failed=4, issued=5000).holds(ours.max_error_rate)
    assert [a.verdict for a in judge(ours, [noisy, lg_run(1.25, 120, False)])] == [DISAGREE, AGREE]


def test_the_lower_rate_is_tried_only_when_our_rate_did_not_hold():
    ours = OurHeadline.of(our_run(120.0))
    assert not needs_lower_rate(ours, [])
    assert not needs_lower_rate(ours, [lg_run(1.0, 120, True)])
    assert needs_lower_rate(ours, [lg_run(1.0, 120, False)])
    assert not needs_lower_rate(ours, [lg_run(1.0, 120, False), lg_run(0.9, 120, True)])


def test_a_missing_loadgen_run_is_a_disagreement_not_a_pass():
    assert verdicts([]) == [DISAGREE, DISAGREE]


# --- the output and the record --------------------------------------------------------------------------
def check(runs: list[LoadgenRun]) -> CrossCheck:
    ours = OurHeadline.of(our_run(120.0, failing=140.0))
    return CrossCheck("baseline", "default", "2026-12-02T00:00:00+00:00", ours, runs, judge(ours, runs),
                      loadgen_version="6.0.17 @ d6147c7eb7", loadgen_duration_s=45.0, threads=16,
                      server_cpus=[0], loadgen_cpus=[1], known_difference="known difference: explained")


def test_side_by_side_names_both_tools_and_every_verdict():
    text = side_by_side(check([lg_run(1.0, 120, True), lg_run(1.25, 120, False)]))
    assert "servingbench" in text and "MLPerf LoadGen" in text
    assert "120.0 req/s (1x)" in text and "150.0 req/s (1.25x)" in text
    assert "VALID" in text and "INVALID" in text and "early stopping: Run successful" in text
    assert "p99 55.0 ms" in text  # our highest confirmation p99, with its interval
    assert "fails: 140.0 req/s already failed" in text
    assert text.count(AGREE) >= 2 and "overall: AGREE" in text and "known difference" in text


def test_a_disagreement_is_printed_not_hidden():
    text = side_by_side(check([lg_run(1.0, 120, True), lg_run(1.25, 120, True)]))
    assert "DISAGREE" in text and "overall: DISAGREE" in text


def test_the_record_is_written_and_read_back_beside_the_run(tmp_path):
    import json

    record = check([lg_run(1.0, 120, False, failed=3), lg_run(0.9, 120, True), lg_run(1.25, 120, False)])
    (tmp_path / CROSSCHECK_FILE).write_text(json.dumps(record.to_dict()))
    back = read_crosscheck(tmp_path)
    assert back == record and back.agree and back.runs[0].failures == {"HTTP 503": 3}
    assert read_crosscheck(tmp_path / "elsewhere") is None


# --- the client LoadGen drives --------------------------------------------------------------------------
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the framework servers speak it

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = 500 if self.path == "/fail" else 200
        if self.path == "/slow":
            time.sleep(0.3)
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def drive(server, path: str, count: int, **options) -> HttpSut:
    done: list[int] = []
    lock = threading.Lock()

    def complete(query_id: int) -> None:
        with lock:
            done.append(query_id)

    sut = HttpSut("127.0.0.1", server.server_address[1], [HttpRequest("POST", path, b"{}")],
                  complete=complete, **options)
    sut.issue_queries([SimpleNamespace(id=i, index=i) for i in range(count)])
    deadline = time.time() + 20
    while len(done) < count and time.time() < deadline:
        time.sleep(0.01)
    sut.close()
    assert sorted(done) == list(range(count)), "every query is completed, answered or not"
    return sut


def test_the_client_reuses_one_connection_per_thread(http_server):
    sut = drive(http_server, "/ok", 60, threads=4)
    assert sut.counters.ok == 60 and not sut.counters.failures
    assert sut.counters.connections_opened == 4


def test_the_client_counts_failures_and_still_completes_them(http_server):
    sut = drive(http_server, "/fail", 10, threads=2)
    assert sut.counters.ok == 0 and sut.counters.failures == {"HTTP 500": 10}


def test_a_query_left_waiting_past_the_give_up_time_is_never_sent(http_server):
    sut = drive(http_server, "/slow", 8, threads=1, give_up_s=0.5)
    assert sut.counters.ok >= 1 and sut.counters.failures[NEVER_SENT] >= 5
    assert sut.counters.ok + sut.counters.failures[NEVER_SENT] == 8


def test_the_run_page_shows_the_cross_check_beside_the_run(tmp_path):
    import json

    from servingbench.report.pages import write_run_report
    from tests.test_report_data import write_run

    folder = write_run(tmp_path / "results")
    assert "crosscheck-table" not in write_run_report(folder).read_text()
    record = check([lg_run(1.0, 120, True), lg_run(1.25, 120, False)])
    (folder / CROSSCHECK_FILE).write_text(json.dumps(record.to_dict()))
    page = write_run_report(folder).read_text()
    assert 'id="crosscheck-table"' in page and 'data-factor="1.25"' in page
    assert 'id="xc-overall">AGREE' in page and 'data-value="120.0"' in page
    assert page.count(">VALID<") == 1 and page.count(">INVALID<") == 1
    assert "known difference: explained" in page
