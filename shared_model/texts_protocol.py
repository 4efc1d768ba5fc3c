"""The JSON texts protocol that several servers speak: {"texts": [...]} in, labels and scores out.

One definition of what a valid request is, and of the 4xx that says what is wrong with one, for every
server glue that accepts this body (the baseline, Ray Serve, TorchServe): the same bad input gets the
same answer whichever framework serves it. Stdlib only.
"""

from __future__ import annotations

import json

MAX_BODY_BYTES = 256 * 1024
"""Bodies above this are refused with 413: a serving endpoint should not buffer unbounded requests."""


class BadRequest(ValueError):
    """A request to refuse: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_texts(body: bytes | bytearray | str | dict | None) -> list[str]:
    """The texts of one request body (raw bytes, text, or already-decoded JSON); raises BadRequest."""
    if isinstance(body, (bytes, bytearray)):
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(400, "request body is not valid UTF-8") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise BadRequest(400, f"malformed JSON: {exc}") from None
    texts = body.get("texts") if isinstance(body, dict) else None
    if not isinstance(texts, list):
        raise BadRequest(400, 'expected a JSON body {"texts": ["...", ...]}')
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest(400, "every item of texts must be a string")
    return texts


def prediction_objects(predictions: list[tuple[str, float]]) -> list[dict]:
    """[(label, score), ...] as the protocol's [{"label": ..., "score": ...}, ...]."""
    return [{"label": label, "score": score} for label, score in predictions]
