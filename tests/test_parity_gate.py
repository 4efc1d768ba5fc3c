import json
import math

import pytest

from servingbench.measure.parity import check_parity, model_labels

LABELS = ["negative", "positive"]
ITEMS = [("good film", "positive"), ("bad film", "negative"), ("fine", "positive")]
REFERENCE = [("positive", 0.9), ("negative", 0.8), ("positive", 0.6)]


def _served(answers: dict[str, tuple[str, float]]):
    return lambda texts: [answers[t] for t in texts]


def _exact() -> dict[str, tuple[str, float]]:
    return {text: ref for (text, _), ref in zip(ITEMS, REFERENCE, strict=True)}


def test_matching_predictions_pass():
    result = check_parity(_served(_exact()), REFERENCE, ITEMS, labels=LABELS)
    assert result.passed and result.label_mismatches == 0 and result.accuracy == 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_score_fails_the_gate(bad):
    answers = _exact()
    answers["fine"] = ("positive", bad)
    result = check_parity(_served(answers), REFERENCE, ITEMS, labels=LABELS)
    assert not result.passed
    assert result.max_score_diff == math.inf
    assert any("not a finite number" in f.get("problem", "") for f in result.failures)


def test_a_nan_reference_cannot_pass_either():
    reference = [*REFERENCE[:2], ("positive", math.nan)]
    assert not check_parity(_served(_exact()), reference, ITEMS, labels=LABELS).passed


def test_a_label_outside_the_models_labels_fails():
    answers = _exact()
    answers["good film"] = ("LABEL_1", 0.9)
    reference = [("LABEL_1", 0.9), *REFERENCE[1:]]  # even if the reference agrees
    result = check_parity(_served(answers), reference, ITEMS, labels=LABELS)
    assert not result.passed
    assert "not one of the model's labels" in result.failures[0]["problem"]


def test_labels_are_read_from_the_model_folder(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    assert model_labels(tmp_path) == LABELS
    (tmp_path / "labels.json").write_text(json.dumps({"0": "negative"}))
    with pytest.raises(ValueError, match="not a list"):
        model_labels(tmp_path)
