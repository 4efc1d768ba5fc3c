"""TorchServe custom handler around the shared predictor (packaged into the .mar by torch-model-archiver).

Protocol: POST /predictions/<model> with Content-Type application/json and a body {"texts": ["...", ...]}.
TorchServe's frontend batches requests server-side: ``handle`` gets one item per HTTP request (up to the
model's batchSize, waiting at most maxBatchDelay ms). The texts of every valid request in the batch go
through ONE predictor call, and each request gets back its own JSON list of {"label", "score"}.

Bad input is refused per request, so one bad request never fails the others of its batch: the worker
forwards a body that is not valid JSON (or not UTF-8) as raw bytes, and this handler answers it with a
400 through ``context.set_response_status``; TorchServe would otherwise turn an exception into a 503 for
the whole batch.

initialize() deliberately does not call BaseHandler.initialize(): that one looks for a serialized torch
model (there is none: the model is the shared ONNX predictor read from SB_MODEL_DIR, as in every adapter).
"""

from __future__ import annotations

import json
import logging
import os

import torch
from ts.torch_handler.base_handler import BaseHandler

from shared_model.predictor import load_predictor
from shared_model.texts_protocol import BadRequest as TextsRefused
from shared_model.texts_protocol import parse_texts, prediction_objects

logger = logging.getLogger(__name__)

JSON = "application/json"


# TorchServe's model loader refuses a handler module that defines more than one class: errors are tuples.
BadRequest = tuple[int, str]  # (HTTP status, message)


def _texts(row: dict) -> list[str] | BadRequest:
    """The texts of one request (one item of TorchServe's batch), or (status, message) to refuse it.

    TorchServe hands over JSON it decoded as a dict, and JSON it could not decode as raw bytes.
    """
    payload = row.get("body", row.get("data")) if isinstance(row, dict) else None
    try:
        return parse_texts(payload)
    except TextsRefused as bad:
        return bad.status, bad.message


class SentimentHandler(BaseHandler):
    """One shared-model predictor per worker process; all texts of a batch in one predict call."""

    def initialize(self, context) -> None:
        # Not super().initialize(): there is no serialized torch model to load. torch is imported by
        # BaseHandler anyway; keep its intra-op pool at the worker's CPU budget in case anything uses it.
        threads = int(os.environ.get("SB_THREADS", "1"))
        torch.set_num_threads(threads)
        self.context = context
        self.manifest = context.manifest
        self.predictor = load_predictor()
        self.initialized = True
        logger.info("shared predictor loaded from %s with %d thread(s)", self.predictor.model_dir, threads)

    def handle(self, data, context):
        spans: list[tuple[int, int] | BadRequest] = []  # (start, end) into texts, or an error
        texts: list[str] = []
        for row in data:
            request_texts = _texts(row)
            if isinstance(request_texts, tuple):
                spans.append(request_texts)
                continue
            spans.append((len(texts), len(texts) + len(request_texts)))
            texts += request_texts
        predictions = self.predictor.predict(texts) if texts else []
        answers: list[bytes] = []
        for idx, span in enumerate(spans):
            context.set_response_content_type(idx, JSON)
            if isinstance(span[1], str):
                status, message = span
                context.set_response_status(status, message, idx)
                answers.append(json.dumps({"code": status, "error": message}).encode())
                continue
            start, end = span
            items = prediction_objects(predictions[start:end])
            answers.append(json.dumps(items).encode())
        return answers
