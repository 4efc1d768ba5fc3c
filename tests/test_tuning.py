"""The configuration grid and the earned tuned preset (the search itself runs real servers: make tune)."""

import json

from servingbench.adapter import Tunables
from servingbench.frameworks import load_adapter
from servingbench.presets import TUNED_FILE, presets_of, resolve_tunables
from servingbench.tuning import candidates, write_tuned_preset


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


def test_earned_preset_replaces_the_hand_chosen_one(tmp_path, monkeypatch):
    adapter = load_adapter("baseline")
    monkeypatch.setattr(type(adapter), "folder", property(lambda self: tmp_path))
    result = {
        "table": [
            {"tunables": Tunables().as_dict(), "throughput_at_slo_rps": 50.0, "status": "complete"},
            {"tunables": Tunables(workers=2).as_dict(), "throughput_at_slo_rps": 61.5, "status": "complete"},
        ],
        "candidates_total": 2, "slo_p99_ms": 100.0, "server_cpus": [0], "date": "20261122T000000Z",
    }
    result["best"] = result["table"][1]
    path = write_tuned_preset(adapter, result)
    assert path == tmp_path / TUNED_FILE and json.loads(path.read_text())["tunables"]["workers"] == 2
    tuned = presets_of(adapter)["tuned"]
    assert tuned.tunables == Tunables(workers=2)
    assert "61.5 req/s" in tuned.note and "50.0 for the defaults" in tuned.note
    tunables, note = resolve_tunables(adapter, "tuned", {"workers": 1})
    assert tunables == Tunables() and "overridden" in note


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


def test_the_default_row_is_the_framework_default(tmp_path, monkeypatch):
    adapter = load_adapter("triton")
    monkeypatch.setattr(type(adapter), "folder", property(lambda self: tmp_path))
    default = adapter.presets()["default"].tunables.as_dict()
    batch1, batch16 = {**default, "max_batch_size": 1}, {**default, "max_batch_size": 16}
    result = {
        "table": [
            {"tunables": batch1, "throughput_at_slo_rps": 60.0, "status": "complete"},
            {"tunables": default, "throughput_at_slo_rps": 90.0, "status": "complete"},
            {"tunables": batch16, "throughput_at_slo_rps": 150.0, "status": "complete"},
        ],
        "candidates_total": 3, "slo_p99_ms": 100.0, "server_cpus": [0], "date": "20261130T000000Z",
        "default_tunables": default,
    }
    result["best"] = result["table"][2]
    write_tuned_preset(adapter, result)
    assert json.loads((tmp_path / TUNED_FILE).read_text())["default_throughput_at_slo_rps"] == 90.0
