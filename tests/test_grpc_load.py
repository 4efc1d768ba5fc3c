"""The Locust user over gRPC against a real gRPC server: closed loop, open loop, failure kinds.

A small grpcio server in this process answers any method with fixed bytes after SERVICE_S, or with a
gRPC error for the method named "Bad": the same user class, schedule and sample columns as over HTTP,
latency from the intended send time in open loop, failures by kind.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest

from servingbench.cpusets import split_cpus
from servingbench.load.failures import count_kinds
from servingbench.load.locust import read_requests, run_locust, run_open_loop
from servingbench.servers.net import free_port

pytestmark = [pytest.mark.slow]
SERVICE_S = 0.010


def _handler(request: bytes, context: grpc.ServicerContext) -> bytes:
    time.sleep(SERVICE_S)
    return b"answer:" + request


class _Generic(grpc.GenericRpcHandler):
    def service(self, details):
        if details.method.endswith("/Bad"):
            return grpc.unary_unary_rpc_method_handler(
                lambda req, ctx: ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused on purpose"))
        return grpc.unary_unary_rpc_method_handler(_handler)


@pytest.fixture()
def grpc_server():
    port = free_port()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((_Generic(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    yield f"grpc://127.0.0.1:{port}"
    server.stop(grace=0)


def _requests(tmp_path: Path, method: str) -> Path:
    path = tmp_path / "requests.json"
    rows = [{"transport": "grpc", "method": method, "body": base64.b64encode(b"hello").decode()}]
    path.write_text(json.dumps(rows))
    assert read_requests(path)[0].body == b"hello"
    return path


def test_closed_loop_over_grpc(grpc_server, tmp_path):
    _, cpus = split_cpus(None, None)
    result = run_locust(_requests(tmp_path, "/t.S/Ok"), grpc_server, users=4, run_time_s=3,
                        max_requests=100_000, cpus=cpus, out_dir=tmp_path, name="closed")
    codes, latency = result.samples[:, 2], result.samples[:, 1]
    assert len(codes) > 100 and set(codes) == {200.0}
    assert np.median(latency) >= SERVICE_S * 1000  # a real round trip to a server that takes 10 ms


def test_open_loop_over_grpc_times_from_intended_send(grpc_server, tmp_path):
    _, cpus = split_cpus(None, None)
    rate, seconds = 100.0, 4.0
    result = run_open_loop(_requests(tmp_path, "/t.S/Ok"), grpc_server, rate_rps=rate, duration_s=seconds,
                           seed=3, cpus=cpus, out_dir=tmp_path, name="open", drain_s=3)
    samples = result.samples
    assert samples.shape[1] == 5  # intended time, latency, status, send lag, held back
    assert abs(len(samples) - rate * seconds) < 4 * (rate * seconds) ** 0.5  # the Poisson schedule, all of it
    assert set(samples[:, 2]) == {200.0}
    lag = samples[:, 3]
    assert np.all(samples[:, 1] >= lag)  # latency counts the send lag: it runs from the intended time
    assert np.median(samples[:, 1]) >= SERVICE_S * 1000


def test_grpc_failures_have_a_kind(grpc_server, tmp_path):
    _, cpus = split_cpus(None, None)
    bad = run_open_loop(_requests(tmp_path, "/t.S/Bad"), grpc_server, rate_rps=50, duration_s=2, seed=1,
                        cpus=cpus, out_dir=tmp_path, name="bad", drain_s=2)
    assert list(count_kinds(bad.samples[:, 2])) == ["gRPC INVALID_ARGUMENT"]
    closed_port = f"grpc://127.0.0.1:{free_port()}"
    refused = run_open_loop(_requests(tmp_path, "/t.S/Ok"), closed_port, rate_rps=20, duration_s=1, seed=1,
                            cpus=cpus, out_dir=tmp_path, name="refused", drain_s=2)
    kinds = count_kinds(refused.samples[:, 2])
    assert sum(kinds.values()) == len(refused.samples) > 0
    assert set(kinds) <= {"connection refused", "gRPC UNAVAILABLE"}, kinds
