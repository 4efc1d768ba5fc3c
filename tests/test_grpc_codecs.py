"""gRPC codecs on real protobuf messages: what goes on the wire, and what comes back.

Answers are built as the servers build them (typed contents as MLServer answers, raw_output_contents as
Triton answers, TorchServe's PredictionResponse), then decoded; malformed answers are ProtocolErrors.
"""

from __future__ import annotations

import struct

import pytest
from tritonclient.grpc import service_pb2 as pb

from servingbench.adapter import ProtocolError
from servingbench.codecs.grpc import OpenInferenceV2GrpcCodec
from servingbench.frameworks import load_adapter
from servingbench.load.failures import REFUSED, TIMEOUT, classify_grpc, kind_name
from servingbench.servers.grpc_target import GrpcUnavailable, check_protocol

V2 = OpenInferenceV2GrpcCodec("sentiment", text_shape=(1,))


def _raw_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(x)) + x for x in items)


def test_v2_request_is_a_model_infer_request():
    call = V2.encode(["good film", "naïve"])
    assert call.method == "/inference.GRPCInferenceService/ModelInfer"
    request = pb.ModelInferRequest.FromString(call.body)
    assert request.model_name == "sentiment"
    (tensor,) = request.inputs
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("text", "BYTES", [2, 1])
    assert list(tensor.contents.bytes_contents) == [b"good film", "naïve".encode()]
    mlserver_shape = pb.ModelInferRequest.FromString(OpenInferenceV2GrpcCodec("m").encode(["a"]).body)
    assert list(mlserver_shape.inputs[0].shape) == [1]  # MLServer's [n]


def test_v2_typed_answer_decodes():
    out = pb.ModelInferResponse(model_name="sentiment", outputs=[
        pb.ModelInferResponse.InferOutputTensor(name="label", datatype="BYTES", shape=[2],
                                                contents=pb.InferTensorContents(
                                                    bytes_contents=[b"pos", b"neg"])),
        pb.ModelInferResponse.InferOutputTensor(name="score", datatype="FP64", shape=[2],
                                                contents=pb.InferTensorContents(fp64_contents=[0.9, 0.75])),
    ])
    assert V2.decode(out.SerializeToString()) == [("pos", 0.9), ("neg", 0.75)]


def test_v2_raw_answer_decodes_as_triton_sends_it():
    out = pb.ModelInferResponse(model_name="sentiment", outputs=[
        pb.ModelInferResponse.InferOutputTensor(name="label", datatype="BYTES", shape=[2, 1]),
        pb.ModelInferResponse.InferOutputTensor(name="score", datatype="FP32", shape=[2, 1]),
    ], raw_output_contents=[_raw_bytes([b"pos", b"neg"]), struct.pack("<2f", 0.5, 0.25)])
    assert V2.decode(out.SerializeToString()) == [("pos", 0.5), ("neg", 0.25)]


@pytest.mark.parametrize("broken", [
    pb.ModelInferResponse(model_name="other"),
    pb.ModelInferResponse(model_name="sentiment", outputs=[
        pb.ModelInferResponse.InferOutputTensor(name="label", datatype="BYTES", shape=[1],
                                                contents=pb.InferTensorContents(bytes_contents=[b"pos"]))]),
    pb.ModelInferResponse(outputs=[  # shape says 2, one element
        pb.ModelInferResponse.InferOutputTensor(name="label", datatype="BYTES", shape=[2],
                                                contents=pb.InferTensorContents(bytes_contents=[b"p"])),
        pb.ModelInferResponse.InferOutputTensor(name="score", datatype="FP32", shape=[2],
                                                contents=pb.InferTensorContents(fp32_contents=[1, 2]))]),
    pb.ModelInferResponse(outputs=[  # a raw BYTES block cut inside its element
        pb.ModelInferResponse.InferOutputTensor(name="label", datatype="BYTES", shape=[1]),
        pb.ModelInferResponse.InferOutputTensor(name="score", datatype="FP32", shape=[1]),
    ], raw_output_contents=[struct.pack("<I", 9) + b"abc", struct.pack("<f", 1.0)]),
])
def test_v2_malformed_answers_are_protocol_errors(broken):
    with pytest.raises(ProtocolError):
        V2.decode(broken.SerializeToString())
    with pytest.raises(ProtocolError):
        V2.decode(b"\xff\xff not protobuf")


def test_torchserve_codec_round_trip():
    adapter = load_adapter("torchserve")
    codec = adapter.grpc.codec
    call = codec.encode(["good film"])
    assert call.method == "/org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions"
    from servingbench.codecs.grpc import load_proto

    msgs = load_proto(adapter.folder / "proto" / "inference.proto")
    request = msgs.PredictionsRequest.FromString(call.body)
    assert request.model_name == "m" and dict(request.input) == {"data": b'{"texts": ["good film"]}'}
    answer = msgs.PredictionResponse(prediction=b'[{"label": "positive", "score": 0.875}]')
    answer = answer.SerializeToString()
    assert codec.decode(answer) == [("positive", 0.875)]
    with pytest.raises(ProtocolError):
        codec.decode(msgs.PredictionResponse(prediction=b'{"code": 400}').SerializeToString())
    with pytest.raises(ProtocolError):
        codec.decode(msgs.PredictionResponse(prediction=b"not json").SerializeToString())


def test_grpc_status_kinds():
    assert classify_grpc(0) == 200
    assert classify_grpc(4, "Deadline Exceeded") == TIMEOUT
    assert classify_grpc(14, "failed to connect to all addresses; last error: Connection refused") == REFUSED
    assert kind_name(classify_grpc(3, "bad")) == "gRPC INVALID_ARGUMENT"
    assert kind_name(classify_grpc(14, "something else")) == "gRPC UNAVAILABLE"


def test_protocol_refusals_name_the_grpc_frameworks():
    for name in ("mlserver", "triton", "torchserve"):
        adapter = load_adapter(name)
        assert adapter.protocols == {"rest", "grpc"}
        assert adapter.grpc.port_name in adapter.port_names
        check_protocol(adapter, "grpc")
    with pytest.raises(GrpcUnavailable, match="Frameworks with one: mlserver, torchserve, triton"):
        check_protocol(load_adapter("rayserve"), "grpc")
    with pytest.raises(GrpcUnavailable, match=r"user-written \.proto"):
        check_protocol(load_adapter("rayserve"), "grpc")
    with pytest.raises(GrpcUnavailable, match="remote TARGET"):
        check_protocol(load_adapter("mlserver"), "grpc", "remote")
    with pytest.raises(GrpcUnavailable, match="LAUNCH=local only"):
        check_protocol(load_adapter("mlserver"), "grpc", "docker")
    with pytest.raises(GrpcUnavailable, match="choose one of: rest, grpc"):
        check_protocol(load_adapter("mlserver"), "soap")
    check_protocol(load_adapter("rayserve"), "rest")
