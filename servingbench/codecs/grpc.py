"""gRPC codecs: texts to one serialized gRPC request, a serialized answer back to predictions.

The gRPC counterpart of servingbench/codecs/rest.py. Messages are real protobuf messages, built from a
maintained package's stubs where one exists (Open Inference Protocol V2: ``tritonclient.grpc.service_pb2``,
the ``inference.GRPCInferenceService`` that Triton and MLServer both serve), else compiled at first use
from the framework's own .proto file with grpcio-tools (:func:`load_proto`: no generated code is
checked in). Requests are serialized here, once, so the load generator only sends bytes.

protobuf, grpcio-tools and tritonclient are imported lazily: servingbench.adapter stays stdlib-only for
every process that imports an adapter.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from servingbench.adapter import GrpcRequest, GrpcService, Prediction, ProtocolError
from servingbench.codecs.rest import V2_INPUT, V2_OUTPUTS

V2_SERVICE = "inference.GRPCInferenceService"


def _v2_pb():
    from tritonclient.grpc import service_pb2

    return service_pb2


@functools.cache
def load_proto(proto: Path) -> SimpleNamespace:
    """The message classes of a .proto file, compiled in memory (grpcio-tools' protoc), by message name.

    Imports (google/protobuf/*, google/rpc/status.proto) resolve against grpcio-tools' bundled protos and
    googleapis-common-protos. The messages live in a pool of their own, so a copy of a proto that another
    package registered in the default pool never clashes with it.
    """
    import tempfile

    import grpc_tools
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from grpc_tools import protoc

    includes = [proto.parent, Path(grpc_tools.__file__).parent / "_proto", _site_dir("google.rpc")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = ["protoc", *(f"-I{p}" for p in includes), "--include_imports",
                f"--descriptor_set_out={out}", proto.name]
        if protoc.main(args) != 0:
            raise ProtocolError(f"protoc could not compile {proto}")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    target = pool.FindFileByName(proto.name)
    return SimpleNamespace(**{name: message_factory.GetMessageClass(desc)
                              for name, desc in target.message_types_by_name.items()},
                           package=target.package, services=target.services_by_name)


def _site_dir(package: str) -> Path:
    """The folder on sys.path that holds ``package`` (google/rpc/*.proto ship inside the wheel)."""
    import importlib

    module = importlib.import_module(package)
    return Path(next(iter(module.__path__))).parents[package.count(".")]


# -- Open Inference Protocol V2 over gRPC ----------------------------------------------------------
@dataclass(frozen=True)
class OpenInferenceV2GrpcCodec:
    """``inference.GRPCInferenceService/ModelInfer``, as MLServer and Triton (and KServe) serve it.

    Request: one BYTES input "text" of shape ``[n, *text_shape]`` in ``contents.bytes_contents`` (as
    the REST codec, see codecs.rest.OpenInferenceV2Codec). Answer: outputs "label" (BYTES) and "score"
    (FP32 or FP64), either in typed ``contents`` or in ``raw_output_contents`` (Triton answers raw:
    BYTES as 4-byte little-endian length prefixes, numbers little-endian).
    """

    model: str
    text_shape: tuple[int, ...] = ()

    method = f"/{V2_SERVICE}/ModelInfer"

    def describe(self) -> str:
        shape = ",".join(["n", *map(str, self.text_shape)])
        return (f"gRPC {V2_SERVICE}/ModelInfer (model {self.model}): input {V2_INPUT} BYTES [{shape}] "
                "-> outputs label (BYTES), score (FP32)")

    def encode(self, texts: list[str]) -> GrpcRequest:
        pb = _v2_pb()
        tensor = pb.ModelInferRequest.InferInputTensor(
            name=V2_INPUT, datatype="BYTES", shape=[len(texts), *self.text_shape],
            contents=pb.InferTensorContents(bytes_contents=[t.encode("utf-8") for t in texts]))
        return GrpcRequest(self.method, pb.ModelInferRequest(model_name=self.model, inputs=[tensor])
                           .SerializeToString())

    def decode(self, body: bytes) -> list[Prediction]:
        from google.protobuf.message import DecodeError

        try:
            response = _v2_pb().ModelInferResponse.FromString(body)
        except DecodeError as exc:
            raise ProtocolError(f"not a ModelInferResponse: {body[:100]!r}") from exc
        if response.model_name and response.model_name != self.model:
            raise ProtocolError(f"V2 response from model {response.model_name!r}, expected {self.model!r}")
        outputs = _v2_outputs(response)
        labels, scores = outputs["label"], outputs["score"]
        if len(labels) != len(scores):
            raise ProtocolError(f"V2 outputs differ in length: {len(labels)} labels, {len(scores)} scores")
        try:
            names = [bytes(x).decode("utf-8") for x in labels]
        except (TypeError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"V2 output label is not UTF-8 text: {labels[:3]!r}") from exc
        if not all(isinstance(s, float) and math.isfinite(s) for s in scores):
            raise ProtocolError(f"V2 output score holds a non-number: {scores[:3]!r}")
        return list(zip(names, scores, strict=True))


def _v2_outputs(response) -> dict[str, list]:
    """Each output's elements (typed contents, else its raw block), checked against its shape."""
    found: dict[str, list] = {}
    raw = list(response.raw_output_contents)
    if raw and len(raw) != len(response.outputs):
        raise ProtocolError(f"V2 response has {len(response.outputs)} outputs but {len(raw)} raw blocks")
    for i, output in enumerate(response.outputs):
        items = _raw_items(output.datatype, raw[i]) if raw else _typed_items(output)
        if math.prod(output.shape) != len(items):
            raise ProtocolError(f"V2 output {output.name} has shape {list(output.shape)} but {len(items)} "
                                "elements")
        found[output.name] = items
    missing = [name for name in V2_OUTPUTS if name not in found]
    if missing:
        raise ProtocolError(f"V2 response lacks output {', '.join(missing)}; it has {sorted(found)}")
    return found


def _typed_items(output) -> list:
    contents = output.contents
    if output.datatype == "BYTES":
        return list(contents.bytes_contents)
    if output.datatype in ("FP32", "FP64"):
        return [float(x) for x in (contents.fp32_contents or contents.fp64_contents)]
    raise ProtocolError(f"V2 output {output.name} has datatype {output.datatype}, expected BYTES or FP32")


def _raw_items(datatype: str, block: bytes) -> list:
    """A raw_output_contents block: BYTES are <uint32 little-endian length><bytes> per element."""
    if datatype == "BYTES":
        items, at = [], 0
        while at < len(block):
            if at + 4 > len(block):
                raise ProtocolError("V2 raw BYTES output ends inside a length prefix")
            (size,) = struct.unpack_from("<I", block, at)
            at += 4
            if at + size > len(block):
                raise ProtocolError("V2 raw BYTES output ends inside an element")
            items.append(block[at : at + size])
            at += size
        return items
    widths = {"FP32": "f", "FP64": "d"}
    if datatype not in widths or len(block) % struct.calcsize(widths[datatype]):
        raise ProtocolError(f"V2 raw output of datatype {datatype} and {len(block)} bytes is not scores")
    return [float(x) for x in struct.unpack(f"<{len(block) // struct.calcsize(widths[datatype])}"
                                            f"{widths[datatype]}", block)]


def v2_grpc_service(model: str, text_shape: tuple[int, ...] = ()) -> GrpcService:
    """Open Inference Protocol V2 over gRPC on the "grpc" port, readiness kept on REST: how MLServer and
    Triton both serve it."""
    return GrpcService("grpc", OpenInferenceV2GrpcCodec(model, text_shape),
                       "Open Inference Protocol V2 over gRPC on its own port (same loopback host); "
                       "readiness stays on REST (a real prediction over HTTP)")
