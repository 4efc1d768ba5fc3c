"""LitServe: the shared model as a ``ls.LitAPI`` served by ``ls.LitServer`` on one CPU device.

Native LitServe style: ``setup`` loads the model once per inference worker (LitServe pickles the API
object into each worker, so nothing heavy may be built in ``__init__``), ``decode_request`` takes the
request as a pydantic model (LitServe hands that annotation to FastAPI, which validates the body before
it is queued), ``predict`` runs the model and ``encode_response`` shapes the JSON answer:
``POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}, ...]}``.

Batching is LitServe's own: ``max_batch_size`` and ``batch_timeout`` on the LitAPI (the LitServer
arguments of the same name are deprecated). A batch is a list of requests, each a list of texts: they
run as one model call and are split back per request.

No ``from __future__ import annotations`` here: LitServe reads ``decode_request``'s annotation at run time
to build the FastAPI endpoint, and a string annotation would make FastAPI look for a query parameter.

Process model (LitServe 0.2.19): the main process, a multiprocessing Manager (the request queue),
``workers_per_device`` inference workers and as many uvicorn API-server processes. The main process
has no SIGTERM handler of its own: the harness stops the whole process group.
"""

from typing import Annotated

import litserve as ls
from lit_args import parse_args
from pydantic import BaseModel, Field

MAX_TEXT_CHARS = 100_000
"""Longer texts are refused (422): the model reads 128 tokens; a megabyte through the tokenizer is waste."""

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class TextsRequest(BaseModel):
    texts: list[Text]


class SentimentAPI(ls.LitAPI):
    """One request at a time per worker (LitServe's default, max_batch_size=1)."""

    def setup(self, device: str) -> None:
        from shared_model.predictor import load_predictor

        self.predictor = load_predictor()  # in each inference worker, before it reports ready

    def decode_request(self, request: TextsRequest) -> list[str]:
        return request.texts

    def predict(self, x: list[str]) -> list[tuple[str, float]]:
        return self.predictor.predict(x)

    def encode_response(self, output: list[tuple[str, float]]) -> dict:
        return {"predictions": [{"label": label, "score": score} for label, score in output]}


class BatchedSentimentAPI(SentimentAPI):
    """LitServe's batching: ``predict`` gets the queued requests' text lists, runs them as one model call."""

    def batch(self, inputs: list[list[str]]) -> list[list[str]]:
        return inputs  # requests stay lists of texts: predict concatenates and splits them

    def predict(self, x: list[list[str]]) -> list[list[tuple[str, float]]]:
        flat = self.predictor.predict([text for texts in x for text in texts])
        out, start = [], 0
        for texts in x:
            out.append(flat[start:start + len(texts)])
            start += len(texts)
        return out

    def unbatch(self, output: list) -> list:
        return output


def main() -> None:
    args = parse_args()
    if args.max_batch_size > 1:
        timeout_s = args.batch_timeout_ms / 1000
        api = BatchedSentimentAPI(max_batch_size=args.max_batch_size, batch_timeout=timeout_s)
    else:
        api = SentimentAPI()
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=args.workers)
    # generate_client_file=False: otherwise LitServe writes client.py into the working directory.
    server.run(host=args.host, port=args.port, generate_client_file=False, log_level="warning",
               access_log=False)


if __name__ == "__main__":  # LitServe spawns its workers: the module is imported again in each of them
    main()
