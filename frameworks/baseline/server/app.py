"""The no-framework baseline: a plain Starlette app on uvicorn around the shared predictor.

This is what a careful engineer writes without a serving framework: one JSON endpoint, input
validation, no batching. Inference runs directly on the event loop, so a worker serves one request at
a time, which on a one-CPU budget is the cheapest way to use it (a thread pool would only add
contention). More workers are more uvicorn processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared_model.predictor import load_predictor
from shared_model.texts_protocol import BadRequest, parse_texts, prediction_objects


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def predict(request: Request) -> JSONResponse:
    try:
        texts = parse_texts(await request.body())
    except BadRequest as bad:
        return error(bad.status, bad.message)
    return JSONResponse({"predictions": prediction_objects(load_predictor().predict(texts))})


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
