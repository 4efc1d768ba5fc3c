"""BentoML service around the shared predictor: `bentoml serve service:Sentiment`.

Native BentoML style: a class decorated with ``@bentoml.service`` whose ``__init__`` loads the model in
each worker, and one ``@bentoml.api`` that takes ``texts: list[str]`` (BentoML's JSON protocol:
``POST /predict {"texts": [...]}``) and returns ``[{"label", "score"}, ...]``.

Configuration comes in as BentoML "bento arguments" (``bentoml serve ... --arg workers=2``), read with
``bentoml.use_arguments`` in every process that imports this module:

- workers: BentoML worker processes (``@bentoml.service(workers=...)``; BentoML's default is 1).
- max_batch_size: > 1 turns on BentoML's adaptive batching (``batchable=True``); counted in texts:
  the lists of queued requests are concatenated into one call and split back.
- max_latency_ms: BentoML's ``max_latency_ms`` (its default 60000). It is a latency budget, not a fill
  wait: the dispatcher learns how long to wait by itself, and sheds requests whose queue + inference
  time would exceed the budget with HTTP 503 ("process is overloaded").

The sync API runs in BentoML's thread pool with ``threads: 1`` (its default): one inference at a time
per worker, so ORT's SB_THREADS intra-op threads are the whole CPU budget of a worker.

Input validation is BentoML's: the API signature is a pydantic model, so malformed JSON, invalid
UTF-8, a wrong schema, non-string items and over-long texts are refused with 400 before any batching
happens (a check inside the batched function would fail every request sharing the batch).
"""

from __future__ import annotations

from typing import Annotated

import bentoml
from pydantic import BaseModel, Field

from shared_model.predictor import load_predictor

MAX_TEXT_CHARS = 100_000
"""Longer texts are refused (400): the model reads 128 tokens; a megabyte through the tokenizer is waste."""

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class Arguments(BaseModel):
    workers: int = Field(1, ge=1)
    max_batch_size: int = Field(1, ge=1)
    max_latency_ms: int = Field(60_000, ge=1)


ARGS = bentoml.use_arguments(Arguments)

if ARGS.max_batch_size > 1:
    api = bentoml.api(
        route="/predict", batchable=True,
        max_batch_size=ARGS.max_batch_size, max_latency_ms=ARGS.max_latency_ms,
    )
else:
    api = bentoml.api(route="/predict")


@bentoml.service(
    name="Sentiment",
    workers=ARGS.workers,
    # One line per request in the log is measurable overhead under load: off, as in the baseline.
    logging={"access": {"enabled": False}},
)
class Sentiment:
    def __init__(self) -> None:
        self.predictor = load_predictor()  # once per worker, before the worker accepts traffic

    @api
    def predict(self, texts: list[Text]) -> list[dict]:
        return [{"label": label, "score": score} for label, score in self.predictor.predict(texts)]
