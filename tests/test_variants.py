"""Model variants: accuracy and flip arithmetic, the variant cache key, comparability, the report's pairs.

The slow test quantises the real exported model in the build environment (the model must be built).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from servingbench.envs import model_cache
from servingbench.measure.variants import SetScore, VariantEvaluation, batch_dependent, delta_points
from servingbench.record.results import list_runs
from servingbench.report.comparison import compare
from servingbench.report.model import run_view
from servingbench.report.pages import write_reports
from servingbench.report.variants import variant_pairs
from shared_model.build.variant_eval import compare_labels
from tests.test_report_data import held_search, write_run

EVALUATION = {
    "eval_sentences": {"n": 10, "fp32_correct": 9, "int8_correct": 8, "flips": 3, "flips_fixed": 1,
                       "flips_broken": 2, "max_prob_diff": 0.2},
    "heldout": {"n": 100, "fp32_correct": 78, "int8_correct": 76, "flips": 7, "flips_fixed": 2,
                "flips_broken": 4, "max_prob_diff": 0.3},
    "heldout_error": None,
    "batch_dependence": {"fp32": {"batch": 4, "n": 10, "max_prob_diff": 1e-7, "label_flips": 0},
                         "int8": {"batch": 4, "n": 10, "max_prob_diff": 0.15, "label_flips": 1}},
    "date": "2026-12-02T00:00:00+00:00",
}


def test_compare_labels_counts_accuracy_and_flips_by_direction() -> None:
    truth = ["p", "p", "n", "n", "p"]
    fp32 = ["p", "n", "n", "p", "p"]  # 3 right
    int8 = ["p", "p", "p", "p", "p"]  # 3 right; differs from fp32 at 1 (fixed) and 2 (broken)
    out = compare_labels(truth, fp32, int8, [0.9, 0.4, 0.2, 0.6, 0.8], [0.8, 0.6, 0.7, 0.6, 0.8])
    assert out == {"n": 5, "fp32_correct": 3, "int8_correct": 3, "flips": 2, "flips_fixed": 1,
                   "flips_broken": 1, "max_prob_diff": pytest.approx(0.5)}
    with pytest.raises(ValueError, match="length mismatch"):
        compare_labels(truth, fp32, int8[:-1])


def test_set_score_accuracy_agreement_and_delta() -> None:
    ev = VariantEvaluation.from_dict(EVALUATION)
    assert ev.heldout.accuracy("fp32") == pytest.approx(0.78)
    assert ev.heldout.accuracy("int8") == pytest.approx(0.76)
    assert ev.eval_sentences.agreement == pytest.approx(0.7)
    assert delta_points(ev) == pytest.approx(-2.0)
    assert delta_points(ev, "eval_sentences") == pytest.approx(-10.0)
    assert SetScore(0, 0, 0, 0).accuracy("fp32") is None
    assert ev.batch_dependence.int8.label_flips == 1


def test_unknown_variant_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(model_cache.UnknownVariant, match="valid: fp32, int8"):
        model_cache.check_variant("fp16")


def test_variant_key_follows_source_and_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "m"
    src.mkdir()
    (src / "model.onnx").write_bytes(b"x")
    (src / "manifest.json").write_text(json.dumps({"model_key": "k1"}))
    key = model_cache.variant_key(src, "int8")
    assert model_cache.variant_dir(src, "fp32") == src
    assert model_cache.variant_dir(src, "int8").name == f"int8-{key}"
    (src / "manifest.json").write_text(json.dumps({"model_key": "k2"}))
    assert model_cache.variant_key(src, "int8") != key  # another export: another int8 folder
    (src / "manifest.json").unlink()  # a user's folder without a key: its content is hashed
    by_content = model_cache.variant_key(src, "int8")
    (src / "model.onnx").write_bytes(b"y")
    assert model_cache.variant_key(src, "int8") != by_content
    recipe = tmp_path / "quantize_int8.py"
    recipe.write_text("changed")
    monkeypatch.setattr(model_cache, "VARIANT_INPUTS", [recipe])
    assert model_cache.variant_key(src, "int8") != by_content


def test_batch_dependent_reads_the_manifest(tmp_path: Path) -> None:
    assert batch_dependent(tmp_path) is False
    (tmp_path / "manifest.json").write_text(json.dumps({"batch_dependent": True}))
    assert batch_dependent(tmp_path) is True


def _variant_run(root: Path, variant: str, started: str, achieved: list[float], rate: float) -> Path:
    model = {"dir": f"/models/{variant}", "manifest": {"model_key": variant}, "variant": variant,
             "evaluation": EVALUATION if variant == "int8" else None}
    return write_run(root, "baseline", "default", started, tput=achieved[0],
                     extra={"model": model, "slo_search": held_search(achieved, rate)})


def test_variants_are_never_ranked_together_but_paired(tmp_path: Path) -> None:
    _variant_run(tmp_path, "fp32", "2026-01-01T00:00:00+00:00", [50.0, 51.0, 49.0], 50.0)
    _variant_run(tmp_path, "int8", "2026-01-02T00:00:00+00:00", [120.0, 118.0, 121.0], 120.0)
    write_run(tmp_path, "triton", "default", "2026-01-01T00:00:00+00:00", tput=40.0)
    views = [run_view(r) for r in list_runs(tmp_path)]
    c = compare(views)
    rows = {(r.framework, r.run.variant): r for r in c.rows if r.run}
    assert set(rows) == {("baseline", "fp32"), ("baseline", "int8"), ("triton", "fp32")}
    int8_row = rows[("baseline", "int8")]
    assert int8_row.rank is None and "model int8" in int8_row.other_setting
    assert rows[("baseline", "fp32")].rank is not None
    pairs = variant_pairs(views)
    assert len(pairs) == 1
    pair = pairs[0]
    assert (pair.fp32.variant, pair.int8.variant) == ("fp32", "int8")
    assert pair.ratio("throughput_at_slo_rps") == pytest.approx(pair.int8.throughput_at_slo_rps
                                                                / pair.fp32.throughput_at_slo_rps)
    assert pair.verdict in {"int8 ahead", "tied", "unproven"}
    assert pair.evaluation.heldout.flips == 7


def test_pages_show_the_variant_and_the_pair(tmp_path: Path) -> None:
    _variant_run(tmp_path, "fp32", "2026-01-01T00:00:00+00:00", [50.0, 51.0, 49.0], 50.0)
    _variant_run(tmp_path, "int8", "2026-01-02T00:00:00+00:00", [120.0, 118.0, 121.0], 120.0)
    index = write_reports(tmp_path, tmp_path / "reports")[-1]
    html = index.read_text()
    assert 'id="variants-table"' in html and 'data-variant="int8"' in html
    int8_page = (tmp_path / "reports" / "runs" / "20260102T000000Z-baseline-default.html").read_text()
    assert 'id="variant-accuracy"' in int8_page and "76.00%" in int8_page
    assert 'id="batch-dependence"' in int8_page


def test_a_single_variant_gets_no_pair(tmp_path: Path) -> None:
    _variant_run(tmp_path, "int8", "2026-01-02T00:00:00+00:00", [120.0, 118.0, 121.0], 120.0)
    assert variant_pairs([run_view(r) for r in list_runs(tmp_path)]) == []


@pytest.mark.slow
def test_quantise_the_real_model(tmp_path: Path) -> None:
    """quantize_dynamic on the real export: smaller, loads in the predictor, mostly the same labels."""
    source = model_cache.ensure_model()
    python = model_cache.ensure_build_env(quiet=True)
    out = tmp_path / "int8"
    result = subprocess.run([str(python), "-m", model_cache.QUANTIZE_MODULE, "--src", str(source), "--out",
                             str(out), "--no-heldout"], capture_output=True, text=True, cwd=model_cache.REPO,
                            env={"ORT_DISABLE_TELEMETRY": "1", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["variant"] == "int8" and manifest["batch_dependent"] is True
    assert manifest["size_bytes"]["int8"] < manifest["size_bytes"]["fp32"] / 3
    ev = VariantEvaluation.from_dict(json.loads((out / "evaluation.json").read_text()))
    assert ev.heldout is None and "no-heldout" in ev.heldout_error
    s = ev.eval_sentences
    assert s.n == 126 and s.fp32_correct == 114  # head/metrics.json: 0.905 with the fp32 ONNX predictor
    assert 0 < s.max_prob_diff < 0.5 and s.flips <= 15  # quantised: answers move, labels mostly agree
    assert ev.batch_dependence.fp32.max_prob_diff < 1e-5 < ev.batch_dependence.int8.max_prob_diff
    from shared_model.predictor import Predictor

    label, score = Predictor(out, threads=1).predict(["A warm, funny and moving film."])[0]
    assert label == "positive" and 0.5 < score <= 1.0
