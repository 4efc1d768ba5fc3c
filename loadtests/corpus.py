"""The request corpus: the texts sent under load.

The load reuses the model's evaluation sentences (ordinary review sentences of 4 to 60 words) so
that every framework gets the same texts in the same order, and sentence length stays realistic.
"""

from __future__ import annotations

import csv
from pathlib import Path

EVAL_SET = Path(__file__).resolve().parent.parent / "shared_model" / "eval" / "sentences.csv"


def request_texts() -> list[str]:
    with open(EVAL_SET, newline="", encoding="utf-8") as fh:
        return [row["text"] for row in csv.DictReader(fh)]
