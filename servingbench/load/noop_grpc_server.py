"""A no-op gRPC server: the load generator's ceiling for PROTOCOL=grpc runs.

The gRPC load user (loadtests/grpc_client.py) sends pre-serialized unary calls and never decodes the answer,
so one generic handler that answers *any* unary method at once with an empty message (zero bytes are a valid
encoding of every protobuf message) stands in for every framework's gRPC inference service: V2
``ModelInfer`` (MLServer, Triton) and TorchServe's ``Predictions`` alike. A gRPC run's ceiling is then
measured with the same user, the same pre-serialized calls and the same HTTP/2 channels as its steps; the
HTTP no-op server would measure a different client.

It runs on grpcio's asyncio server (one event loop: the least work a Python gRPC server does per call), bound
to loopback only.

Run (harness env): ``python -m servingbench.load.noop_grpc_server --port P``.
"""

from __future__ import annotations

import argparse
import asyncio

import grpc

EMPTY = b""


async def _answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return EMPTY


class AnyMethod(grpc.GenericRpcHandler):
    """Every unary method, whatever its service, answered with the empty message (bytes in, bytes out)."""

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(_answer)


async def serve(host: str, port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((AnyMethod(),))
    if server.add_insecure_port(f"{host}:{port}") != port:
        raise SystemExit(f"could not bind {host}:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
