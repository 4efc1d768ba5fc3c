"""The stability rule: consecutive windows must agree, and too few requests cannot be judged."""

import numpy as np

from servingbench.measure.stability import MIN_PER_WINDOW, stability


def steady(rate: float, seconds: float, latency_ms: float, jitter: float = 0.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    starts = np.sort(rng.uniform(0, seconds, n))
    lat = latency_ms * (1 + jitter * rng.standard_normal(n)).clip(0.5)
    return np.column_stack([starts, lat, np.full(n, 200)])


def test_steady_load_is_stable():
    result = stability(steady(300, 12, 10.0, jitter=0.05), 0, 12, windows=3)
    assert result.stable is True and result.throughput_spread < 0.1


def test_a_latency_jump_in_the_last_window_is_unstable():
    data = steady(300, 12, 10.0, jitter=0.05)
    data[data[:, 0] > 8, 1] *= 3  # the server slowed down during the step
    result = stability(data, 0, 12, windows=3)
    assert result.stable is False and result.p99_spread > 1.0


def test_too_few_requests_per_window_are_not_judged():
    result = stability(steady(MIN_PER_WINDOW / 8, 12, 10.0), 0, 12, windows=3)
    assert result.stable is None and min(result.window_requests) < MIN_PER_WINDOW
