"""KServe: the shared model as a ``kserve.Model`` served by ``kserve.ModelServer`` (REST only).

Native KServe style: a ``Model`` subclass whose ``load`` marks it ready and whose ``predict`` takes the
Open Inference Protocol V2 request (``POST /v2/models/sentiment/infer``, one BYTES input "text") and
answers outputs "label" (BYTES) and "score" (FP32); the V1 protocol (``POST /v1/models/sentiment:predict
{"instances": [...]}`` -> ``{"predictions": [...]}``) is answered by the same model.

What KServe 0.21.0 does not let a caller set, the glue does before it starts:

- the HTTP bind address: ``RESTServer`` hard-codes ``host="0.0.0.0"`` in its uvicorn config; the
  subclass below puts ``--host`` there (KServe's own ``--http_port`` stays the only way to the port);
- the gRPC server (``[::]:8081``, no host option) is off: ``enable_grpc=False``; the benchmark speaks REST;
- ``sys.argv``: kserve.model_server parses it at import, so it is emptied first (kserve_args.py);
- ``workers=N`` (N > 1) spawns N uvicorn processes and pickles the model into each: the ONNX Runtime
  session is not picklable, so it is dropped from the pickle and created in each process on first use.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from kserve_args import parse_args

ARGS = parse_args()
sys.argv = sys.argv[:1]  # kserve.model_server parses sys.argv when imported

import kserve  # noqa: E402 - after sys.argv is emptied
import kserve.logging  # noqa: E402
from kserve.errors import InvalidInput  # noqa: E402
from kserve.model_server import ModelServer  # noqa: E402
from kserve.protocol import infer_type  # noqa: E402
from kserve.protocol.rest import server as rest_server  # noqa: E402
from kserve.protocol.rest.multiprocess import server as multiprocess_server  # noqa: E402

from shared_model.predictor import load_predictor  # noqa: E402

MAX_TEXT_CHARS = 100_000
"""Longer texts are refused (400): the model reads 128 tokens; a megabyte through the tokenizer is waste."""


class LoopbackRESTServer(rest_server.RESTServer):
    """KServe's REST server, bound where ``--host`` says instead of its hard-coded 0.0.0.0."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.host = ARGS.host


# ModelServer builds its REST server by these names (the multi-process one wraps a RESTServer too).
kserve.model_server.RESTServer = LoopbackRESTServer
multiprocess_server.RESTServer = LoopbackRESTServer


class SentimentModel(kserve.Model):
    def __init__(self, name: str, eager: bool) -> None:
        super().__init__(name)
        self.eager = eager
        self._predictor = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_predictor"] = None  # an ORT session is not picklable: each worker process makes its own
        return state

    @property
    def predictor(self):
        if self._predictor is None:
            self._predictor = load_predictor()
        return self._predictor

    def load(self) -> bool:
        if self.eager:
            _ = self.predictor  # one process serves: load before the port opens
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: dict[str, str] | None = None, response_headers=None) -> Any:
        if isinstance(payload, dict):  # V1: {"instances": [...]}
            texts = checked_texts(payload.get("instances"))
            return {"predictions": [{"label": lab, "score": s} for lab, s in self.predictor.predict(texts)]}
        return self.v2_response(payload, self.predictor.predict(v2_texts(payload)))

    def v2_response(self, request: infer_type.InferRequest, predictions: list) -> infer_type.InferResponse:
        n = len(predictions)
        outputs = [
            infer_type.InferOutput("label", [n], "BYTES", data=[label for label, _ in predictions]),
            infer_type.InferOutput("score", [n], "FP32", data=[float(score) for _, score in predictions]),
        ]
        return infer_type.InferResponse(response_id=request.id or "", model_name=self.name,
                                        infer_outputs=outputs)


def v2_texts(request: infer_type.InferRequest) -> list[str]:
    """The texts of a V2 request: one BYTES input named "text", one element per text."""
    inputs = [i for i in request.inputs if i.name == "text"]
    if len(inputs) != 1 or inputs[0].datatype != "BYTES":
        raise InvalidInput('expected one BYTES input named "text"')
    data = inputs[0].data
    items = data if isinstance(data, list) else []
    texts = [x.decode("utf-8") if isinstance(x, bytes) else x for x in items]
    return checked_texts(texts)


def checked_texts(texts: object) -> list[str]:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InvalidInput("expected a list of strings")
    if any(len(t) > MAX_TEXT_CHARS for t in texts):
        raise InvalidInput(f"a text is longer than {MAX_TEXT_CHARS} characters")
    return texts


def quiet_log_config() -> str:
    """KServe's own log configuration with the per-request lines off, written where every worker reads it.

    By default each request logs three lines (uvicorn's access line and two kserve.trace timings from
    KServe's TimingMiddleware), whatever enable_latency_logging says; the baseline logs none. Spawned
    workers configure logging from this file (KServe's ``log_config_file``), so it must be a file.
    """
    config = copy.deepcopy(kserve.logging.KSERVE_LOG_CONFIG)
    for name in ("uvicorn.access", kserve.logging.KSERVE_TRACE_LOGGER_NAME):
        config["loggers"][name]["level"] = "WARNING"
    path = Path(tempfile.gettempdir()) / "kserve_log_config.json"
    path.write_text(json.dumps(config))
    return str(path)


def main() -> None:
    kserve.model_server.args.log_config_file = quiet_log_config()  # read by ModelServer and its workers
    model = SentimentModel(ARGS.model_name, eager=ARGS.workers == 1)
    model.load()
    server = ModelServer(http_port=ARGS.http_port, workers=ARGS.workers, enable_grpc=False,
                         enable_latency_logging=False, enable_docs_url=False)
    server.start([model])


if __name__ == "__main__":
    main()
