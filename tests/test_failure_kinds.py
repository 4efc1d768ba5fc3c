"""Failure kinds and the generator-limited rule, from synthetic sample arrays and real sockets.

Open-loop rows are (intended send time s, latency ms, status, send lag ms, held back ms); the status is the
HTTP status or a code of servingbench/load/failures.py. The real-socket test sends FastHttpUser's requests
to servers that refuse, reset, close, stall and garble, and checks what each is classified as: the
exceptions geventhttpclient raises are its own choice, and an upgrade that changes them must show here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import gevent
import numpy as np
import pytest
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError
from geventhttpclient.useragent import RetriesExceeded

from loadtests.arrivals import CapHold
from servingbench import protocol
from servingbench.load import failures as f
from servingbench.load.ceiling import Ceiling
from servingbench.load.send_lag import SEND_LAG_LIMIT_MS, generator_limited, send_lags
from servingbench.load.steps import open_window
from servingbench.measure import stats
from servingbench.report.pages import write_run_report
from tests.test_record import opened
from tests.test_report_data import write_run

NAN = float("nan")


def rows(*spec: tuple[int, int, float, float]) -> np.ndarray:
    """(count, status, lag ms, held ms) groups as open-loop rows sent at 1 s, answered after 5 ms."""
    out = [(1.0, 5.0, status, lag, held) for count, status, lag, held in spec for _ in range(count)]
    return np.array(out, dtype=np.float64).reshape(-1, 5)


# --- classify: what Locust reports, as a code --------------------------------------------------------------
def test_an_answer_is_its_http_status_and_a_2xx_that_failed_is_the_exception_kind():
    assert f.classify(200, None) == 200
    assert f.classify(503, RuntimeError("LocustBadStatusCode")) == 503
    assert f.classify(404, None) == 404
    assert f.classify(200, HTTPParseError("Incomplete response.")) == f.INVALID_RESPONSE


@pytest.mark.parametrize(("exception", "code"), [
    (RetriesExceeded("url", 0, original=TimeoutError("timed out")), f.TIMEOUT),
    (TimeoutError("timed out"), f.TIMEOUT),
    (gevent.Timeout(1.0), f.TIMEOUT),
    (ConnectionRefusedError(111, "Connection refused"), f.REFUSED),
    (HTTPConnectionClosed("connection closed."), f.RESET),
    (ConnectionResetError(104, "Connection reset by peer"), f.RESET),
    (BrokenPipeError(32, "Broken pipe"), f.RESET),
    (HTTPParseError("Expected HTTP/"), f.INVALID_RESPONSE),
    (OSError(113, "No route to host"), f.OTHER_ERROR),
    (RetriesExceeded("url", 0, original=OSError(101, "Network is unreachable")), f.OTHER_ERROR),
    (None, f.OTHER_ERROR),
])
def test_a_transport_failure_is_classified_by_its_exception(exception, code):
    assert f.classify(0, exception) == code


def test_fasthttpuser_failures_against_real_sockets_are_told_apart():
    probe = Path(__file__).with_name("failure_probe.py")
    done = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    got = {case: f.kind_name(code) for case, code in json.loads(done.stdout).items()}
    assert got == {
        "ok": "HTTP 200", "http_503": "HTTP 503",
        "closed_port": "connection refused",
        "silent": "timeout", "connect_timeout": "timeout",
        # geventhttpclient reports a reset and a clean close before any response byte the same way
        "reset": "connection reset", "close": "connection reset", "reset_mid_response": "connection reset",
        "truncated": "invalid response", "not_http": "invalid response",
    }


# --- counting ---------------------------------------------------------------------------------------------
def test_failures_are_counted_by_kind_only_the_kinds_that_occurred_most_first():
    codes = np.array([200] * 50 + [503] * 2 + [f.TIMEOUT] * 3 + [f.NEVER_SENT] * 7 + [f.UNANSWERED] * 3
                     + [201])
    assert f.count_kinds(codes) == {"never sent": 7, "timeout": 3, "unanswered at drain": 3, "HTTP 503": 2}
    assert list(f.count_kinds(codes)) == ["never sent", "timeout", "unanswered at drain", "HTTP 503"]
    assert f.count_kinds(np.array([200.0, 204.0])) == {} and f.count_kinds(np.zeros(0)) == {}
    assert f.describe_kinds({}) == "no failures"
    assert f.describe_kinds({"timeout": 3, "HTTP 503": 2}) == "timeout 3, HTTP 503 2"


def test_older_samples_keep_their_coarse_meanings():
    """0 was every transport failure and -1 both "never sent" and "unanswered at drain"."""
    old = {"200": 90, "0": 4, "-1": 6}
    assert f.kinds_from_status_counts(old) == {"unanswered or never sent": 6,
                                               "no response (kind not recorded)": 4}
    samples = np.array([[0.0, 5.0, 200.0, 0.1], [1.0, 9.0, -1.0, NAN], [2.0, 3.0, 0.0, 0.2]])
    assert stats.in_flight_at(samples, 0.0, 10.0) == 1  # -1 is still "no answer"
    assert stats.status_counts(samples) == {"-1": 1, "0": 1, "200": 1}


def test_never_sent_and_unanswered_count_as_in_flight_at_the_window_end_and_as_not_answered():
    samples = rows((20, 200, 0.2, 0.0), (3, f.UNANSWERED, 0.3, 0.0), (5, f.NEVER_SENT, NAN, NAN))
    window, summary = open_window(samples, 0.0, 10.0)
    assert summary.errors == 8 and summary.ok == 20
    assert stats.in_flight_at(samples, 0.0, 10.0) == 8
    assert int(f.is_no_answer(window[:, 2]).sum()) == 8
    assert f.count_kinds(window[:, 2]) == {"never sent": 5, "unanswered at drain": 3}


# --- held back by the cap ---------------------------------------------------------------------------------
def test_a_send_is_held_back_from_a_wait_for_a_slot_until_the_loop_catches_up():
    hold = CapHold()
    assert hold.held_ms(10.0, 10.004) == 0.0  # late without a wait: the generator's own
    hold.waited()
    assert hold.held_ms(10.0, 12.5) == pytest.approx(2500.0)
    assert hold.held_ms(11.0, 12.5) == pytest.approx(1500.0)  # overdue behind the wait: the backlog's
    hold.caught_up()
    assert hold.held_ms(13.0, 13.002) == 0.0


def test_send_lag_is_split_into_the_generator_own_and_the_held_back_part():
    # an overloaded server: 100 sends waited ~2 s for a slot, 100 went out on time; 5 never sent
    samples = rows((100, 200, 0.5, 0.0), (100, 200, 2001.0, 2000.0), (5, f.NEVER_SENT, NAN, NAN))
    lags = send_lags(samples)
    assert lags.p99_ms == pytest.approx(2001.0)  # what the old rule judged
    assert lags.own_p99_ms == pytest.approx(1.0) and lags.held_back == 100
    older = send_lags(samples[:, :4])  # samples written before held back was recorded: all lag is own
    assert older.own_p99_ms == pytest.approx(2001.0) and older.held_back == 0
    assert math.isnan(send_lags(np.zeros((0, 5))).own_p99_ms)


# --- the generator-limited rule ---------------------------------------------------------------------------
def test_a_stalled_server_at_low_generator_cpu_is_not_generator_limited():
    """Seen: overload probes flagged GENERATOR-LIMITED at 4-25% generator CPU, the lag all held back."""
    lags = send_lags(rows((50, 200, 0.4, 0.0), (150, 200, 900.0, 899.5), (30, f.UNANSWERED, 5.0, 4.0)))
    assert lags.p99_ms > SEND_LAG_LIMIT_MS  # the old rule flagged this
    assert not generator_limited(0.04, lags.own_p99_ms, 300.0)
    assert not generator_limited(0.25, lags.own_p99_ms, 300.0, keeps_schedule_rps=100.0)


def test_generator_limited_when_its_cpu_saturated_or_its_own_lag_exceeded_the_limit():
    assert generator_limited(0.95, 0.1, 50.0)  # saturated CPU, whatever the lag
    assert generator_limited(0.5, 25.0, 50.0)  # own lag, nothing measured against the no-op server
    assert not generator_limited(0.5, SEND_LAG_LIMIT_MS, 50.0)
    assert not generator_limited(0.5, NAN, 50.0)  # nothing sent: no lag to judge


def test_own_lag_is_the_generator_only_at_rates_it_was_not_shown_to_keep_against_the_no_op_server():
    assert not generator_limited(0.5, 25.0, 300.0, keeps_schedule_rps=800.0)  # a burst after a stall
    assert generator_limited(0.5, 25.0, 900.0, keeps_schedule_rps=800.0)  # beyond what was shown
    kept = Ceiling(1600.0, open_rate_rps=800.0, open_lag_p99_ms=2.5, open_generator_cpu_util=0.6)
    assert kept.keeps_schedule_rps == 800.0
    assert dataclasses.replace(kept, open_lag_p99_ms=30.0).keeps_schedule_rps is None
    assert dataclasses.replace(kept, open_generator_cpu_util=0.95).keeps_schedule_rps is None
    assert Ceiling(1600.0).keeps_schedule_rps is None  # older runs: no open-loop check
    assert Ceiling.from_dict(kept.to_dict()) == kept


# --- what the run shows -----------------------------------------------------------------------------------
def overloaded_step():
    step = opened(300.0, 120.0, 4000.0, "SLO search", "slo_probe3")
    return dataclasses.replace(step, failure_kinds={"unanswered at drain": 30, "HTTP 503": 4},
                               held_back_sends=150, own_lag_p99_ms=0.8, send_lag_p99_ms=900.0,
                               latency=dataclasses.replace(step.latency, errors=34))


def test_the_progress_line_names_the_kinds_and_the_held_back_sends():
    line = protocol.describe_step(overloaded_step())
    assert "errors 34 (unanswered at drain 30, HTTP 503 4)" in line
    assert "150 sends held back by the in-flight cap" in line and "GENERATOR-LIMITED" not in line
    assert "(" not in protocol.describe_step(opened(20.0, 20.0, 30.0, "fixed load", "open_fixed"))


def test_the_run_page_shows_failures_per_kind_per_step(tmp_path):
    clean = opened(20.0, 20.0, 30.0, "fixed load", "open_fixed")
    steps = [clean.to_dict(), overloaded_step().to_dict()]
    folder = write_run(tmp_path / "results", extra={"open_steps": steps})
    page = write_run_report(folder).read_text()
    table = page[page.index('id="open-steps-table"'):]
    assert 'data-kind="unanswered at drain" data-count="30">unanswered at drain: 30<' in table
    assert 'data-kind="HTTP 503" data-count="4">HTTP 503: 4<' in table
    assert table.count('data-failures="0">no failures<') == 1  # the clean step
    assert '<td data-field="held_back_sends">150</td>' in table
    closed_table = page[page.index('id="steps"'):page.index('id="open-steps-table"')]
    assert closed_table.count("no failures") == 2  # both closed steps of the test run


def test_an_older_run_page_reads_its_kinds_from_the_status_counts(tmp_path):
    old = dataclasses.replace(opened(50.0, 40.0, 300.0, "SLO search", "slo_probe1"), status_counts={
        "200": 200, "0": 3, "-1": 7})
    old = dataclasses.replace(old, latency=dataclasses.replace(old.latency, errors=10))
    written = {k: v for k, v in old.to_dict().items() if k not in ("failure_kinds", "held_back_sends")}
    page = write_run_report(write_run(tmp_path / "results", extra={"open_steps": [written]})).read_text()
    assert "unanswered or never sent: 7" in page and "no response (kind not recorded): 3" in page
