"""Texts of a chosen token count, built from the request corpus and counted by the served model's tokenizer.

Why the model's own tokenizer: a "64-token" request means what the encoder sees, and word counts differ
from it by a factor that depends on the vocabulary. The count includes the special tokens the tokenizer adds
([CLS] and [SEP] for the default model) and is taken before truncation: a text longer than the model's
``max_length`` (128 for the default model, manifest.json) is sent whole and cut by the predictor, so the
encoder sees ``min(tokens, max_length)``.

Deterministic: text ``i`` of a size starts at corpus sentence ``i * STRIDE`` (mod the corpus), concatenates
the following sentences until the count is reached, then keeps the longest word prefix whose count is at most
the target (a cut at a word boundary, so a text may fall one or two tokens short where a word is several).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

TokenCounter = Callable[[str], int]
STRIDE = 7
"""Corpus sentences between the starts of consecutive texts of one size (varied openings)."""
MIN_TOKENS = 3
"""[CLS], one word piece, [SEP]: the shortest text the default tokenizer can give."""


@dataclass(frozen=True)
class SizedText:
    text: str
    tokens: int
    """As the model's tokenizer counts it, special tokens included, before truncation."""


def token_counter(model_dir: Path) -> TokenCounter:
    """Counts tokens with the model folder's tokenizer.json, with its truncation and padding switched off
    (the file pads and truncates to 128: a count must see the whole text)."""
    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer.json in the model folder {model_dir}: cannot size texts")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text).ids)


def max_length(model_dir: Path, default: int = 128) -> int:
    """Where the served predictor truncates (manifest.json's max_length, as shared_model/predictor.py)."""
    manifest = Path(model_dir) / "manifest.json"
    if manifest.is_file():
        return int(json.loads(manifest.read_text()).get("max_length", default))
    return default


def _longest_prefix(words: list[str], target: int, count: TokenCounter) -> str:
    """The longest ``words[:k]`` joined whose count is <= target (counts grow with k: binary search)."""
    lo, hi = 1, len(words)  # words[:lo] fits (checked by the caller for lo = 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= target:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def sized_text(corpus: Sequence[str], target: int, start: int, count: TokenCounter) -> SizedText:
    """One text of at most ``target`` tokens (as close as a word boundary allows), from sentence ``start``."""
    if target < MIN_TOKENS:
        raise ValueError(f"a text needs at least {MIN_TOKENS} tokens ([CLS], a word, [SEP]), got {target}")
    if not corpus:
        raise ValueError("the corpus is empty: no text to size")
    parts: list[str] = []
    i = start
    while count(" ".join(parts)) < target:
        if i - start >= 10 * len(corpus):
            raise ValueError(f"the corpus cannot reach {target} tokens")
        parts.append(corpus[i % len(corpus)])
        i += 1
    words = " ".join(parts).split()
    if count(words[0]) > target:  # one word longer than the target: keep its first characters
        text = words[0]
        while count(text) > target and len(text) > 1:
            text = text[:-1]
    else:
        text = _longest_prefix(words, target, count)
    return SizedText(text, count(text))


def sized_texts(corpus: Sequence[str], target: int, n: int, count: TokenCounter) -> list[SizedText]:
    """``n`` different texts of (about) ``target`` tokens each, in a fixed order."""
    return [sized_text(corpus, target, i * STRIDE, count) for i in range(n)]
