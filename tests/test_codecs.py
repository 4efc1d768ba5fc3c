"""The shared client codecs: what they send, and what they make of real server answers.

The response bodies below were captured verbatim from the real servers (MLServer 1.7.1 and tritonserver
2.51 through PyTriton 0.7.0, default presets, the model of shared_model), answering the codec's own
requests; the plain JSON protocol's answers are built by the servers' own shared_model.texts_protocol.
"""

from __future__ import annotations

import json

import pytest

from servingbench.adapter import ProtocolError
from servingbench.codecs.rest import OpenInferenceV2Codec, TextsJsonCodec
from servingbench.frameworks import load_adapter
from shared_model.texts_protocol import parse_texts, prediction_objects

TEXTS = ["A wonderful, moving film.", "Dull and far too long."]
EXPECTED = [("positive", 0.9960523843765259), ("negative", 0.9898812174797058)]

MLSERVER = OpenInferenceV2Codec("sentiment")
TRITON = OpenInferenceV2Codec("sentiment", text_shape=(1,))

MLSERVER_TWO = (
    b'{"model_name":"sentiment","id":"84f0d810-9fe6-4eb4-80fd-20960c0de5fd","parameters":{},"outputs":['
    b'{"name":"label","shape":[2],"datatype":"BYTES","data":["positive","negative"]},'
    b'{"name":"score","shape":[2],"datatype":"FP32","data":[0.9960523843765259,0.9898812174797058]}]}'
)
MLSERVER_EMPTY = (
    b'{"model_name":"sentiment","id":"6963f0f0-ce7e-418a-a4d0-1710be828f0d","parameters":{},"outputs":['
    b'{"name":"label","shape":[0],"datatype":"BYTES","data":[]},'
    b'{"name":"score","shape":[0],"datatype":"FP32","data":[]}]}'
)
TRITON_TWO = (
    b'{"model_name":"sentiment","model_version":"1","outputs":['
    b'{"name":"label","datatype":"BYTES","shape":[2,1],"data":["positive","negative"]},'
    b'{"name":"score","datatype":"FP32","shape":[2,1],"data":[0.9960523843765259,0.9898812174797058]}]}'
)
REAL_ERRORS = {  # (codec, status, body) of real refusals
    "mlserver wrong schema": (MLSERVER, 422, b'{"detail":[{"type":"missing","loc":["body","inputs"],'
                              b'"msg":"Field required","input":{"unexpected":[1,2,3]}}]}'),
    "mlserver unknown model": (MLSERVER, 404, b'{"error":"Model nosuchmodel not found"}'),
    "triton empty batch": (TRITON, 400, b'{"error":"[request id: <id_unknown>] expected 1 string elements '
                           b"for inference input 'text' for model 'sentiment', got 0\"}"),
    "triton wrong schema": (TRITON, 500, b'{"error":"Unable to parse \'inputs\': attempt to access '
                            b"non-existing object member 'inputs'\"}"),
}


def _v2(outputs: list[dict], **extra: object) -> bytes:
    return json.dumps({"model_name": "sentiment", **extra, "outputs": outputs}).encode()


def _label(data: list, shape: list | None = None) -> dict:
    return {"name": "label", "datatype": "BYTES", "shape": shape or [len(data)], "data": data}


def _score(data: list, shape: list | None = None) -> dict:
    return {"name": "score", "datatype": "FP32", "shape": shape or [len(data)], "data": data}


# -- Open Inference Protocol V2 ------------------------------------------------------------------
@pytest.mark.parametrize(("codec", "shape"), [(MLSERVER, [2]), (TRITON, [2, 1])])
def test_v2_encodes_one_bytes_input_in_the_frameworks_shape(codec, shape):
    request = codec.encode(TEXTS)
    assert (request.method, request.path) == ("POST", "/v2/models/sentiment/infer")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "inputs": [{"name": "text", "shape": shape, "datatype": "BYTES", "data": TEXTS}]
    }
    assert "ünïcode ✓".encode() in codec.encode(["ünïcode ✓"]).body, "texts travel verbatim"
    assert json.loads(codec.encode([]).body)["inputs"][0]["shape"] == [0, *shape[1:]]


@pytest.mark.parametrize(("codec", "body"), [(MLSERVER, MLSERVER_TWO), (TRITON, TRITON_TWO)])
def test_v2_decodes_the_real_answers(codec, body):
    assert codec.decode(200, body) == EXPECTED


