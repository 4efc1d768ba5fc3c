"""Cold start and offline batch: the analysis on synthetic inputs (no server)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from servingbench.adapter import HttpRequest, Tunables
from servingbench.measure.coldstart import (
    ModelLoad,
    first_correct_of,
    poll_first_correct,
    read_model_loads,
    spread,
    startup_split,
)
from servingbench.scenarios.batch import analyse_job, job_requests, job_window, users_for
from servingbench.scenarios.coldstart import keep_warm


def test_spread_is_nearest_rank_median_with_minmax_and_ci_only_where_n_allows():
    five = spread([3.0, 1.0, 2.0, 5.0, 4.0])
    assert (five.n, five.median, five.min, five.max) == (5, 3.0, 1.0, 5.0)
    assert five.ci_low is None and five.ci_high is None  # 5 starts cannot bound a median at 95%
    assert five.minmax_coverage == pytest.approx(1 - 2 * 0.5**5)
    ten = spread(list(range(1, 11)))
    assert ten.ci_low is not None and ten.ci_low <= ten.median <= ten.ci_high
    assert spread([float("nan")]) is None and spread([]) is None


def test_startup_split_adds_up_to_the_first_correct_prediction():
    spawn = 1000.0
    loads = [ModelLoad(2, 1000.5, 1001.0, 1001.4), ModelLoad(3, 1000.6, 1001.1, 1001.9)]
    split = startup_split(spawn, 2.0, loads)
    assert split.before_model_process_s == 0.5 and split.imports_s == 0.5 and split.startup_s == 1.0
    assert split.model_load_s == pytest.approx(0.4) and split.after_load_s == pytest.approx(0.6)
    assert split.startup_s + split.model_load_s + split.after_load_s == pytest.approx(2.0)
    assert split.loads == 2
    # a load that ended after the first correct answer cannot have served it
    assert startup_split(spawn, 1.0, loads) is None
    # no process start known: only the start-up as a whole
    unknown = startup_split(spawn, 2.0, [ModelLoad(2, float("nan"), 1001.0, 1001.4)])
    assert unknown.before_model_process_s is None and unknown.startup_s == 1.0


def test_model_load_lines_are_read_and_malformed_ones_skipped(tmp_path):
    path = tmp_path / "model_load.events"
    path.write_text("12 1.5 2.0 2.5\ngarbage\n13 nan 3.0 3.25\n14 1.0\n")
    loads = read_model_loads(path)
    assert [x.pid for x in loads] == [12, 13] and loads[1].load_end == 3.25
    assert read_model_loads(tmp_path / "absent") == []


def test_first_correct_is_the_earliest_correct_answer_not_the_first_sent():
    attempts = [(10.3, False, False, "refused"), (10.9, True, True, ""), (10.6, True, False, "HTTP 503"),
                (10.7, True, True, "")]
    first = first_correct_of(attempts, 10.0, 4)
    assert first.first_correct_s == pytest.approx(0.7) and first.first_answer_s == pytest.approx(0.6)
    assert first.last_failure == "HTTP 503" and first.attempts == 4


def test_poller_stops_at_the_first_correct_answer_of_a_server_that_becomes_ready():
    started = time.monotonic()
    ready_at = started + 0.3

    def send(_req, _timeout):
        if time.monotonic() < started + 0.1:
            raise ConnectionRefusedError("refused")
        return (200, b"ok") if time.monotonic() >= ready_at else (503, b"loading")

    def decode(status, body):
        if status != 200:
            raise ValueError(body)
        return [("positive", 0.9)]

    wanted = [("positive", 0.9)]
    first = poll_first_correct(send, decode, HttpRequest("POST", "/", b""), lambda a: a == wanted,
                               started_at=started, timeout_s=5, exited=lambda: None, interval_s=0.02)
    assert 0.3 <= first.first_correct_s < 0.45
    assert 0.1 <= first.first_answer_s < 0.3 and "503" in first.last_failure
    with pytest.raises(RuntimeError, match="exited"):
        poll_first_correct(send, decode, HttpRequest("POST", "/", b""), lambda a: True,
                           started_at=time.monotonic(), timeout_s=5, exited=lambda: 1)


def test_keep_warm_prices_the_idle_share_of_the_cheapest_fitting_instance():
    warm = keep_warm(1, 174.0, None)
    assert warm is not None and warm.usd_per_hour > 0 and warm.vcpus == 1
    assert str(warm.instance) in warm.assumption
    assert keep_warm(1, None, None) is None


def test_batch_job_arithmetic():
    assert [job_requests(2048, k) for k in (1, 8, 32, 128)] == [2048, 256, 64, 16]
    assert job_requests(2000, 128) == 16  # the last request is short
    with pytest.raises(ValueError):
        job_requests(10, 0)
    plain = Tunables()
    assert [users_for(k, plain, 1000) for k in (1, 8, 128)] == [2, 2, 2]
    batched = Tunables(workers=1, max_batch_size=16)
    assert [users_for(k, batched, 1000) for k in (1, 8, 32)] == [32, 4, 2]
    assert users_for(1, Tunables(workers=4, max_batch_size=32), 1000) == 64  # capped
    assert users_for(128, Tunables(workers=4), 3) == 3  # never more users than the job's requests
    assert users_for(1, Tunables(workers=0), 100) == 2  # in-process inference counts as one worker


def test_batch_job_window_and_texts_per_second_from_raw_samples():
    # (send time s, latency ms, status): 4 requests of 8 texts, one failed, one beyond the budget
    samples = np.array([[100.0, 500.0, 200], [100.0, 1000.0, 200], [100.5, 1000.0, 503],
                        [101.0, 1000.0, 200], [101.6, 1000.0, 200]])
    start, end, rows = job_window(samples, 4)
    assert (start, end) == (100.0, 102.0) and rows.shape[0] == 4
    row = analyse_job(samples, 8, 4)
    assert row.ok_texts == 24 and row.wall_s == pytest.approx(2.0) and row.texts_per_s == pytest.approx(12.0)
    assert row.failure_kinds == {"HTTP 503": 1} and row.p50_ms == 1000.0
    assert analyse_job(np.zeros((0, 3)), 8, 4).ok_texts == 0
