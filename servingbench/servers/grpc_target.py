"""A launched server seen through its gRPC inference API (PROTOCOL=grpc).

The server is launched, watched and stopped exactly as for REST (readiness included, where a
framework's readiness is HTTP); only what the run protocol sends changes: ``predict`` (the parity gate,
the "still answering?" check) goes through the adapter's gRPC codec on the gRPC port, and ``base_url``
is ``grpc://host:port``, which the locustfile reads as "send the pre-encoded gRPC requests there".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from servingbench.adapter import Adapter, GrpcRequest, Prediction, ProtocolError
from servingbench.servers.target import Target

GRPC_SCHEME = "grpc://"


class GrpcUnavailable(ValueError):
    """PROTOCOL=grpc asked of a framework or a launch that cannot serve it; the message says why."""


def grpc_frameworks() -> list[str]:
    """The frameworks whose adapter declares a gRPC service."""
    from servingbench.frameworks import available, load_adapter

    return [name for name in available() if "grpc" in load_adapter(name).protocols]


def check_protocol(adapter: Adapter, protocol: str, mode: str = "local") -> None:
    """Raise GrpcUnavailable (a ValueError) unless this run can speak ``protocol`` to this framework."""
    from servingbench.adapter import PROTOCOLS

    if protocol not in PROTOCOLS:
        raise GrpcUnavailable(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    if protocol == "rest":
        return
    if adapter.grpc is None:
        why = f" ({adapter.grpc_refusal})" if adapter.grpc_refusal else ""
        raise GrpcUnavailable(f"{adapter.name} has no gRPC inference API here{why}. Frameworks with one: "
                              f"{', '.join(grpc_frameworks())}")
    if mode == "remote":
        raise GrpcUnavailable("PROTOCOL=grpc needs a server the harness launches here: a remote TARGET is an "
                              "HTTP base URL, its gRPC address is unknown")
    if mode == "docker":
        raise GrpcUnavailable("PROTOCOL=grpc runs with LAUNCH=local only: docker mode publishes the image's "
                              "ports by number and the harness does not yet map the gRPC one")


def grpc_send(address: str, request: GrpcRequest, timeout: float = 30.0, channel=None) -> bytes:
    """One unary call with pre-serialized bytes; a failed call is a ProtocolError naming its status."""
    import grpc

    own = channel is None
    channel = channel or grpc.insecure_channel(address)
    try:
        return channel.unary_unary(request.method)(request.body, timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        raise ProtocolError(f"gRPC {code}: {str(details)[:300]}") from exc
    finally:
        if own:
            channel.close()


@dataclass
class GrpcTarget:
    """A Target whose predictions and load go to the gRPC port; everything else is the launched one's."""

    inner: Target
    host: str
    port: int
    _channel: object = field(default=None, repr=False)

    @classmethod
    def of(cls, inner: Target) -> GrpcTarget:
        service = inner.adapter.grpc
        ports = inner.launch_record().get("ports") or {}
        if service is None or service.port_name not in ports:
            raise GrpcUnavailable(f"{inner.adapter.name}: no gRPC port among the launch's ports "
                                  f"{sorted(ports)}")
        host = getattr(inner, "host", "127.0.0.1")
        return cls(inner, host, int(ports[service.port_name]))

    def __getattr__(self, name: str):  # adapter, kind, time_to_ready_s, tree, exited, log_tail, ...
        return getattr(self.inner, name)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return GRPC_SCHEME + self.address

    def predict(self, texts: list[str], timeout: float = 30.0) -> list[Prediction]:
        import grpc

        codec = self.inner.adapter.grpc.codec  # type: ignore[union-attr]
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.address)
        return codec.decode(grpc_send(self.address, codec.encode(texts), timeout, self._channel))

    def launch_record(self) -> dict:
        return {**self.inner.launch_record(), "grpc_address": self.address}

    def close(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(Exception):
                self._channel.close()  # type: ignore[attr-defined]
            self._channel = None