def test_v2_decodes_mlservers_empty_answer():
    assert MLSERVER.decode(200, MLSERVER_EMPTY) == []


def test_v2_nested_rows_are_read_in_order():
    """V2 allows data as nested rows; [[a], [b]] for shape [2, 1] is the same as [a, b]."""
    body = _v2([_label([["positive"], ["negative"]], [2, 1]), _score([[0.9], [0.8]], [2, 1])])
    assert TRITON.decode(200, body) == [("positive", 0.9), ("negative", 0.8)]


@pytest.mark.parametrize("case", sorted(REAL_ERRORS))
def test_v2_real_refusals_are_protocol_errors_with_their_status(case):
    codec, status, body = REAL_ERRORS[case]
    with pytest.raises(ProtocolError, match=f"^HTTP {status}: ") as info:
        codec.decode(status, body)
    assert body[:20].decode() in str(info.value), "the server's own message is kept"


MALFORMED = {
    "not json": (b"<html>502 Bad Gateway</html>", "not JSON"),
    "no outputs": (b'{"model_name": "sentiment", "error": "boom"}', "without an 'outputs' list"),
    "outputs not a list": (b'{"outputs": {"label": []}}', "without an 'outputs' list"),
    "a list, not an object": (b'[{"label": "positive", "score": 0.9}]', "without an 'outputs' list"),
    "no score": (_v2([_label(["positive"])]), r"lacks output score; it has \['label'\]"),
    "no data": (_v2([{"name": "label", "shape": [1]}, _score([0.9])]), "without a name and a data list"),
    "lengths differ": (_v2([_label(["positive", "negative"]), _score([0.9])]),
                       "differ in length: 2 labels, 1 scores"),
    "shape and data disagree": (_v2([_label(["positive", "negative", "x"], [2, 1]), _score([0.9, 0.8, 0.7])]),
                                r"label has shape \[2, 1\] but 3 elements"),
    "score not a number": (_v2([_label(["positive"]), _score(["0.9"])]), "score holds a non-number: '0.9'"),
    "score a boolean": (_v2([_label(["positive"]), _score([True])]), "score holds a non-number: True"),
    "label not a string": (_v2([_label([1]), _score([0.9])]), "label holds a non-string: 1"),
    "another model": (_v2([_label(["positive"]), _score([0.9])], model_name="resnet"),
                      "from model 'resnet', expected 'sentiment'"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_v2_malformed_answers_say_what_is_wrong(case):
    body, message = MALFORMED[case]
    with pytest.raises(ProtocolError, match=message):
        TRITON.decode(200, body)


def test_v2_describes_its_wire_format():
    assert '"shape":[n]' in MLSERVER.describe() and '"shape":[n,1]' in TRITON.describe()
    assert MLSERVER.describe().startswith("POST /v2/models/sentiment/infer ")
    assert "label (BYTES), score (FP32)" in TRITON.describe()


def test_mlserver_and_triton_share_the_codec_and_say_so():
    mlserver, triton = load_adapter("mlserver"), load_adapter("triton")
    assert mlserver.codec == MLSERVER and triton.codec == TRITON
    assert MLSERVER.describe() in mlserver.protocol and TRITON.describe() in triton.protocol
    assert mlserver.decode(200, MLSERVER_TWO) == triton.decode(200, TRITON_TWO) == EXPECTED


# -- the plain JSON texts protocol ---------------------------------------------------------------
def test_texts_json_round_trip_through_the_servers_own_protocol_code():
    codec = TextsJsonCodec()
    request = codec.encode(TEXTS)
    assert (request.method, request.path) == ("POST", "/predict")
    assert parse_texts(request.body) == TEXTS, "the servers' parser reads what the codec sends"
    answer = json.dumps({"predictions": prediction_objects(EXPECTED)}).encode()
    assert codec.decode(200, answer) == EXPECTED


@pytest.mark.parametrize(("status", "body", "message"), [
    (413, b'{"error": "request body over 262144 bytes"}', "HTTP 413"),
    (200, b'{"error": "no"}', "no predictions"),
    (200, b'{"predictions": [{"label": "positive"}]}', "unexpected predictions"),
])
def test_texts_json_refusals_are_protocol_errors(status, body, message):
    with pytest.raises(ProtocolError, match=message):
        TextsJsonCodec().decode(status, body)
