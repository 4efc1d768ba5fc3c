"""The SLO search on servers with known capacity: it must bracket the true limit, bounded in probes."""

import pytest

from servingbench.measure.slo_search import Probe, passes, search, seed_for


def server_with_capacity(capacity: float, calls: list):
    def measure(rate: float, seed: int) -> Probe:
        calls.append((rate, seed))
        ok = rate <= capacity
        return Probe(rate, 10.0 if ok else 500.0, 0.0, rate, ok, seed)

    return measure


@pytest.mark.parametrize("capacity,start", [(100.0, 80.0), (100.0, 300.0), (7.3, 50.0), (420.0, 10.0)])
def test_search_brackets_the_capacity(capacity, start):
    calls: list = []
    result = search(server_with_capacity(capacity, calls), start_rps=start, max_probes=12, tolerance=0.05)
    assert result.best_rate_rps <= capacity
    assert result.best_rate_rps >= capacity * 0.94
    assert result.lowest_failing_rps is not None and result.lowest_failing_rps > capacity
    assert len(calls) <= 12


def test_search_is_bounded_and_deterministic():
    first: list = []
    second: list = []
    a = search(server_with_capacity(55.0, first), start_rps=20.0, max_probes=4)
    b = search(server_with_capacity(55.0, second), start_rps=20.0, max_probes=4)
    assert len(first) == 4 and first == second and a.best_rate_rps == b.best_rate_rps


def test_nothing_passes_gives_zero():
    calls: list = []
    result = search(server_with_capacity(0.1, calls), start_rps=10.0, max_probes=10)
    assert result.best_rate_rps == 0.0 and calls[-1][0] >= 0.5


def test_seed_depends_on_rate_not_on_path():
    assert seed_for(12.5) == seed_for(12.5) != seed_for(12.6)
    assert seed_for(12.5, repeat=1) != seed_for(12.5)


def test_pass_rule_needs_both_latency_and_errors():
    assert passes(99.0, 0.0, 100.0, 0.001)
    assert not passes(101.0, 0.0, 100.0, 0.001)
    assert not passes(50.0, 0.002, 100.0, 0.001)
    assert not passes(float("nan"), 0.0, 100.0, 0.001)
