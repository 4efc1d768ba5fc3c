"""Torch reference probabilities for a list of texts: what the ONNX model is checked against.

Runs in the build environment with the same module the export traces (torch_model.SentimentModel), the same
tokenisation (truncation at 128, padding to the longest of each batch) and the committed head.
Usage: torch_reference.py --texts texts.json --out probs.json
(a JSON list of str in, [[p_negative, p_positive], ...] out)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from shared_model.build import torch_model


@torch.inference_mode()
def reference_probabilities(texts: list[str], batch_size: int = 32) -> list[list[float]]:
    """Probabilities per text from torch, in input order and in head.json's label order."""
    weight, bias, _ = torch_model.read_head()
    model = torch_model.SentimentModel(torch_model.load_encoder(), weight, bias).eval()
    tokenizer = torch_model.load_tokenizer()
    out: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        enc = torch_model.tokenize(tokenizer, texts[start:start + batch_size])
        out += model(**enc).double().tolist()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Torch reference probabilities for a JSON list of texts.")
    parser.add_argument("--texts", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    texts = json.loads(args.texts.read_text())
    args.out.write_text(json.dumps(reference_probabilities(texts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
