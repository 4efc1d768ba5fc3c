"""The configuration grid, the keep/reject rule and the tuned preset it writes (the search itself runs real
servers: make tune). Candidate results are synthetic: hand-made rows, or simulated servers' runs."""

import json
from collections import Counter

import pytest

from servingbench.adapter import Tunables
from servingbench.frameworks import load_adapter
from servingbench.presets import TUNED_FILE, CandidateRow, TunedPreset, presets_of, resolve_tunables
from servingbench.tuning import (
    FINAL_PROFILE,
    TUNE_PROFILE,
    Decision,
    TuningResult,
    candidate_row,
    candidates,
    challenger_of,
    decide,
    final_estimate_s,
    screen,
    write_tuned_preset,
)
from tests.simulated_server import Server


def test_grid_keeps_only_what_the_framework_accepts():
    baseline = load_adapter("baseline")  # no batching in the baseline
    grid = candidates(baseline, cpus=1)
    assert grid and all(not t.batching for t in grid)
    assert {t.workers for t in grid} == {1, 2}


def test_grid_crosses_workers_and_batching():
    rayserve = load_adapter("rayserve")
    grid = candidates(rayserve, cpus=2)
    assert {t.workers for t in grid} == {1, 2, 4}
    assert any(t.batching for t in grid) and any(not t.batching for t in grid)


def test_grid_starts_with_the_framework_defaults_and_runs_each_configuration_once():
    for name in ("triton", "torchserve", "seldon", "baseline"):
        adapter = load_adapter(name)
        grid = candidates(adapter, cpus=1)
        assert grid[0] == adapter.presets()["default"].tunables, name
        keys = [json.dumps(t.as_dict(), sort_keys=True) for t in grid]
        assert len(keys) == len(set(keys)), name
    triton = candidates(load_adapter("triton"), cpus=1)
    assert triton[0].max_batch_size == 4  # PyTriton's default, measured as such, not as batch size 1
    assert any(t.max_batch_size == 1 for t in triton)


DEFAULT = Tunables().as_dict()
TWO = Tunables(workers=2).as_dict()
BATCHED = Tunables(max_batch_size=16).as_dict()


def row(tunables, tput, interval=None, repeats=3, stage="final", status="complete", held=True):
    return CandidateRow(tunables=tunables, status=status, throughput_at_slo_rps=tput, stage=stage,
                        repeats=repeats, interval_rps=interval, held=held)


def test_a_challenger_is_kept_only_when_ahead_of_the_defaults():
    kept = decide(DEFAULT, [], [row(DEFAULT, 50.0, [49.0, 52.0]), row(TWO, 80.0, [78.0, 84.0])])
    assert kept.kept and kept.verdict == "ahead" and kept.challenger == TWO
    assert kept.reason == "ahead of the defaults: best 80.0 req/s vs default 50.0 req/s"
    assert "lies wholly above" in kept.why
    tied = decide(DEFAULT, [], [row(DEFAULT, 50.0, [49.0, 53.0]), row(TWO, 52.0, [50.0, 55.0])])
    assert not tied.kept and tied.verdict == "tied"
    assert tied.reason == "no candidate ahead of the defaults: best 52.0 req/s vs default 50.0 req/s, tied"
    wide = decide(DEFAULT, [], [row(DEFAULT, 50.0, [45.0, 60.0]), row(TWO, 70.0, [55.0, None])])
    assert not wide.kept and wide.reason.endswith(", unproven")
    one = decide(DEFAULT, [], [row(DEFAULT, 50.0, [50.0, 52.0], 1), row(TWO, 90.0, [90.0, 94.0], 1)])
    assert not one.kept and one.verdict == "unproven"  # far apart, but one repeat each proves nothing


def test_no_challenger_failed_or_unheld_confirming_runs_keep_the_defaults():
    screened = [row(DEFAULT, 60.0, stage="screen", repeats=1), row(TWO, 55.0, stage="screen", repeats=1)]
    assert challenger_of(screened, DEFAULT) is None
    none = decide(DEFAULT, screened, [])
    assert not none.kept
    assert "none beat them in the screen (best other 55.0 req/s vs default 60.0" in none.reason
    alone = decide(DEFAULT, screened[:1], [])
    assert alone.reason == "no candidate but the defaults was measured within the budget"
    failed = decide(DEFAULT, [], [row(DEFAULT, 50.0, [49.0, 52.0]), row(TWO, 0.0, status="failed")])
    assert not failed.kept and "challenger's confirming run failed" in failed.reason
    unheld = decide(DEFAULT, [], [row(DEFAULT, 50.0, [49.0, 52.0]), row(TWO, 0.0, None, held=False)])
    assert not unheld.kept and "the challenger held no rate" in unheld.reason


def test_the_challenger_is_the_screens_best_when_it_beat_the_defaults():
    screened = [row(DEFAULT, 60.0, stage="screen", repeats=1), row(TWO, 75.0, stage="screen", repeats=1),
                row(BATCHED, 90.0, stage="screen", repeats=1, held=False),  # held no rate: out
                row(Tunables(workers=4).as_dict(), 99.0, stage="screen", status="failed")]
    assert challenger_of(screened, DEFAULT).tunables == TWO


