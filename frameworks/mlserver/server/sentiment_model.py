"""MLServer glue: the shared sentiment predictor as an MLServer custom runtime (an ``MLModel``).

MLServer serves it over the Open Inference Protocol V2, on REST and gRPC alike:

    POST /v2/models/sentiment/infer
    {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["good film", "bad film"]}]}
    -> {"outputs": [{"name": "label", "shape": [2], "datatype": "BYTES", "data": ["positive", "negative"]},
                    {"name": "score", "shape": [2], "datatype": "FP32", "data": [0.93, 0.88]}], ...}

With ``parallel_workers`` >= 1 MLServer builds this class in the main process too (to read its settings),
but only calls ``load()`` inside the inference workers: onnxruntime is therefore imported in ``load()``,
never at module top, so the main process does not carry the model runtime.

With adaptive batching on, MLServer merges the requests of a batch into one request before ``predict`` is
called (data concatenated along the first axis) and splits the outputs back along the same axis; the
outputs therefore keep the input's batch dimension. A request that fails validation here fails every
request batched with it (MLServer has no per-request error inside a batch).
"""

from __future__ import annotations

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

INPUT_NAME = "text"
MAX_TEXT_BYTES = 256 * 1024
"""A text above this is refused with 413, as the baseline refuses such a body: the model reads only its
first 128 tokens, and tokenizing megabytes for nothing is a cheap way to stall a worker."""


class BadInput(MLServerError):
    """A request the model cannot answer: the client's fault, answered with a 4xx (400 unless stated)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message, status_code)


def _as_text(item: object, index: int) -> str:
    if isinstance(item, str):
        text = item
        size = len(text.encode("utf-8", "surrogatepass"))
    elif isinstance(item, (bytes, bytearray)):  # gRPC carries BYTES as raw bytes
        try:
            text = bytes(item).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{INPUT_NAME}[{index}] is not valid UTF-8: {exc}") from None
        size = len(item)
    else:
        raise BadInput(f"{INPUT_NAME}[{index}] must be a string, got {type(item).__name__}")
    if size > MAX_TEXT_BYTES:
        raise BadInput(f"{INPUT_NAME}[{index}] is {size} bytes, over the {MAX_TEXT_BYTES} byte limit", 413)
    return text


def _flatten(data: object) -> list:
    if isinstance(data, (str, bytes, bytearray)):
        return [data]
    if not isinstance(data, list):
        raise BadInput(f"{INPUT_NAME}: data must be a list of strings")
    flat: list = []
    for item in data:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def texts_of(payload: InferenceRequest) -> list[str]:
    """The texts of a V2 request: one BYTES input named "text" of shape [n] (or [n, 1])."""
    if len(payload.inputs) != 1 or payload.inputs[0].name != INPUT_NAME:
        names = [i.name for i in payload.inputs]
        raise BadInput(f'expected exactly one input named "{INPUT_NAME}", got {names}')
    tensor = payload.inputs[0]
    if tensor.datatype != "BYTES":
        raise BadInput(f'input "{INPUT_NAME}" must have datatype BYTES, got {tensor.datatype}')
    shape = list(tensor.shape)
    if not shape or shape[0] < 0 or any(dim != 1 for dim in shape[1:]):
        raise BadInput(f'input "{INPUT_NAME}" must have shape [n] or [n, 1], got {shape}')
    items = _flatten(getattr(tensor.data, "root", tensor.data))
    if len(items) != shape[0]:
        raise BadInput(f'input "{INPUT_NAME}" has shape {shape} but {len(items)} elements')
    return [_as_text(item, i) for i, item in enumerate(items)]


class SentimentModel(MLModel):
    """Sentiment of each text: label (BYTES) and the probability of that label (FP32)."""

    async def load(self) -> bool:
        from shared_model.predictor import load_predictor  # imports onnxruntime: only where the model runs

        self._predictor = load_predictor()
        self._predictor.predict(["warm-up: the first run allocates the session's buffers"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        texts = texts_of(payload)
        try:
            predictions = self._predictor.predict(texts)
        except TypeError as exc:
            raise BadInput(str(exc)) from None
        shape = [len(predictions)]
        # BYTES outputs as bytes: gRPC needs them so (str fails there), REST writes them back as JSON strings.
        labels = [label.encode("utf-8") for label, _ in predictions]
        scores = [score for _, score in predictions]
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                ResponseOutput(name="label", shape=shape, datatype="BYTES", data=labels),
                ResponseOutput(name="score", shape=shape, datatype="FP32", data=scores),
            ],
        )
