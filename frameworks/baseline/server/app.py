"""The no-framework baseline: a plain Starlette app on uvicorn around the shared predictor.

This is what a careful engineer writes without a serving framework: one JSON endpoint, input
validation, no batching. Inference runs directly on the event loop, so a worker serves one request at
a time, which on a one-CPU budget is the cheapest way to use it (a thread pool would only add
contention). More workers are more uvicorn processes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared_model.predictor import load_predictor

MAX_BODY_BYTES = 256 * 1024
"""Requests above this are refused with 413: a serving endpoint should not buffer unbounded bodies."""


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def predict(request: Request) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return error(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return error(400, "request body is not valid UTF-8")
    except ValueError as exc:
        return error(400, f"malformed JSON: {exc}")
    texts = payload.get("texts") if isinstance(payload, dict) else None
    if not isinstance(texts, list):
        return error(400, 'expected {"texts": ["...", ...]}')
    try:
        predictions = load_predictor().predict(texts)
    except TypeError as exc:
        return error(400, str(exc))
    return JSONResponse({"predictions": [{"label": lab, "score": score} for lab, score in predictions]})


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@contextlib.asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    load_predictor()  # load the model before the port opens to traffic
    yield


app = Starlette(
    routes=[Route("/predict", predict, methods=["POST"]), Route("/healthz", health)],
    lifespan=lifespan,
)
