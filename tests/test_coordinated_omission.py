"""Open loop exposes server stalls that closed loop hides (coordinated omission), on real servers.

A no-op server that freezes for 1 s every 4 s is driven twice by the real Locust load: closed loop
with 2 users, and open loop with Poisson arrivals. In closed loop only the two requests in flight
wait out each stall, so the p99 hardly moves; in open loop every request scheduled during a stall
waits, and its latency counts from its intended send time, so p99 shows the stall.
"""

from __future__ import annotations

import os

import pytest

from servingbench.cpusets import split_cpus
from servingbench.load import failures
from servingbench.load.ceiling import start_noop, stop_noop
from servingbench.load.locust import run_locust, run_open_loop
from servingbench.measure import stats

pytestmark = [pytest.mark.slow]
STALL_EVERY, STALL_FOR = 4.0, 1.0



def test_open_loop_p99_shows_the_stall_closed_loop_hides_it(tmp_path, requests_file):
    server_cpus, loadgen_cpus = split_cpus()
    proc, port = start_noop(server_cpus, tmp_path / "noop.log", STALL_EVERY, STALL_FOR)
    url = f"http://127.0.0.1:{port}"
    try:
        closed = run_locust(requests_file, url, users=2, run_time_s=12, max_requests=200_000,
                            cpus=loadgen_cpus, out_dir=tmp_path, name="closed")
        opened = run_open_loop(requests_file, url, rate_rps=100, duration_s=12, seed=7,
                               cpus=loadgen_cpus, out_dir=tmp_path, name="open", drain_s=5)
    finally:
        stop_noop(proc)
    closed_ok = stats.ok_latencies(closed.samples)
    open_ok = stats.ok_latencies(opened.samples)
    closed_p99 = stats.exact_percentiles(closed_ok)["p99"]
    open_p99 = stats.exact_percentiles(open_ok)["p99"]
    assert closed_ok.size > 1000, "closed loop should run many fast requests between stalls"
    assert open_ok.size >= 1000
    # each stall holds every open-loop arrival during it: p99 is most of the stall
    assert open_p99 > 0.6 * STALL_FOR * 1000, open_p99
    # closed loop: only 2 requests per stall wait, far under 1% of requests
    assert closed_p99 < 0.2 * STALL_FOR * 1000, closed_p99
    assert open_p99 > 5 * closed_p99
    # nothing in the open schedule was dropped: every arrival was sent and answered
    assert (opened.samples[:, 2] == 200).all()


def test_open_loop_counts_requests_the_server_never_answers(tmp_path, requests_file):
    """A server frozen for longer than the drain: unanswered requests are counted as failures."""
    server_cpus, loadgen_cpus = split_cpus()
    proc, port = start_noop(server_cpus, tmp_path / "noop.log", stall_every=600, stall_for=599)
    try:
        result = run_open_loop(requests_file, f"http://127.0.0.1:{port}", rate_rps=20, duration_s=3, seed=3,
                               cpus=loadgen_cpus, out_dir=tmp_path, name="frozen", drain_s=2)
    finally:
        stop_noop(proc)
    assert result.samples.shape[0] >= 30  # about 60 arrivals scheduled, none silently skipped
    # the cap's 512 slots are more than the ~60 arrivals: each was sent, none answered by the deadline
    assert (result.samples[:, 2] == failures.UNANSWERED).all()
    assert os.path.exists(tmp_path / "frozen.samples.npy")
