"""Model variants (fp32, int8) as the run record and the report read them: accuracy, flips, batch dependence.

The variant folder's evaluation.json is written by shared_model/build/variant_eval.py when the variant is
built (both variants on the evaluation sentences and the held-out split, each text alone); these classes read
it, so a run carries the accuracy of the model it served and of the fp32 model it came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from servingbench.record.serial import Record


@dataclass(frozen=True)
class SetScore(Record):
    """Both variants on one labelled set, and where they disagree (a flip)."""

    n: int
    fp32_correct: int
    int8_correct: int
    flips: int
    """Texts whose int8 label differs from the fp32 label."""
    flips_fixed: int = 0
    """Flips where int8 is right and fp32 wrong."""
    flips_broken: int = 0
    """Flips where fp32 is right and int8 wrong."""
    max_prob_diff: float | None = None

    def accuracy(self, variant: str) -> float | None:
        if self.n <= 0:
            return None
        return (self.fp32_correct if variant == "fp32" else self.int8_correct) / self.n

    @property
    def agreement(self) -> float | None:
        """The share of texts on which int8 gives fp32's label."""
        return 1 - self.flips / self.n if self.n > 0 else None


@dataclass(frozen=True)
class BatchDependence(Record):
    """How far answers move when a text shares a batch (shuffled batches of ``batch``) instead of alone."""

    batch: int
    n: int
    max_prob_diff: float
    label_flips: int


@dataclass(frozen=True)
class BatchDependenceByVariant(Record):
    fp32: BatchDependence
    int8: BatchDependence


@dataclass(frozen=True)
class VariantEvaluation(Record):
    """evaluation.json of a variant folder."""

    eval_sentences: SetScore
    heldout: SetScore | None = None
    heldout_error: str | None = None
    batch_dependence: BatchDependenceByVariant | None = None
    date: str = ""


EVALUATION_FILE = "evaluation.json"


def read_evaluation(folder: Path) -> VariantEvaluation | None:
    """The evaluation stored with a variant folder, or None (fp32 folders and user models have none)."""
    path = Path(folder) / EVALUATION_FILE
    if not path.is_file():
        return None
    return VariantEvaluation.from_dict(json.loads(path.read_text()))


def batch_dependent(model_dir: Path) -> bool:
    """True when the model's answers depend on the texts batched with them (manifest ``batch_dependent``)."""
    try:
        manifest = json.loads((Path(model_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(manifest.get("batch_dependent"))


def delta_points(evaluation: VariantEvaluation, which: str = "heldout") -> float | None:
    """int8 accuracy minus fp32 accuracy, in percentage points, on ``heldout`` or ``eval_sentences``."""
    score = evaluation.heldout if which == "heldout" else evaluation.eval_sentences
    if score is None:
        return None
    a, b = score.accuracy("fp32"), score.accuracy("int8")
    return None if a is None or b is None else 100 * (b - a)
