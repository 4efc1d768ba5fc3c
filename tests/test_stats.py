"""Exact percentiles, windows, throughput and histograms from raw samples."""

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from servingbench.measure import stats


def samples(latencies_ms, status=200, start=100.0, spacing=0.01):
    n = len(latencies_ms)
    return np.column_stack([start + np.arange(n) * spacing, latencies_ms, np.full(n, status)])


def test_percentiles_are_nearest_rank_of_raw_samples():
    lat = np.arange(1, 1001, dtype=float)  # 1..1000 ms
    pct = stats.exact_percentiles(lat)
    assert pct == {"p50": 500.0, "p90": 900.0, "p99": 990.0, "p999": 999.0}


def test_percentile_is_a_real_sample_not_a_bucket():
    rng = np.random.default_rng(7)
    lat = rng.lognormal(1.5, 0.6, 5000)
    pct = stats.exact_percentiles(lat)
    for value in pct.values():
        assert value in set(lat.tolist())
    # Locust-style rounding to two significant digits would move p99 off the raw value
    assert pct["p99"] == np.sort(lat)[int(np.ceil(0.99 * lat.size)) - 1]


def test_window_keeps_completions_inside_and_throughput_counts_ok_only():
    ok = samples([10.0] * 100, start=0.0, spacing=0.1)  # completions at 0.01 .. 9.91 s
    bad = samples([5.0] * 10, status=503, start=2.0, spacing=0.1)
    data = np.vstack([ok, bad])
    window = stats.in_window(data, 2.0, 7.0)
    summary = stats.summarize(window, 5.0)
    assert summary.ok == 50
    assert summary.errors == 10
    assert summary.throughput_rps == pytest.approx(10.0)
    assert summary.error_rate == pytest.approx(10 / 60)
    assert summary.p50_ms == 10.0
    assert stats.status_counts(window) == {"200": 50, "503": 10}


def test_empty_window_gives_nan_not_zero_latency():
    summary = stats.summarize(np.zeros((0, 3)), 5.0)
    assert summary.requests == 0 and summary.throughput_rps == 0.0
    assert np.isnan(summary.p99_ms)


def test_hdr_histogram_round_trips_within_its_precision():
    lat = np.array([0.5, 1.0, 2.5, 10.0, 250.0, 1234.5])
    decoded = HdrHistogram.decode(stats.encode_histogram(lat))
    assert decoded.get_total_count() == lat.size
    assert decoded.get_max_value() == pytest.approx(1234.5 * 1000, rel=1e-3)


def test_cdf_points_end_at_one():
    x, y = stats.cdf_points(np.arange(1, 1001, dtype=float), points=50)
    assert y[-1] == 1.0 and x[-1] == 1000.0 and np.all(np.diff(x) >= 0)


def test_covered_time_ends_at_the_last_completion_or_the_window():
    samples = np.array([[10.0, 100.0, 200], [10.5, 100.0, 200], [11.0, 500.0, 200]])
    assert stats.covered_s(samples, 10.0, 20.0) == pytest.approx(1.5)  # the load ended at 11.5
    assert stats.covered_s(samples, 10.0, 11.2) == pytest.approx(1.2)  # it outlasted the window
    assert stats.covered_s(samples[:0], 10.0, 20.0) == 10.0


def test_open_loop_goodput_counts_completions_inside_the_window_not_sends():
    """An overloaded server: 280 req/s offered for 10 s, answered at 133/s, so answers lag ever more."""
    from servingbench.load.steps import open_window

    rng = np.random.default_rng(1)
    sends = np.sort(rng.uniform(0.0, 10.0, 2800))
    done = np.maximum.accumulate(np.arange(1, sends.size + 1) / 133.0)  # one server, FIFO, 7.5 ms each
    done = np.maximum(done, sends + 0.005)
    samples = np.column_stack([sends, (done - sends) * 1000.0, np.full(sends.size, 200.0),
                               np.zeros(sends.size)])
    window, summary = open_window(samples, 0.0, 10.0)
    assert window.shape[0] == 2800  # every request sent in the window is in its latency and errors
    assert summary.throughput_rps == pytest.approx(133.0, rel=0.02)  # was 280 when sends were counted
    assert stats.in_flight_at(samples, 0.0, 10.0) == 2800 - stats.completed_ok_in_window(samples, 0.0, 10.0)


def test_every_step_percentile_carries_its_order_statistic_interval():
    from servingbench.load.steps import percentile_intervals

    rng = np.random.default_rng(2)
    many = percentile_intervals(rng.exponential(10.0, 5000))
    assert set(many) == {"p50", "p90", "p99", "p99.9"}
    true_p99 = 10.0 * np.log(100.0)
    assert many["p99"][0] < true_p99 < many["p99"][1]
    few = percentile_intervals(rng.exponential(10.0, 120))  # the quick profile's fixed load
    assert few["p99"][1] is None and few["p50"][1] is not None  # p99's upper side cannot be bounded
    assert percentile_intervals(np.zeros(0)) == {}