def test_on_simulated_servers_an_equal_challenger_is_rarely_kept_and_a_much_better_one_mostly():
    def kept_share(ratio, runs=40):
        calls = Counter()
        for seed in range(runs):
            base = candidate_row(DEFAULT, Server(100.0, FINAL_PROFILE).run(seed), "final")
            best = candidate_row(TWO, Server(100.0 * ratio, FINAL_PROFILE).run(5000 + seed), "final")
            calls[decide(DEFAULT, [], [base, best]).kept] += 1
        return calls[True] / runs

    assert kept_share(1.0) <= 0.05
    assert kept_share(2.0) >= 0.75


def _result(decision, table, final):
    return TuningResult(framework="baseline", date="20261202T000000Z", budget_s=720.0, slo_p99_ms=100.0,
                        server_cpus=[0], candidates_total=4, default_tunables=DEFAULT, decision=decision,
                        table=table, final=final)


@pytest.fixture
def adapter(tmp_path, monkeypatch):
    adapter = load_adapter("baseline")
    monkeypatch.setattr(type(adapter), "folder", property(lambda self: tmp_path))
    return adapter


def test_a_kept_challenger_becomes_the_tuned_preset(adapter, tmp_path):
    table = [row(DEFAULT, 50.0, stage="screen", repeats=1), row(TWO, 70.0, stage="screen", repeats=1)]
    final = [row(DEFAULT, 52.0, [50.0, 54.0]), row(TWO, 81.5, [80.0, 85.0])]
    path = write_tuned_preset(adapter, _result(decide(DEFAULT, table, final), table, final))
    assert path == tmp_path / TUNED_FILE
    data = json.loads(path.read_text())
    assert data["tunables"] == TWO and data["kept"] is True and data["verdict"] == "ahead"
    assert data["throughput_at_slo_rps"] == 81.5 and data["default_throughput_at_slo_rps"] == 52.0
    assert data["profile"] == FINAL_PROFILE.name and len(data["final"]) == 2
    tuned = presets_of(adapter)["tuned"]
    assert tuned.tunables == Tunables(workers=2) and "81.5 req/s" in tuned.note and "ahead" in tuned.note
    tunables, note = resolve_tunables(adapter, "tuned", {"workers": 1})
    assert tunables == Tunables() and "overridden" in note


def test_otherwise_tuned_equals_the_defaults_and_says_why(adapter, tmp_path):
    table = [row(DEFAULT, 50.0, stage="screen", repeats=1), row(TWO, 58.0, stage="screen", repeats=1)]
    final = [row(DEFAULT, 52.0, [50.0, 55.0]), row(TWO, 53.0, [51.0, 56.0])]
    decision = decide(DEFAULT, table, final)
    write_tuned_preset(adapter, _result(decision, table, final))
    data = json.loads((tmp_path / TUNED_FILE).read_text())
    assert data["tunables"] == DEFAULT and data["kept"] is False and data["verdict"] == "tied"
    assert data["reason"] == "no candidate ahead of the defaults: best 53.0 req/s vs default 52.0 req/s, tied"
    tuned = presets_of(adapter)["tuned"]
    assert tuned.tunables == presets_of(adapter)["default"].tunables
    assert tuned.note.startswith("the defaults:")
    assert "best 53.0 req/s vs default 52.0 req/s, tied" in tuned.note
    # nothing confirmed, nothing screened but the defaults: still the defaults, still a reason
    alone = [row(DEFAULT, 50.0, stage="screen", repeats=1)]
    write_tuned_preset(adapter, _result(decide(DEFAULT, alone, []), alone, []))
    data = json.loads((tmp_path / TUNED_FILE).read_text())
    assert data["tunables"] == DEFAULT and data["profile"] == TUNE_PROFILE.name and data["final"] == []
    assert data["reason"] == "no candidate but the defaults was measured within the budget"


def test_nothing_is_written_without_a_complete_run_of_the_defaults_or_after_an_interrupt(adapter, tmp_path):
    failed = [row(DEFAULT, 0.0, stage="screen", status="failed")]
    assert write_tuned_preset(adapter, _result(Decision(False, "x"), failed, [])) is None
    stopped = [row(DEFAULT, 50.0, stage="screen"), row(TWO, 0.0, stage="screen", status="interrupted")]
    assert write_tuned_preset(adapter, _result(Decision(False, "x"), stopped, [])) is None
    assert not (tmp_path / TUNED_FILE).exists()


def test_tuned_files_written_before_the_rule_still_read():
    for name in ("baseline", "mlserver", "rayserve", "triton"):
        adapter = load_adapter(name)
        tuned = TunedPreset.from_dict(json.loads((adapter.folder / TUNED_FILE).read_text()))
        if tuned.kept is None:  # until the lead re-earns them under the rule
            assert "before the ahead rule" in presets_of(adapter)["tuned"].note
        assert presets_of(adapter)["tuned"].tunables == type(adapter.presets()["default"].tunables)(
            **tuned.tunables)


def test_the_screen_always_measures_the_defaults_and_keeps_room_for_the_confirming_runs():
    measured = []

    def measure(tunables, profile, stage):
        measured.append((tunables, profile.name, stage))
        return row(tunables, 50.0, stage=stage, repeats=1)

    grid = candidates(load_adapter("rayserve"), cpus=1)
    assert len(screen(grid, budget_s=1.0, measure=measure, out=lambda _: None, name="x")) == 1
    assert measured == [(grid[0].as_dict(), "tune", "screen")]
    roomy = final_estimate_s([]) + 3600
    assert len(screen(grid, budget_s=roomy, measure=measure, out=lambda _: None, name="x")) == len(grid)
    assert final_estimate_s([]) > 2 * FINAL_PROFILE.estimate_s()
