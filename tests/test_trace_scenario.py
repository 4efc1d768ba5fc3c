"""SCENARIO=trace: the trace format and every refusal, the speed-up, the schedule, the per-second analysis,
the example trace's generator, and the scenario end to end on a synthetic server (no process)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loadtests.corpus import request_texts
from servingbench.envs import REPO
from servingbench.load import trace_file
from servingbench.load.steps import StepContext
from servingbench.load.trace_file import TraceError, check_replay, peak_rate, read_trace, schedule_table
from servingbench.measure.timeline import goodput_ratio, timeline
from servingbench.profiles import PROFILES
from servingbench.record.run_record import RunRecord
from servingbench.scenarios import trace as trace_scenario
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.records import TraceResult
from servingbench.servers.target import HttpTarget
from tests.replay_server import ReplayServer

CORPUS = len(request_texts())


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_three_formats_comments_blank_lines_and_simultaneous_arrivals(tmp_path):
    plain = read_trace(write(tmp_path, "# a comment\n\noffset_s\n0\n0.5\n0.5\n2.25\n"), CORPUS)
    assert plain.columns == "offset_s" and plain.values is None and plain.kind == ""
    assert plain.offsets.tolist() == [0.0, 0.5, 0.5, 2.25] and plain.lines.tolist() == [4, 5, 6, 7]
    ids = read_trace(write(tmp_path, "\ufeffoffset_s,text_id\n0.1,0\n0.2,125\n# end\n"), CORPUS)
    assert ids.kind == "text_id" and ids.values.tolist() == [0, CORPUS - 1]
    lengths = read_trace(write(tmp_path, "offset_s, tokens\n1,8\n2,512\n"), CORPUS)
    assert lengths.kind == "tokens" and lengths.values.tolist() == [8, 512]
    assert len(plain.sha256) == 64 and plain.sha256 != ids.sha256


@pytest.mark.parametrize(("text", "message"), [
    ("", "the trace is empty"),
    ("# only a comment\n\n", "the trace is empty"),
    ("offset_s,text_id\n", "a header but no arrivals"),
    ("time,id\n0,1\n", r"t.csv:1: the header must be one of offset_s \| offset_s,text_id"),
    ("0.1\n0.2\n", "t.csv:1: the header must be one of"),
    ("offset_s\n0.1\nsoon\n", "t.csv:3: offset_s 'soon' is not a number"),
    ("offset_s\n0.1\nnan\n", "t.csv:3: offset_s 'nan' is not a finite number"),
    ("offset_s\n0.1\ninf\n", "t.csv:3: offset_s 'inf' is not a finite number"),
    ("offset_s\n-0.5\n", "t.csv:2: offset_s -0.5 is negative"),
    ("offset_s\n# c\n1.0\n0.5\n", "t.csv:4: offset_s 0.5 is before the previous arrival's 1: the trace must"),
    ("offset_s,text_id\n0.1\n", r"t.csv:2: expected 2 field\(s\) \(offset_s,text_id\), got 1"),
    ("offset_s\n0.1,3\n", r"t.csv:2: expected 1 field\(s\)"),
    ("offset_s,text_id\n0.1,3\n0.2,126\n", "t.csv:3: unknown text_id 126: the corpus .* has texts 0 to 125"),
    ("offset_s,text_id\n0.1,-1\n", "t.csv:2: unknown text_id -1"),
    ("offset_s,text_id\n0.1,2.5\n", "t.csv:2: text_id '2.5' is not a whole number"),
    ("offset_s,text_id\n0.1,abc\n", "t.csv:2: text_id 'abc' is not a number"),
    ("offset_s,tokens\n0.1,2\n", "t.csv:2: tokens 2 is outside 3..512"),
    ("offset_s,tokens\n0.1,513\n", "t.csv:2: tokens 513 is outside 3..512"),
])
def test_a_bad_trace_is_refused_naming_its_line(tmp_path, text, message):
    with pytest.raises(TraceError, match=message):
        read_trace(write(tmp_path, text), CORPUS)


def test_a_missing_or_binary_file_is_refused(tmp_path):
    with pytest.raises(TraceError, match="does not exist"):
        read_trace(tmp_path / "nope.csv", CORPUS)
    (tmp_path / "bin.csv").write_bytes(b"offset_s\n\xff\xfe\n")
    with pytest.raises(TraceError, match="is not UTF-8"):
        read_trace(tmp_path / "bin.csv", CORPUS)


def rows(offsets) -> str:
    return "offset_s\n" + "".join(f"{o:.4f}\n" for o in offsets)


def test_the_rate_bound_counts_a_burst_across_a_second_boundary_and_names_its_line(tmp_path):
    bound = trace_file.MAX_RATE_RPS
    burst = np.concatenate([[0.0], 0.5 + np.arange(bound + 1) * 0.9 / bound])
    trace = read_trace(write(tmp_path, rows(burst)), CORPUS)
    assert peak_rate(trace.offsets) == (trace_file.MAX_RATE_RPS + 1, 1)  # from 0.5 s, over the 1 s mark
    with pytest.raises(TraceError, match=r"t.csv:3: 1001 arrivals within one second from this line"):
        check_replay(trace, 1.0)
    check_replay(trace, 0.5)  # half the speed: at most ~556 in any second


def test_speed_up_divides_the_offsets_and_is_bounded(tmp_path):
    trace = read_trace(write(tmp_path, rows(np.arange(1800) / 60)), CORPUS)  # 60 req/s for 30 s
    assert np.allclose(trace.replayed(2.0), trace.offsets / 2)
    check_replay(trace, 16.0)  # 960 req/s
    with pytest.raises(TraceError, match="over the bound of 1000 req/s"):
        check_replay(trace, 17.0)
    for speed in (0.0, -1.0, trace_file.MAX_SPEED * 2):
        with pytest.raises(TraceError, match="TRACE_SPEED must be in"):
            check_replay(trace, speed)


def test_a_trace_longer_than_a_run_allows_is_refused_at_its_first_late_line(tmp_path):
    trace = read_trace(write(tmp_path, rows([0.0, 100.0, 1900.0, 2000.0])), CORPUS)
    with pytest.raises(TraceError, match=r"t.csv:4: the replay lasts 2000 s at speed 1, over the 1800 s"):
        check_replay(trace, 1.0)
    check_replay(trace, 2.0)


def test_too_many_arrivals_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(trace_file, "MAX_ARRIVALS", 3)
    with pytest.raises(TraceError, match="4 arrivals, more than the 3 a run sends"):
        check_replay(read_trace(write(tmp_path, rows([0, 1, 2, 3])), CORPUS), 1.0)


def fake_counter(_model_dir):
    return lambda text: len(text.split()) + 2


def test_each_arrival_is_sent_the_request_its_row_names(tmp_path, monkeypatch):
    plain = read_trace(write(tmp_path, rows(np.arange(130) / 10)), CORPUS)
    texts, picks = trace_scenario.requests_for(plain, tmp_path)
    assert texts == request_texts() and picks.tolist() == [i % CORPUS for i in range(130)]
    ids = read_trace(write(tmp_path, "offset_s,text_id\n0,5\n1,5\n2,0\n"), CORPUS)
    texts, picks = trace_scenario.requests_for(ids, tmp_path)
    assert picks.tolist() == [5, 5, 0] and texts[5] == request_texts()[5]
    monkeypatch.setattr(trace_scenario, "token_counter", fake_counter)
    sized = read_trace(write(tmp_path, "offset_s,tokens\n0,64\n1,8\n2,64\n3,64\n4,64\n5,64\n"), CORPUS)
    texts, picks = trace_scenario.requests_for(sized, tmp_path)
    count = fake_counter(None)
    assert len(texts) == 2 * trace_scenario.VARIANTS  # lengths 8 and 64, four texts each
    assert [count(texts[i]) for i in picks] == [64, 8, 64, 64, 64, 64]
    assert picks.tolist()[2:] == [5, 6, 7, 4]  # the 64-token texts in turn
    table = schedule_table(sized.offsets, picks)
    assert table.shape == (6, 2) and table[:, 1].tolist() == picks.tolist()
    assert schedule_table(sized.offsets, None).ndim == 1


def sample_rows(sent, latency_ms, status) -> np.ndarray:
    n = len(sent)
    return np.column_stack([sent, latency_ms, status, np.zeros(n), np.zeros(n)]).astype(np.float64)


def test_timeline_counts_offered_goodput_failures_and_slo_seconds():
    t0 = 100.0
    samples = sample_rows(
        [100.1, 100.2, 100.9, 101.1, 101.5, 102.3, 102.4, 102.5, 103.9],
        [10.0, 20.0, 300.0, 15.0, 15.0, 30.0, 40.0, 50.0, 5.0],
        [200, 200, 200, 200, 503, 200, 200, 200, 200])
    line = timeline(samples, t0, 4, slo_ms=100.0)
    assert line.offered == [3, 2, 3, 1]
    # 100.9 + 0.3 s finishes in second 1; the 503 is no goodput
    assert line.goodput == [2, 2, 3, 1]
    assert line.failed == [0, 1, 0, 0]
    assert line.p99_ms == [300.0, 15.0, 50.0, 5.0]
    assert line.over_slo == [True, True, False, False] and line.seconds_over_slo == 2
    assert goodput_ratio(samples, t0, t0 + 4, 9) == pytest.approx(8 / 9)
    empty = timeline(sample_rows([], [], []), t0, 2, 100.0)
    assert empty.offered == [0, 0] and empty.p99_ms == [None, None] and empty.over_slo == [False, False]


def test_a_second_with_many_requests_tolerates_one_percent_over_the_slo():
    sent = 10.0 + np.arange(200) / 200
    ok = timeline(sample_rows(sent, [500.0, 500.0] + [10.0] * 198, [200] * 200), 10.0, 1, 100.0)
    bad = timeline(sample_rows(sent, [500.0, 500.0, 500.0] + [10.0] * 197, [200] * 200), 10.0, 1, 100.0)
    assert ok.over_slo == [False] and bad.over_slo == [True]  # 2 of 200 is 1%, 3 is over


def load_script():
    path = REPO / "scripts" / "make_example_trace.py"
    spec = importlib.util.spec_from_file_location("make_example_trace", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_shipped_example_is_the_scripts_output_and_fits_its_bounds():
    script = load_script()
    assert trace_scenario.EXAMPLE.read_text(encoding="utf-8") == script.trace_text()
    assert script.trace_text(script.SEED + 1) != script.trace_text()
    trace = read_trace(trace_scenario.EXAMPLE, CORPUS)
    check_replay(trace, 1.0)
    assert trace.kind == "text_id" and trace.offsets[-1] < script.DAY_S
    per_second = np.bincount(trace.offsets.astype(int), minlength=script.DAY_S)
    night, day = per_second[10:30].mean(), per_second[70:90].mean()
    assert night < 6 and day > 9, (night, day)  # the diurnal ramp
    burst = per_second[46:50].mean()
    assert burst > 1.8 * per_second[40:46].mean()  # and a burst on it
    assert "GENERATED" in trace_scenario.EXAMPLE.read_text().splitlines()[0]


def test_check_falls_back_to_the_example_and_refuses_a_bad_trace(tmp_path):
    trace_scenario.SCENARIO.check(ScenarioOptions())
    assert trace_scenario.trace_path(ScenarioOptions()) == trace_scenario.EXAMPLE
    with pytest.raises(ValueError, match=r"t.csv:3: offset_s 0.1 is before"):
        trace_scenario.SCENARIO.check(ScenarioOptions(trace=write(tmp_path, "offset_s\n0.5\n0.1\n")))
    with pytest.raises(ValueError, match="TRACE_SPEED"):
        trace_scenario.SCENARIO.check(ScenarioOptions(trace_speed=5000.0))


def test_the_cli_refuses_a_bad_trace_before_any_work(tmp_path):
    bad = write(tmp_path, "offset_s,text_id\n0.1,1\n0.2,999\n")
    proc = subprocess.run([sys.executable, "-m", "servingbench", "bench", "--framework", "baseline",
                           "--scenario", "trace", "--trace", str(bad), "--results", str(tmp_path / "res")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "t.csv:3: unknown text_id 999" in proc.stderr
    assert not (tmp_path / "res").exists()


def synthetic_scenario(tmp_path: Path, server: ReplayServer, trace: Path | None, speed: float = 1.0
                       ) -> ScenarioContext:
    from servingbench.frameworks import load_adapter

    adapter = load_adapter("baseline")
    target = HttpTarget(adapter, "127.0.0.1", 9, kind="local")
    ctx = StepContext(target, None, tmp_path / "load" / "requests.json", tmp_path / "load", (0,), 100.0,
                      open_loop=server)
    return ScenarioContext(ctx, None, adapter, None, PROFILES["quick"], RunRecord(framework="baseline",  # type: ignore[arg-type]
                           preset="default"), tmp_path / "run", tmp_path, ScenarioOptions(trace, speed),
                           progress=lambda _line: None)


def test_the_replay_sends_the_trace_sped_up_and_finds_the_burst(tmp_path):
    parts = [np.arange(0, 4, 0.1), np.arange(4, 6, 0.02), np.arange(6, 10, 0.1)]  # a burst at 4..6 s
    offsets = np.round(np.concatenate(parts), 3)
    ids = np.arange(offsets.size) % 7
    body = "".join(f"{o:.3f},{i}\n" for o, i in zip(offsets, ids, strict=True))
    path = write(tmp_path, "offset_s,text_id\n" + body)
    server = ReplayServer(slow_from=2.0, slow_to=3.0, fail_indices=frozenset({5}))  # replayed seconds
    sc = synthetic_scenario(tmp_path, server, path, speed=2.0)
    result = trace_scenario.SCENARIO.run(sc)
    assert isinstance(result, TraceResult) and result.arrivals == offsets.size and result.trace_s == 5
    call = server.calls[0]
    assert np.allclose(call["offsets"], offsets / 2) and call["picks"].tolist() == ids.tolist()
    assert call["duration"] == 5 + trace_scenario.TAIL_S
    assert result.timeline.offered == np.bincount((offsets / 2).astype(int), minlength=5).tolist()
    # the slow second (replayed 2..3) and the second with the 503 (replayed 0..1)
    assert result.timeline.over_slo == [True, False, True, False, False] and result.seconds_over_slo == 2
    assert result.step.failure_kinds == {"HTTP 503": 1}
    assert result.goodput_ratio == pytest.approx((offsets.size - 1) / offsets.size)
    assert result.peak_rate_rps == peak_rate(offsets / 2)[0] and result.speed == 2.0 and not result.example
    samples = np.load(sc.folder / result.step.samples_file)
    assert timeline(samples, result.timeline_start, 5, 100.0).over_slo == result.timeline.over_slo
    assert (sc.folder / "scenarios" / "trace" / "trace.requests.json").is_file()
    assert TraceResult.from_dict(result.to_dict()) == result


def test_the_run_page_and_the_index_show_the_samples_figures(tmp_path):
    import re
    import shutil

    from servingbench.measure import stats
    from servingbench.report.pages import write_reports
    from tests.test_report_data import write_run

    server = ReplayServer(slow_from=3.0, slow_to=5.0)
    sc = synthetic_scenario(tmp_path, server, None)  # the example trace
    result = trace_scenario.SCENARIO.run(sc)
    assert result.example and result.trace == "loadtests/traces/diurnal_bursts.csv"
    results = tmp_path / "results"
    folder = write_run(results, extra={"scenarios": {"failed": {}, "trace": result.to_dict()},
                                       "scenarios_run": ["trace"]})
    shutil.copytree(sc.folder / "scenarios", folder / "scenarios")
    write_reports(results, tmp_path / "reports")
    page = (folder / "report.html").read_text().split('id="scenario-trace"')[1]
    samples = np.load(folder / result.step.samples_file)
    line = timeline(samples, result.timeline_start, result.trace_s, result.slo_p99_ms)
    window = stats.sent_in_window(samples, result.step.window_start, result.step.window_end)

    def shown(field: str) -> float:
        return float(re.search(rf'data-field="{field}" data-value="([^"]+)"', page).group(1))

    assert shown("seconds_over_slo") == line.seconds_over_slo == 2
    assert shown("p99_ms") == stats.summarize(window, 1.0).p99_ms
    assert shown("goodput_ratio") == goodput_ratio(samples, result.step.window_start, result.step.window_end,
                                                   result.arrivals)
    seconds = re.findall(r'<tr data-second="(\d+)"><td>\d+</td><td>(\d+)</td><td>(\d+)</td>', page)
    assert [(int(a), int(b)) for _, a, b in seconds] == list(zip(line.offered, line.goodput, strict=True))
    assert "<svg" in page
    index = (tmp_path / "reports" / "index.html").read_text().split('id="trace-index"')[1]
    assert f'data-metric="seconds_over_slo" data-value="{line.seconds_over_slo}"' in index


def test_the_time_estimate_follows_the_given_trace_and_its_speed(tmp_path):
    """A user's TRACE, not the example, sets the replay's share of the estimate: its last offset divided
    by TRACE_SPEED (whole seconds), plus the tail and Locust's start and stop."""
    profile = PROFILES["quick"]
    fixed = trace_scenario.TAIL_S + trace_scenario.LOCUST_OVERHEAD_S
    long_trace = write(tmp_path, "offset_s\n0\n100\n600.5\n", "long.csv")
    estimate = trace_scenario.SCENARIO.estimate_s
    assert estimate(profile, 5.0, ScenarioOptions(trace=long_trace)) == 601 + fixed
    assert estimate(profile, 5.0, ScenarioOptions(trace=long_trace, trace_speed=4.0)) == 151 + fixed
    short = write(tmp_path, "offset_s\n0\n2.5\n", "short.csv")
    assert estimate(profile, 5.0, ScenarioOptions(trace=short)) == 3 + fixed
    example = read_trace(trace_scenario.EXAMPLE, CORPUS)
    assert estimate(profile, 5.0, ScenarioOptions()) == trace_scenario.trace_seconds(example.offsets) + fixed
    assert estimate(profile, 5.0, ScenarioOptions(trace_speed=2.0)) == (
        trace_scenario.trace_seconds(example.replayed(2.0)) + fixed)
    # an unreadable trace adds nothing: the check before any load refuses it with its reason
    assert estimate(profile, 5.0, ScenarioOptions(trace=tmp_path / "missing.csv")) == 0.0
    assert estimate(profile, 5.0, ScenarioOptions(trace=write(tmp_path, "time\n1\n", "bad.csv"))) == 0.0
