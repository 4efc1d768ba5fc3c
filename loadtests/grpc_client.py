"""The load user's gRPC transport (PROTOCOL=grpc): pre-serialized unary calls on a gevent-aware channel.

Locust runs on gevent; grpcio's core has its own event engine and would block the whole process unless
``grpc.experimental.gevent.init_gevent()`` runs before any gRPC object is made (Locust's documented
gRPC example does the same), so :class:`GrpcClient` makes that call before its first channel.

The requests are bytes the harness serialized from real protobuf messages (servingbench/codecs/grpc.py);
they go out through ``channel.unary_unary(method)`` with no serializer, so the generator does no protobuf
work, as the HTTP user sends pre-encoded bodies. One channel per Locust user: a closed-loop user holds one
HTTP/2 connection as the HTTP user holds one keep-alive connection; the open-loop user multiplexes its
in-flight requests as concurrent streams on its one connection, as a gRPC client does. The answer's bytes
are not decoded (the parity gate checks answers); each call's outcome is its gRPC status, recorded with
servingbench.load.failures.classify_grpc.
"""

from __future__ import annotations

import time

from servingbench.adapter import GrpcRequest
from servingbench.load.failures import classify_grpc

SCHEME = "grpc://"
_GEVENT_READY = [False]


def init_gevent() -> None:
    """Let grpcio cooperate with gevent: once per process, before the first channel."""
    if not _GEVENT_READY[0]:
        import grpc.experimental.gevent as grpc_gevent

        grpc_gevent.init_gevent()
        _GEVENT_READY[0] = True


def is_grpc_host(host: str | None) -> bool:
    return bool(host) and str(host).startswith(SCHEME)


class GrpcClient:
    """One channel to ``grpc://host:port``; ``send`` makes one call and reports it to Locust."""

    def __init__(self, host: str, timeout_s: float, events) -> None:
        init_gevent()
        import grpc

        self._grpc = grpc
        self.address = host[len(SCHEME):]
        self.timeout_s = timeout_s
        self.events = events
        self.channel = grpc.insecure_channel(self.address)
        self._calls: dict[str, object] = {}

    def send(self, req: GrpcRequest, context: dict | None = None) -> tuple[int, BaseException | None]:
        """One call: its status column (200 for OK, else the failure's code) and the error, if any.

        Fires Locust's request event like the HTTP client does, with the code in ``context["sb_code"]``.
        """
        call = self._calls.get(req.method)
        if call is None:
            call = self._calls[req.method] = self.channel.unary_unary(req.method)
        start_wall, start = time.time(), time.perf_counter()
        error: BaseException | None = None
        length = 0
        try:
            length = len(call(req.body, timeout=self.timeout_s))  # type: ignore[operator]
            code = 200
        except self._grpc.RpcError as exc:
            error = exc
            status = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            code = classify_grpc(status.value[0] if status is not None else 2, str(details or ""))
        except Exception as exc:  # anything else the channel raised still counts, by kind
            error, code = exc, classify_grpc(2, str(exc))
        self.events.request.fire(
            request_type="grpc", name="infer", response_time=(time.perf_counter() - start) * 1000,
            response_length=length, response=None, exception=error, start_time=start_wall,
            context={**(context or {}), "sb_code": code})
        return code, error

    def close(self) -> None:
        self.channel.close()
