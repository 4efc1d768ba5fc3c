"""The Seldon Core v1 model class: the shared predictor behind the Seldon protocol.

`seldon-core-microservice ModelClass` imports this module, builds ``ModelClass()`` in the main process
and calls ``load()`` in each gunicorn worker (and each gRPC worker) after the fork, so the model runtime
is imported and loaded only where requests are served.

Request:  POST /api/v1.0/predictions {"data": {"ndarray": ["text", ...]}}
Response: {"data": {"names": ["label", "score"], "ndarray": [["positive", 0.98], ...]}, "meta": {}}

The wrapper turns ``data.ndarray`` into a numpy array before ``predict`` sees it, and answers any
exception other than SeldonMicroserviceException with HTTP 500, so input errors are raised here as
SeldonMicroserviceException with a 4xx status. Never raise TypeError from ``predict``: the wrapper
catches TypeError and calls ``predict`` a second time without keyword arguments.

``model_error_handler`` is Seldon's documented hook for a custom Flask error-handler blueprint; here it
refuses bodies over 256 KiB with 413 and keeps routing errors at their own status (404, 405) where the
wrapper's catch-all handler would answer 500.
"""

from __future__ import annotations

import flask
import numpy as np
from seldon_core.flask_utils import SeldonMicroserviceException
from werkzeug.exceptions import HTTPException

MAX_BODY_BYTES = 256 * 1024
"""Requests above this are refused with 413 (as in the baseline): no unbounded request bodies."""

DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
"""A refused body up to this size is read and discarded before the 413 is sent. Gunicorn closes the
connection after each answer; closing with unread bytes in the socket makes the kernel send a reset, and
the client then sees "connection reset" while still sending instead of the 413 (a lingering close, as
nginx does). Bodies beyond this are not worth reading: their sender gets the reset."""

# The wrapper registers this blueprint on its Flask app (Seldon's documented custom-error-handler hook).
model_error_handler = flask.Blueprint("servingbench_errors", __name__)


@model_error_handler.before_app_request
def _limit_body_size() -> None:
    length = flask.request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        if length <= DRAIN_LIMIT_BYTES:
            _discard_body(flask.request.stream)
        raise SeldonMicroserviceException(
            f"request body of {length} bytes is over the limit of {MAX_BODY_BYTES} bytes", status_code=413
        )


def _discard_body(stream, chunk_bytes: int = 64 * 1024) -> None:
    """Read the request body to its end without keeping it (see DRAIN_LIMIT_BYTES)."""
    while stream.read(chunk_bytes):
        pass


@model_error_handler.app_errorhandler(HTTPException)
def _http_error(error: HTTPException) -> flask.Response:
    """Routing errors keep their own status (404, 405): the wrapper's catch-all would answer 500."""
    body = SeldonMicroserviceException(str(error), status_code=error.code, reason="MICROSERVICE_BAD_REQUEST")
    response = flask.jsonify(body.to_dict())
    response.status_code = error.code or 500
    return response


class ModelClass:
    model_error_handler = model_error_handler

    def __init__(self) -> None:
        self.predictor = None

    def load(self) -> None:
        from shared_model.predictor import load_predictor  # imported here: only workers carry ORT

        self.predictor = load_predictor()

    def class_names(self) -> list[str]:
        return ["label", "score"]

    def predict(self, X, features_names=None, **kwargs) -> list:  # Seldon calls predict(X, features_names)
        if self.predictor is None:  # load() runs in each worker before it serves; never skip it
            self.load()
        if not isinstance(X, np.ndarray) or X.ndim != 1:
            raise SeldonMicroserviceException(
                'expected {"data": {"ndarray": ["text", ...]}}: a flat list of strings', status_code=400
            )
        if X.size == 0:
            return []
        if X.dtype.kind != "U":
            raise SeldonMicroserviceException(
                f"data.ndarray must hold strings, got {X.dtype.name} values", status_code=400
            )
        texts = [str(text) for text in X]
        return [[label, score] for label, score in self.predictor.predict(texts)]
