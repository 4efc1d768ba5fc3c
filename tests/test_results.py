"""Run folders are published atomically and only finished runs are read back."""

import json

from servingbench.record.results import RunWriter, list_runs, load_run
from tests.test_report_data import step


def test_partial_run_is_invisible_until_finished(tmp_path):
    writer = RunWriter(tmp_path, "baseline", "default")
    (writer.folder / "server").mkdir()
    assert list_runs(tmp_path) == []  # half-written: not a run
    writer.record.steps.append(step(1, 10.0, 5.0, 9.0))
    final = writer.finish("complete")
    assert not writer.partial.exists() and final.is_dir()
    runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == [writer.run_id]
    header, row = (line.split(",") for line in (final / "steps.csv").read_text().splitlines())
    assert header[:3] == ["mode", "name", "users"] and "status_counts" not in header  # mappings stay in json
    assert dict(zip(header, row, strict=True))["throughput_rps"] == "10.0"


def test_failed_run_keeps_reason(tmp_path):
    writer = RunWriter(tmp_path, "rayserve", "tuned")
    final = writer.finish("failed", "ServerDied: exited with code 1")
    run = load_run(final)
    assert run.status == "failed" and "exited" in run.failure_reason
    assert run.git.commit is None or len(run.git.commit) == 40
    assert run.machine.logical_cpus >= 1


def test_unreadable_or_foreign_folders_are_ignored(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.json").write_text("{not json")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "run.json").write_text(json.dumps({"status": "running"}))
    assert list_runs(tmp_path) == []


def test_two_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    first = RunWriter(tmp_path, "triton", "default")
    published = first.finish("failed", "exited at once")
    second = RunWriter(tmp_path, "triton", "default")
    third = RunWriter(tmp_path, "triton", "default")  # while the second is still being written
    assert len({first.run_id, second.run_id, third.run_id}) == 3
    assert second.finish("complete") != published and third.finish("complete") != published
    assert {r.status for r in list_runs(tmp_path)} == {"failed", "complete"}
    assert len(list_runs(tmp_path)) == 3
