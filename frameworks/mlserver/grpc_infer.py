"""Predict through MLServer's V2 gRPC API (the same model the REST endpoint serves).

Runs with the MLServer environment's python, which ships grpcio and MLServer's generated dataplane stubs:

    <mlserver env>/bin/python frameworks/mlserver/grpc_infer.py 127.0.0.1:8081 "good film" "bad film"

Prints one JSON object: {"ready": bool, "predictions": [[label, score], ...]} or, for a refused request,
{"ready": bool, "error": {"code": "INVALID_ARGUMENT", "details": "..."}} (exit status 0 either way: the
caller judges). With --raw-bytes the texts are sent as raw bytes taken from a hex argument (to send
invalid UTF-8).
"""

from __future__ import annotations

import argparse
import json
import sys

import grpc
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc import dataplane_pb2_grpc as pb_grpc

MODEL = "sentiment"


def infer(stub: pb_grpc.GRPCInferenceServiceStub, items: list[bytes], timeout: float) -> dict:
    request = pb.ModelInferRequest(
        model_name=MODEL,
        inputs=[
            pb.ModelInferRequest.InferInputTensor(
                name="text", datatype="BYTES", shape=[len(items)],
                contents=pb.InferTensorContents(bytes_contents=items),
            )
        ],
    )
    try:
        response = stub.ModelInfer(request, timeout=timeout)
    except grpc.RpcError as exc:
        return {"error": {"code": exc.code().name, "details": exc.details()}}
    outputs = {o.name: o for o in response.outputs}
    labels = [b.decode("utf-8") for b in outputs["label"].contents.bytes_contents]
    score = outputs["score"]
    scores = list(score.contents.fp32_contents or score.contents.fp64_contents)
    if not scores and response.raw_output_contents:  # servers may answer in raw form instead
        import struct

        raw = response.raw_output_contents[list(outputs).index("score")]
        scores = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return {"predictions": [[lab, s] for lab, s in zip(labels, scores, strict=True)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="host:port of MLServer's gRPC listener")
    parser.add_argument("texts", nargs="*", help="texts to classify (or read a JSON list from stdin with -)")
    parser.add_argument("--raw-bytes", action="store_true", help="texts are hex strings of raw bytes")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    texts = json.load(sys.stdin) if args.texts == ["-"] else args.texts
    items = [bytes.fromhex(t) for t in texts] if args.raw_bytes else [t.encode("utf-8") for t in texts]
    with grpc.insecure_channel(args.target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        ready = stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=args.timeout).ready
        result = {"ready": ready, **infer(stub, items, args.timeout)}
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
