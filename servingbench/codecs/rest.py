"""Client codecs that more than one framework speaks, and the JSON helpers every codec uses.

A codec turns texts into one native HTTP request and a native HTTP response back into predictions
(``servingbench.adapter.Codec``). An adapter whose framework speaks one of these protocols sets its
``codec`` to an instance; a framework with a protocol of its own overrides ``encode``/``decode``.

Stdlib only, like adapter.py: imported by the harness, the Locust process and the tests.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from servingbench.adapter import HttpRequest, Prediction, ProtocolError


# -- JSON helpers ------------------------------------------------------------------------------------
def json_body(obj: object) -> bytes:
    """UTF-8 JSON with non-ASCII kept as is (the texts travel verbatim, as a client would send them)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def parse_json(status: int, body: bytes) -> object:
    """The JSON of a 200 answer; any other status or a body that is not JSON is a ProtocolError."""
    if status != 200:
        raise ProtocolError(f"HTTP {status}: {body[:300]!r}")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {body[:300]!r}") from exc


def pairs(items: object) -> list[Prediction]:
    """[{"label":..,"score":..}, ...] to [(label, score), ...] with a clear error otherwise."""
    try:
        return [(str(i["label"]), float(i["score"])) for i in items]  # type: ignore[union-attr]
    except (TypeError, KeyError, ValueError) as exc:
        raise ProtocolError(f"unexpected predictions: {str(items)[:300]}") from exc


# -- the plain JSON texts protocol ----------------------------------------------------------------
@dataclass(frozen=True)
class TextsJsonCodec:
    """POST /predict {"texts": [...]} -> {"predictions": [{"label", "score"}, ...]}.

    The baseline speaks it, and so does Ray Serve's glue (shared_model/texts_protocol.py checks it on the
    server side).
    """

    path: str = "/predict"

    def encode(self, texts: list[str]) -> HttpRequest:
        return HttpRequest("POST", self.path, json_body({"texts": texts}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        payload = parse_json(status, body)
        if not isinstance(payload, dict) or "predictions" not in payload:
            raise ProtocolError(f"no predictions in {str(payload)[:200]}")
        return pairs(payload["predictions"])


# -- Open Inference Protocol V2 (KServe V2) over REST ----------------------------------------------
V2_INPUT = "text"
V2_OUTPUTS = ("label", "score")


@dataclass(frozen=True)
class OpenInferenceV2Codec:
    """Open Inference Protocol V2 REST, as MLServer and Triton serve it.

    Request: POST /v2/models/<model>/infer with one BYTES input named "text" of shape
    ``[n, *text_shape]``. Answer: outputs "label" (BYTES) and "score" (FP32), one element per text.
    ``text_shape`` is what one text's tensor looks like after the batch dimension: ``()`` for
    MLServer's ``[n]``; ``(1,)`` for Triton, whose model takes items of shape [1] under a required
    batch dimension (``[n]`` is a 400 there).
    """

    model: str
    text_shape: tuple[int, ...] = ()

    @property
    def path(self) -> str:
        return f"/v2/models/{self.model}/infer"

    def shape(self, n: int) -> list[int]:
        return [n, *self.text_shape]

    def describe(self) -> str:
        """The wire format in one line, for an adapter's ``protocol``."""
        shape = ",".join(["n", *map(str, self.text_shape)])
        return (f'POST {self.path} {{"inputs":[{{"name":"{V2_INPUT}","shape":[{shape}],"datatype":"BYTES",'
                f'"data":[...]}}]}} -> outputs label (BYTES), score (FP32)')

    def encode(self, texts: list[str]) -> HttpRequest:
        tensor = {"name": V2_INPUT, "shape": self.shape(len(texts)), "datatype": "BYTES", "data": texts}
        return HttpRequest("POST", self.path, json_body({"inputs": [tensor]}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        payload = parse_json(status, body)
        outputs = self._outputs(payload)
        labels, scores = outputs["label"], outputs["score"]
        if len(labels) != len(scores):
            raise ProtocolError(f"V2 outputs differ in length: {len(labels)} labels, {len(scores)} scores")
        bad_label = next((x for x in labels if not isinstance(x, str)), None)
        if bad_label is not None:
            raise ProtocolError(f"V2 output label holds a non-string: {bad_label!r}")
        bad_score = next((x for x in scores if not _is_number(x)), None)
        if bad_score is not None:
            raise ProtocolError(f"V2 output score holds a non-number: {bad_score!r}")
        return [(label, float(score)) for label, score in zip(labels, scores, strict=True)]

    def _outputs(self, payload: object) -> dict[str, list]:
        """The label and score outputs' data, flattened, each checked against its declared shape."""
        if not isinstance(payload, dict) or not isinstance(payload.get("outputs"), list):
            raise ProtocolError(f"V2 response without an 'outputs' list: {str(payload)[:300]}")
        served = payload.get("model_name")
        if served is not None and served != self.model:
            raise ProtocolError(f"V2 response from model {served!r}, expected {self.model!r}")
        found: dict[str, list] = {}
        for output in payload["outputs"]:
            if not isinstance(output, dict) or not isinstance(output.get("data"), list):
                raise ProtocolError(f"V2 output without a name and a data list: {str(output)[:300]}")
            found[str(output.get("name"))] = _checked_data(output)
        missing = [name for name in V2_OUTPUTS if name not in found]
        if missing:
            raise ProtocolError(f"V2 response lacks output {', '.join(missing)}; it has {sorted(found)}")
        return found


def _checked_data(output: dict) -> list:
    """An output's data, flattened (V2 allows nested rows), with as many elements as its shape says."""
    data = _flatten(output["data"])
    shape = output.get("shape")
    if isinstance(shape, list) and all(isinstance(d, int) for d in shape) and math.prod(shape) != len(data):
        raise ProtocolError(f"V2 output {output.get('name')} has shape {shape} but {len(data)} elements")
    return data


def _flatten(data: list) -> list:
    flat: list = []
    for item in data:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
