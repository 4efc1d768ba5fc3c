"""SCENARIO=size: texts cut to a token count, the scenario on a synthetic server (no process), and its page
and index figures against the raw samples."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from loadtests.corpus import request_texts
from servingbench.load.locust import read_requests
from servingbench.load.steps import StepContext
from servingbench.measure import stats
from servingbench.profiles import PROFILES
from servingbench.record.run_record import RunRecord
from servingbench.report.pages import write_reports
from servingbench.scenarios import size
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.records import SizeResult
from servingbench.scenarios.sizing import MIN_TOKENS, sized_text, sized_texts
from servingbench.servers.target import HttpTarget
from tests.replay_server import ReplayServer
from tests.test_report_data import write_run


def words_plus_two(text: str) -> int:
    """A stand-in tokenizer: one token a word, plus [CLS] and [SEP]."""
    return len(text.split()) + 2


def test_a_sized_text_is_the_longest_word_prefix_within_the_target():
    corpus = ["one two three", "four five", "six seven eight nine"]
    assert sized_text(corpus, 6, 0, words_plus_two).text == "one two three four"
    assert sized_text(corpus, 6, 1, words_plus_two).text == "four five six seven"
    assert sized_text(corpus, 12, 2, words_plus_two).tokens == 12  # wraps around the corpus
    texts = sized_texts(request_texts(), 64, 5, words_plus_two)
    assert [t.tokens for t in texts] == [64] * 5 and len({t.text for t in texts}) == 5
    assert texts == sized_texts(request_texts(), 64, 5, words_plus_two)  # deterministic


def test_a_word_longer_than_the_target_is_cut_and_tiny_targets_refused():
    def pieces(text: str) -> int:  # a word is a piece per 3 characters
        return sum(-(-len(w) // 3) for w in text.split()) + 2

    text = sized_text(["extraordinarily long"], 4, 0, pieces)
    assert text.tokens <= 4 and text.text.startswith("extr")
    with pytest.raises(ValueError, match=f"at least {MIN_TOKENS} tokens"):
        sized_text(["a"], 2, 0, words_plus_two)
    with pytest.raises(ValueError, match="cannot reach"):
        sized_text(["a b"], 1000, 0, words_plus_two)


@pytest.mark.slow
def test_the_models_tokenizer_gives_each_size_within_a_word(model_dir):
    from servingbench.scenarios.sizing import token_counter

    count = token_counter(model_dir)
    assert count("good film") == 4  # [CLS] good film [SEP]
    for target in size.SIZES:
        tokens = [t.tokens for t in sized_texts(request_texts(), target, size.TEXTS_PER_SIZE, count)]
        assert max(tokens) == target and min(tokens) >= target - 3, (target, tokens)


def synthetic_context(tmp_path: Path, server: ReplayServer) -> ScenarioContext:
    from servingbench.frameworks import load_adapter

    adapter = load_adapter("baseline")
    ctx = StepContext(HttpTarget(adapter, "127.0.0.1", 9, kind="local"), None, tmp_path / "load" / "r.json",
                      tmp_path / "load", (0,), 100.0, open_loop=server)
    model = tmp_path / "model"
    model.mkdir()
    (model / "manifest.json").write_text(json.dumps({"max_length": 128}))
    return ScenarioContext(ctx, None, adapter, None, PROFILES["quick"],  # type: ignore[arg-type]
                           RunRecord(framework="baseline", preset="default"), tmp_path / "run", model,
                           ScenarioOptions(), progress=lambda _line: None)


@pytest.fixture()
def measured(tmp_path, monkeypatch) -> tuple[ScenarioContext, SizeResult, ReplayServer]:
    monkeypatch.setattr(size, "token_counter", lambda _dir: words_plus_two)
    server = ReplayServer(base_ms=5.0, per_byte_ms=0.05)
    sc = synthetic_context(tmp_path, server)
    return sc, size.SCENARIO.run(sc), server


def test_each_size_is_the_fixed_load_with_its_own_texts(measured):
    sc, result, server = measured
    assert [p.tokens for p in result.points] == list(size.SIZES) and result.max_length == 128
    assert [c["seed"] for c in server.calls] == [size.SEED] * len(size.SIZES)  # same arrivals each size
    assert all(c["rate"] == PROFILES["quick"].fixed_rate_rps for c in server.calls)
    assert all(c["duration"] == sum(size.DURATIONS["quick"]) for c in server.calls)
    for point in result.points:
        requests = read_requests(sc.folder / point.requests_file)
        assert len(requests) == size.TEXTS_PER_SIZE == point.texts
        texts = [json.loads(r.body)["texts"][0] for r in requests]
        assert {words_plus_two(t) for t in texts} == {point.tokens}
        assert point.tokens_model == min(point.tokens, 128)
        samples = np.load(sc.folder / point.step.samples_file)  # under scenarios/size/
        assert point.step.samples_file.startswith("scenarios/size/")
        window = stats.sent_in_window(samples, point.step.window_start, point.step.window_end)
        assert stats.summarize(window, 5.0).p99_ms == point.step.latency.p99_ms
    p99 = [p.step.latency.p99_ms for p in result.points]
    assert p99 == sorted(p99) and p99[-1] > 2 * p99[0]  # the longer body, the slower (the model above)
    assert SizeResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def page_values(html: str, section: str, field: str) -> dict[int, float]:
    part = html.split(f'id="{section}"', 1)[1]
    rows = re.findall(r'<tr data-tokens="(\d+)"(.*?)</tr>', part, flags=re.S)
    out = {}
    for tokens, row in rows:
        found = re.search(rf'data-(?:field|metric)="{field}"[^>]*data-value="([^"]+)"', row)
        if found:
            out[int(tokens)] = float(found.group(1))
    return out


def test_the_run_page_and_the_index_show_the_samples_figures(measured, tmp_path):
    sc, result, _ = measured
    results = tmp_path / "results"
    folder = write_run(results, extra={"scenarios": {"failed": {}, "size": result.to_dict()},
                                       "scenarios_run": ["size"]})
    shutil.copytree(sc.folder / "scenarios", folder / "scenarios")
    write_reports(results, tmp_path / "reports")
    page = (folder / "report.html").read_text()
    assert 'id="scenario-size"' in page and "<svg" in page.split('id="scenario-size"')[1]
    shown = page_values(page, "size-table", "p99_ms")
    for point in result.points:
        samples = np.load(folder / point.step.samples_file)
        window = stats.sent_in_window(samples, point.step.window_start, point.step.window_end)
        assert shown[point.tokens] == pytest.approx(stats.summarize(window, 5.0).p99_ms, rel=1e-12)
    cpu = page_values(page, "size-table", "cpu_ms_per_request")
    assert cpu == {}  # no monitor on the synthetic server: no CPU figure, a dash
    index = (tmp_path / "reports" / "index.html").read_text()
    assert 'id="size-index"' in index
    row = index.split('id="size-index"')[1].split('data-framework="baseline"')[1].split("</tr>")[0]
    for point in result.points:
        cell = row.split(f'data-tokens="{point.tokens}"')[1]
        assert f'data-value="{point.step.latency.p99_ms}"' in cell.split("</td>")[0]
