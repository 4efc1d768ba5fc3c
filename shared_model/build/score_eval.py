"""Score the evaluation sentences with the ONNX predictor and record eval_accuracy in head/metrics.json.

Runs wherever the serving runtime is installed (shared_model/requirements.txt): the number it writes is the
one the harness will see, not the torch one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from shared_model.predictor import Predictor

HERE = Path(__file__).resolve().parent

EVAL_CSV = HERE.parent / "eval" / "sentences.csv"
METRICS = HERE.parent / "head" / "metrics.json"


def read_eval(path: Path = EVAL_CSV) -> tuple[list[str], list[str]]:
    """(texts, labels) of the evaluation set."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def eval_accuracy(predictor: Predictor) -> tuple[float, list[tuple[str, str, str, float]]]:
    """Accuracy on the eval set and the misclassified rows (text, expected, got, probability)."""
    texts, labels = read_eval()
    preds = predictor.predict(texts)
    wrong = [(t, y, p, s) for t, y, (p, s) in zip(texts, labels, preds, strict=True) if p != y]
    return 1 - len(wrong) / len(texts), wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="default: $SB_MODEL_DIR")
    parser.add_argument("--write", action="store_true", help="store eval_accuracy in head/metrics.json")
    args = parser.parse_args(argv)
    acc, wrong = eval_accuracy(Predictor(args.model_dir, threads=1))
    texts, _ = read_eval()
    for text, expected, got, p in wrong:
        print(f"  wrong: expected {expected}, got {got} ({p:.3f}): {text}")
    print(f"eval accuracy {acc:.4f} ({len(texts) - len(wrong)}/{len(texts)})")
    if args.write:
        metrics = json.loads(METRICS.read_text())
        metrics["eval_accuracy"] = round(acc, 6)
        metrics["n_eval"] = len(texts)
        METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
