"""Resource figures come from the monitor's samples inside the measured window, not the whole load run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from servingbench.load.steps import window_resources
from servingbench.measure.monitor import Sample, Usage, window_usage

MIB = 2**20


def timeline(times: np.ndarray, cpu_rate, mem_mib, monitor_rate: float = 0.0) -> list[Sample]:
    """Samples of a cumulative CPU counter whose rate is ``cpu_rate(t)`` (integrated on a fine grid)."""
    fine = np.linspace(times[0], times[-1], 200_001)
    rates = np.array([cpu_rate(t) for t in fine])
    cumulative = np.concatenate([[0.0], np.cumsum((rates[1:] + rates[:-1]) / 2 * np.diff(fine))])
    cpu = np.interp(times, fine, cumulative)
    return [Sample(float(t), float(c), int(mem_mib(t) * MIB), int(mem_mib(t) * MIB), 3 if 5 <= t <= 15 else 1,
                   monitor_cpu_s=monitor_rate * float(t - times[0])) for t, c in zip(times, cpu, strict=True)]


def test_cpu_burnt_only_inside_the_window_is_the_windows_not_the_runs():
    # a 20 s Locust life: the server burns one CPU only in the measured window [5, 15] and holds
    # 900 MiB only during the drain after it (a figure over the whole run would report both)
    samples = timeline(np.arange(0.0, 20.01, 0.5), lambda t: 1.0 if 5 <= t < 15 else 0.0,
                       lambda t: 900 if t > 17 else 200)
    window = window_usage(samples, 5.0, 15.0)
    run = window_usage(samples, 0.0, 20.0)
    assert window is not None and run is not None
    assert window.cpu_s == pytest.approx(10.0, abs=1e-3) and window.cpu_util == pytest.approx(1.0, abs=1e-3)
    assert run.cpu_util == pytest.approx(0.5, abs=1e-3)  # what the whole run would have said
    assert window.mem_peak_bytes == 200 * MIB and run.mem_peak_bytes == 900 * MIB
    assert window.processes == 3 and (window.start, window.end) == (5.0, 15.0)


def test_edge_interpolation_is_exact_on_a_linear_counter():
    # irregular sample times; neither edge falls on a sample
    times = np.cumsum(np.r_[100.0, np.random.default_rng(7).uniform(0.2, 0.8, 40)])
    samples = timeline(times, lambda t: 0.7, lambda t: 300, monitor_rate=0.013)
    start, end = float(times[3]) + 0.123, float(times[30]) - 0.071
    usage = window_usage(samples, start, end)
    assert usage is not None
    assert usage.cpu_s == pytest.approx(0.7 * (end - start), rel=1e-9)
    assert usage.monitor_cpu_s == pytest.approx(0.013 * (end - start), rel=1e-9)
    assert usage.cpu_util == pytest.approx(0.7, rel=1e-9)


def test_memory_of_a_window_between_two_samples_uses_the_bracketing_ones():
    samples = [Sample(0.0, 0.0, 100 * MIB, 0, 1), Sample(1.0, 1.0, 300 * MIB, 0, 2),
               Sample(2.0, 2.0, 500 * MIB, 0, 1), Sample(3.0, 3.0, 700 * MIB, 0, 1)]
    none_inside = window_usage(samples, 1.2, 1.8)
    assert none_inside is not None and none_inside.cpu_s == pytest.approx(0.6)
    assert none_inside.mem_peak_bytes == 500 * MIB and none_inside.mem_mean_bytes == 400 * MIB
    one_inside = window_usage(samples, 0.5, 1.5)
    assert one_inside is not None and one_inside.mem_peak_bytes == 500 * MIB
    assert one_inside.mem_mean_bytes == 300 * MIB and one_inside.processes == 2  # samples at 0, 1, 2
    two_inside = window_usage(samples, 0.5, 2.5)
    assert two_inside is not None and two_inside.mem_mean_bytes == 400 * MIB  # only those inside: 1, 2


def test_too_few_samples_say_nothing_and_a_window_beyond_them_is_clipped():
    one = [Sample(10.0, 1.0, MIB, MIB, 1)]
    assert window_usage([], 0.0, 1.0) is None and window_usage(one, 9.0, 11.0) is None
    two = [Sample(10.0, 1.0, MIB, MIB, 1), Sample(11.0, 2.0, MIB, MIB, 1)]
    assert window_usage(two, 12.0, 13.0) is None  # after the last sample: nothing observed
    assert window_usage(two, 10.5, 10.5) is None  # an empty window
    clipped = window_usage(two, 10.5, 20.0)
    assert clipped is not None and (clipped.start, clipped.end) == (10.5, 11.0)
    assert clipped.cpu_util == pytest.approx(1.0)  # over the half second observed, not the 9.5 asked


def load(rows: list[tuple[float, float, int]]) -> np.ndarray:
    """Raw load samples: (send time s, latency ms, status)."""
    return np.array(rows, dtype=float)


def test_cpu_per_request_divides_by_successes_completed_in_the_window():
    usage = Usage(cpu_s=2.0, cpu_util=0.2, mem_peak_bytes=300 * MIB, mem_mean_bytes=250 * MIB, processes=2,
                  memory_kind="PSS", start=100.0, end=110.0, monitor_cpu_s=0.1)
    samples = load([
        (95.0, 100.0, 200),     # sent and answered before the window: not counted
        (99.9, 500.0, 200),     # sent before, completed inside: counted
        (101.0, 10.0, 200), (102.0, 10.0, 200), (103.0, 10.0, 200),
        (104.0, 10.0, 503),     # an error: not a success
        (109.9, 500.0, 200),    # sent inside, completed after the window: not counted
    ])
    res = window_resources(usage, samples, locust_cpu_util=0.40, loadgen_cpus=1)
    assert res.cpu_ms_per_request == pytest.approx(2000.0 / 4)
    assert res.server_cpu_s == 2.0 and res.mem_peak_mib == 300.0 and res.mem_mean_mib == 250.0
    assert (res.resources_start, res.resources_end) == (100.0, 110.0)
    assert res.monitor_cpu_util == pytest.approx(0.01)  # 0.1 CPU-s in 10 s on one CPU
    assert res.generator_cpu_util == pytest.approx(0.41)  # the monitor counted in the generator's budget
    two_cpus = window_resources(usage, samples, locust_cpu_util=0.40, loadgen_cpus=2)
    assert two_cpus.monitor_cpu_util == pytest.approx(0.005)
    assert two_cpus.generator_cpu_util == pytest.approx(0.405)


def test_no_success_in_the_window_has_no_cpu_per_request_and_no_usage_no_server_figures():
    usage = Usage(1.0, 0.1, MIB, MIB, 1, "PSS", start=0.0, end=10.0)
    res = window_resources(usage, load([(1.0, 5.0, 0)]), locust_cpu_util=0.2, loadgen_cpus=1)
    assert math.isnan(res.cpu_ms_per_request) and res.server_cpu_s == 1.0
    blind = window_resources(None, load([(1.0, 5.0, 200)]), locust_cpu_util=0.2, loadgen_cpus=1)
    assert blind.server_cpu_s is None and blind.resources_start is None and blind.generator_cpu_util == 0.2
