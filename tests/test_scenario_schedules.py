"""Arrival schedules beyond one Poisson rate: phases, given offsets, and how workers share them."""

from __future__ import annotations

import numpy as np
import pytest

from loadtests.arrivals import piecewise_poisson, poisson_schedule, share_of_schedule
from servingbench.cpusets import split_cpus
from servingbench.load.ceiling import start_noop, stop_noop
from servingbench.load.locust import check_schedule, run_open_loop


def test_piecewise_poisson_follows_each_phase_rate():
    offsets = piecewise_poisson([(50, 20), (150, 10), (50, 20)], seed=3)
    assert np.all(np.diff(offsets) >= 0) and offsets[0] >= 0 and offsets[-1] < 50
    counts = [((offsets >= a) & (offsets < b)).sum() for a, b in ((0, 20), (20, 30), (30, 50))]
    # Poisson counts: mean rate x seconds, sd sqrt of it; 5 sd is far from a flaky bound
    for count, expected in zip(counts, (1000, 1500, 1000), strict=True):
        assert abs(count - expected) < 5 * np.sqrt(expected), (count, expected)


def test_piecewise_poisson_is_reproducible_and_seeded():
    a = piecewise_poisson([(10, 5), (0, 2), (10, 5)], seed=1)
    assert np.array_equal(a, piecewise_poisson([(10, 5), (0, 2), (10, 5)], seed=1))
    assert not np.array_equal(a, piecewise_poisson([(10, 5), (0, 2), (10, 5)], seed=2))
    assert not ((a >= 5) & (a < 7)).any(), "a phase at rate 0 is a pause"


def test_piecewise_poisson_refuses_negative_phases():
    with pytest.raises(ValueError, match="phase 1"):
        piecewise_poisson([(10, 5), (-1, 2)], seed=1)


@pytest.mark.parametrize(("schedule", "message"), [
    (np.zeros(0), "at least one arrival"),
    (np.array([0.5, 0.2]), "sorted"),
    (np.array([-0.1, 0.2]), ">= 0"),
    (np.array([0.1, np.nan]), "finite"),
    (np.array([0.1, 9.0]), "past the run"),
])
def test_check_schedule_refuses_what_cannot_be_sent(schedule, message):
    with pytest.raises(ValueError, match=message):
        check_schedule(schedule, duration_s=5.0)


def test_check_schedule_counts_two_column_schedules():
    assert check_schedule(np.array([[0.0, 3], [0.5, 1], [1.0, 0]]), duration_s=2.0) == 3


def test_workers_share_a_given_schedule_without_overlap():
    table = np.column_stack([np.arange(10) / 10, np.arange(10) % 3])
    shares = [share_of_schedule(table, 3, i, 0.0, 0.0, 1) for i in range(3)]
    offsets = np.sort(np.concatenate([s[0] for s in shares]))
    assert np.array_equal(offsets, table[:, 0])
    assert np.array_equal(shares[1][1], table[1::3, 1].astype(int))
    alone, picks = share_of_schedule(table[:, 0], 1, 0, 0.0, 0.0, 1)
    assert np.array_equal(alone, table[:, 0]) and picks is None


def test_without_a_schedule_the_share_is_the_seeded_poisson_draw():
    offsets, picks = share_of_schedule(None, 2, 1, 20.0, 2.0, 4)
    assert picks is None
    assert np.array_equal(offsets, poisson_schedule(10.0, 2.0, 4 * 1000 + 1))


@pytest.mark.slow
def test_locust_sends_a_given_schedule_at_its_times(tmp_path, requests_file):
    """A burst schedule through the real Locust user against the no-op server: every arrival is sent once,
    at its intended time (send lag small), in the order and with the count given."""
    server_cpus, loadgen_cpus = split_cpus()
    schedule = piecewise_poisson([(20, 2), (100, 1), (20, 2)], seed=9)
    proc, port = start_noop(server_cpus, tmp_path / "noop.log")
    try:
        result = run_open_loop(requests_file, f"http://127.0.0.1:{port}", rate_rps=0.0, duration_s=5.0,
                               seed=1, cpus=loadgen_cpus, out_dir=tmp_path, name="burst", drain_s=2,
                               schedule=schedule)
    finally:
        stop_noop(proc)
    samples = result.samples
    assert samples.shape[0] == schedule.size
    intended = np.sort(samples[:, 0]) - result.test_start
    # intended wall times are the schedule's offsets from the schedule's own start (within clock skew)
    assert np.allclose(intended - intended[0], schedule - schedule[0], atol=0.05)
    assert (samples[:, 2] == 200).all()
    assert np.percentile(samples[:, 3], 99) < 100, "sends left near their intended time"
