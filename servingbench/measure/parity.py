"""The parity gate: a framework must give the in-process predictor's answers before it is timed.

The evaluation sentences go through the adapter's native protocol, a few requests at a time so that
server-side batching is exercised; labels must equal the in-process labels and scores agree within
the tolerance. A framework that fails the gate gets no timings: it would not be serving this model.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from servingbench.adapter import Prediction
from servingbench.envs import REPO
from servingbench.record.serial import Record

EVAL_SET = REPO / "shared_model" / "eval" / "sentences.csv"
SCORE_TOLERANCE = 1e-4
NOT_FINITE = "is not a finite number"


@dataclass
class ParityResult(Record):
    passed: bool
    sentences: int
    label_mismatches: int
    max_score_diff: float
    tolerance: float
    accuracy: float
    """Accuracy of the served predictions against the evaluation set's labels."""
    failures: list[dict] = field(default_factory=list)
    error: str | None = None
    concurrency: int = 4
    """Requests in flight during the gate (1 for a batch-dependent model: no server can batch them)."""
    reference_batch: str = "all"
    """How the reference ran: "all" (one call; batch-independent model) or "each alone"."""


def eval_set() -> list[tuple[str, str]]:
    with open(EVAL_SET, newline="", encoding="utf-8") as fh:
        return [(row["text"], row["label"]) for row in csv.DictReader(fh)]


def reference_predictions(model_dir: Path, texts: list[str], each_alone: bool = False) -> list[Prediction]:
    """The in-process predictor of the same model folder (so the same variant) on ``texts``.

    ``each_alone``: one call per text, as an unbatched server computes it (int8 answers depend on their
    batch partners: measure.variants.batch_dependent).
    """
    from shared_model.predictor import Predictor

    predictor = Predictor(model_dir, threads=1)
    if each_alone:
        return [predictor.predict([t])[0] for t in texts]
    return predictor.predict(texts)


def model_labels(model_dir: Path) -> list[str]:
    """The model's label names (labels.json): a served label outside them is not this model's answer."""
    labels = json.loads((Path(model_dir) / "labels.json").read_text(encoding="utf-8"))
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{model_dir}/labels.json is not a list of label names")
    return labels


def answer_problem(answer: list[Prediction], labels: list[str] | None) -> str | None:
    """Why one served answer cannot pass whatever the reference says, or None.

    Why: a NaN score makes every comparison false, so ``diff > tolerance`` alone lets it through; and a
    label outside labels.json (an index, another model's name) is not this model's answer.
    """
    if len(answer) != 1:
        return f"{len(answer)} predictions for one text"
    label, score = answer[0]
    if not isinstance(score, numbers.Real) or isinstance(score, bool) or not math.isfinite(score):
        return f"score {score!r} {NOT_FINITE}"
    if labels is not None and label not in labels:
        return f"label {label!r} is not one of the model's labels ({', '.join(labels)})"
    return None


def check_parity(
    served: Callable[[list[str]], list[Prediction]],
    reference: list[Prediction],
    items: list[tuple[str, str]],
    *,
    concurrency: int = 4,
    tolerance: float = SCORE_TOLERANCE,
    labels: list[str] | None = None,
) -> ParityResult:
    """Send each sentence as its own request (``concurrency`` at a time) and compare.

    ``labels``: the model's labels (model_labels); every served label must be one of them.
    """
    texts = [text for text, _ in items]
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            answers = list(pool.map(lambda t: served([t]), texts))
    except Exception as exc:  # any failure to serve the set fails the gate, with the reason
        return ParityResult(False, len(texts), 0, float("nan"), tolerance, float("nan"),
                            error=f"{type(exc).__name__}: {exc}", concurrency=concurrency)
    failures = []
    max_diff = 0.0
    mismatches = correct = 0
    for (text, truth), answer, (ref_label, ref_score) in zip(items, answers, reference, strict=True):
        problem = answer_problem(answer, labels)
        if problem is not None:
            failures.append({"text": text, "problem": problem})
            score_only = problem.endswith(NOT_FINITE)
            mismatches += not score_only
            max_diff = math.inf if score_only else max_diff
            continue
        label, score = answer[0]
        diff = abs(score - ref_score)
        max_diff = max(max_diff, diff)
        correct += label == truth
        if label != ref_label or not diff <= tolerance:
            mismatches += label != ref_label
            failures.append({"text": text, "served": [label, score], "in_process": [ref_label, ref_score]})
    return ParityResult(
        passed=not failures, sentences=len(texts), label_mismatches=mismatches,
        max_score_diff=max_diff, tolerance=tolerance, accuracy=correct / len(texts),
        failures=failures[:20], concurrency=concurrency,
    )
