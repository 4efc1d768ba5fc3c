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


def test_halving_stops_below_the_floor_and_says_so():
    calls: list = []
    result = search(server_with_capacity(0.1, calls), start_rps=40.0, max_probes=10, floor_rps=15.0)
    assert [rate for rate, _ in calls] == [40.0, 20.0]  # 10 req/s would be below the floor
    assert result.best_rate_rps == 0.0 and result.stopped_at_floor


def test_the_floor_does_not_end_a_search_that_found_a_pass():
    calls: list = []
    result = search(server_with_capacity(30.0, calls), start_rps=100.0, max_probes=8, floor_rps=15.0)
    assert 25.0 <= result.best_rate_rps <= 30.0 and not result.stopped_at_floor


def test_seed_depends_on_rate_not_on_path():
    assert seed_for(12.5) == seed_for(12.5) != seed_for(12.6)
    assert seed_for(12.5, repeat=1) != seed_for(12.5)


def test_pass_rule_needs_both_latency_and_errors():
    assert passes(99.0, 0.0, 100.0, 0.001)
    assert not passes(101.0, 0.0, 100.0, 0.001)
    assert not passes(50.0, 0.002, 100.0, 0.001)
    assert not passes(float("nan"), 0.0, 100.0, 0.001)


# --- the search through the protocol, on synthetic servers (measure.adaptive, load.probes) ---------------
def _search(tmp_path, profile_name, server, fresh=None, start=60.0):
    from servingbench import protocol
    from servingbench.profiles import PROFILES
    from tests.synthetic_server import synthetic_context

    ctx = synthetic_context(tmp_path, server)
    if fresh == "hook":
        def restart():
            server.restart()
            return ctx
        fresh = protocol.FreshStart(restart)
    steps: list = []
    lines: list[str] = []
    search = protocol.run_slo_search(ctx, PROFILES[profile_name], start, steps, lines.append,
                                     schedule_seed=42, fresh=fresh)
    return search, steps, lines


def test_every_probe_is_judged_by_its_verdict_and_its_samples_file_holds_what_was_judged(tmp_path):
    import numpy as np

    from servingbench.measure import stats
    from tests.synthetic_server import SyntheticServer

    server = SyntheticServer(capacity_rps=100.0)
    search, steps, lines = _search(tmp_path, "quick", server)
    assert 50.0 <= search.best_rate_rps <= 100.0 and search.held
    for step, probe in zip(steps, search.probes, strict=True):
        assert probe.passed == (step.verdict.outcome == "pass") and probe.outcome == step.verdict.outcome
        assert probe.measured_s == sum(s.window_end - s.window_start for s in step.segments)
        raw = np.load(tmp_path / step.samples_file)  # what the report's figures are drawn from
        window = stats.sent_in_window(raw, step.window_start, step.window_end)
        assert window.shape[0] == step.verdict.judged_requests == step.intended_requests
        assert stats.summarize(window, step.measured_s).p99_ms == step.latency.p99_ms
        if len(step.segments) > 1:
            assert step.samples_file.endswith(".pooled.samples.npy")
            assert all((tmp_path / s.samples_file).is_file() for s in step.segments)
    assert any("look 1/2" in line for line in lines) and any("PASS at 90% (0/" in line for line in lines)


def test_a_probe_over_capacity_is_decided_in_its_first_segment(tmp_path):
    from tests.synthetic_server import SyntheticServer

    server = SyntheticServer(capacity_rps=100.0)
    _, steps, _ = _search(tmp_path, "quick", server, start=200.0)
    first = steps[0]
    assert first.rate_rps == 200.0 and first.verdict.outcome == "fail" and len(first.segments) == 1


def test_the_fresh_start_hook_runs_in_standard_and_not_in_quick(tmp_path):
    from tests.synthetic_server import SyntheticServer

    standard = SyntheticServer(capacity_rps=100.0)
    search, steps, lines = _search(tmp_path / "standard", "standard", standard, fresh="hook")
    assert standard.restarts >= 1 and search.held
    assert len(search.fresh_start_confirmations) == standard.restarts == len(search.fresh_start_ready_s)
    held = search.headline_confirmations
    assert len(held) == 3 and [c.fresh_start for c in held] == [False, False, True]
    assert [s.fresh_start for s in steps if s.purpose == "SLO repeat"][-1] is True
    assert any("fresh server start 1" in line for line in lines)
    quick = SyntheticServer(capacity_rps=100.0)
    search, _, _ = _search(tmp_path / "quick", "quick", quick, fresh="hook")
    assert quick.restarts == 0 and not search.fresh_start_confirmations and search.fresh_start_note == ""


def test_a_remote_target_records_that_no_fresh_start_was_possible(tmp_path):
    from servingbench.run import fresh_start
    from servingbench.servers.launch import LaunchOptions
    from tests.synthetic_server import SyntheticServer

    class Restartable:
        def restart(self):
            raise AssertionError("a remote target must not be restarted")

    remote = fresh_start(LaunchOptions(mode="remote", target="http://10.0.0.9:8000"), Restartable())
    assert remote.restart is None and "remote target" in remote.unavailable
    local = fresh_start(LaunchOptions(mode="local"), Restartable())
    assert local.restart is not None and local.unavailable == ""
    server = SyntheticServer(capacity_rps=100.0)
    search, _, lines = _search(tmp_path, "standard", server, fresh=remote)
    assert search.fresh_start_note == "fresh-start confirmation not possible for a remote target"
    assert not search.fresh_start_confirmations and server.restarts == 0 and search.held
    assert any("not possible for a remote target" in line for line in lines)


def test_a_server_below_the_profiles_floor_is_not_reported_as_failing_every_rate(tmp_path):
    """Capacity 10 req/s is below quick's provable floor (~19.9 req/s): the search stops at the floor and
    the run's headline says which rates failed and that lower ones cannot be decided at this profile."""
    from servingbench.profiles import PROFILES
    from servingbench.report.model import none_held_why
    from tests.synthetic_server import SyntheticServer

    search, steps, lines = _search(tmp_path, "quick", SyntheticServer(capacity_rps=10.0), start=60.0)
    floor = PROFILES["quick"].provable_floor_rps()
    assert not search.held and search.stopped_at_floor
    assert search.provable_floor_rps == pytest.approx(floor, abs=0.01)
    assert all(step.rate_rps >= floor for step in steps) and len(steps) < PROFILES["quick"].slo_probes
    assert any("search stopped: below 19.9 req/s" in line for line in lines)
    why = none_held_why(search)
    failed = search.outcomes["fail"]
    assert failed and why.startswith(", ".join(f"{r:g}" for r in reversed(failed)) + " req/s failed")
    assert "below 19.9 req/s its probes cannot pass" in why


def test_a_held_rate_needs_no_explanation(tmp_path):
    from servingbench.report.model import none_held_why
    from tests.synthetic_server import SyntheticServer

    search, _, _ = _search(tmp_path, "quick", SyntheticServer(capacity_rps=100.0))
    assert search.held and not search.stopped_at_floor and none_held_why(search) == ""
