"""Triton's own clients against the served model: tritonclient over HTTP and over gRPC.

Runs in the triton environment (tritonclient is pinned there, not in the harness):

    <triton env python> frameworks/triton/client.py --http-port 8000 --grpc-port 8001 < texts.json

reads a JSON list of texts on stdin, sends them in requests of at most --batch texts through both
protocols, and prints {"http": [[label, score], ...], "grpc": [...]} on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

MODEL = "sentiment"


def infer(module, client, texts: list[str]) -> list[list]:
    batch = np.array([[t.encode("utf-8")] for t in texts], dtype=np.object_)
    inp = module.InferInput("text", list(batch.shape), "BYTES")
    inp.set_data_from_numpy(batch)
    outputs = [module.InferRequestedOutput("label"), module.InferRequestedOutput("score")]
    result = client.infer(MODEL, [inp], outputs=outputs)
    labels = [x.decode("utf-8") for x in result.as_numpy("label").reshape(-1)]
    scores = [float(x) for x in result.as_numpy("score").reshape(-1)]
    return [[lab, score] for lab, score in zip(labels, scores, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--batch", type=int, default=1, help="texts per request (<= max_batch_size)")
    args = parser.parse_args()
    texts = json.load(sys.stdin)
    chunks = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    answers = {}
    with httpclient.InferenceServerClient(f"{args.host}:{args.http_port}") as client:
        assert client.is_model_ready(MODEL), "model not ready over HTTP"
        answers["http"] = [p for chunk in chunks for p in infer(httpclient, client, chunk)]
    with grpcclient.InferenceServerClient(f"{args.host}:{args.grpc_port}") as client:
        assert client.is_model_ready(MODEL), "model not ready over gRPC"
        answers["grpc"] = [p for chunk in chunks for p in infer(grpcclient, client, chunk)]
    json.dump(answers, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
