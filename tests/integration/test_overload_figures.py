"""Honest overload figures on the real Locust load: failures counted by kind, and a server's stall kept the
server's (not "generator-limited").

- An overloaded server (the no-op server taking 200 ms per request, 20 requests in flight allowed, 200 req/s
  offered: it serves 100 req/s) holds sends back behind the in-flight cap, then leaves requests unanswered
  at the drain deadline and others never sent. The total send lag is far over the limit (the rule before
  the split flagged such probes GENERATOR-LIMITED at a few % generator CPU); the generator's own lag is
  not, so the step is not generator-limited.
- A closed port: every request, open and closed loop, is "connection refused".
- The ceiling's open-loop check records the generator's own lag at its rate against the no-op server.
"""

from __future__ import annotations

import base64
import json
import socket

import numpy as np
import pytest

from servingbench.cpusets import split_cpus
from servingbench.load.ceiling import OPEN_FRACTION, Ceiling, measure_ceiling, start_noop, stop_noop
from servingbench.load.failures import count_kinds
from servingbench.load.locust import run_locust, run_open_loop
from servingbench.load.send_lag import SEND_LAG_LIMIT_MS, generator_limited, send_lags
from servingbench.load.steps import open_window

pytestmark = [pytest.mark.slow, pytest.mark.integration]
RATE, DURATION_S, DRAIN_S, CAP, SERVICE_MS = 200.0, 4.0, 1.0, 20, 200.0



def test_an_overloaded_server_holds_sends_back_and_is_not_the_generator_limit(tmp_path, requests_file):
    server_cpus, loadgen_cpus = split_cpus()
    proc, port = start_noop(server_cpus, tmp_path / "noop.log", service_ms=SERVICE_MS)
    try:
        result = run_open_loop(requests_file, f"http://127.0.0.1:{port}", rate_rps=RATE,
                               duration_s=DURATION_S, seed=5, cpus=loadgen_cpus, out_dir=tmp_path,
                               name="overload", drain_s=DRAIN_S, max_in_flight=CAP)
    finally:
        stop_noop(proc)
    window, summary = open_window(result.samples, result.test_start, DURATION_S)
    kinds = count_kinds(window[:, 2])
    lags = send_lags(window)
    report = (f"kinds {kinds}, ok {summary.ok}, lag p99 {lags.p99_ms:.1f} ms, own {lags.own_p99_ms:.2f} ms, "
              f"held back {lags.held_back}, generator CPU {result.generator_cpu_util:.0%}")
    print(report)
    assert window.shape[1] == 5 and summary.ok > 0, report
    assert kinds.get("unanswered at drain", 0) >= 1 and kinds.get("never sent", 0) >= 1, report
    assert set(kinds) <= {"unanswered at drain", "never sent"}, report
    assert summary.errors == sum(kinds.values()), report
    assert lags.held_back > summary.ok / 2, report  # the cap was full nearly all the time
    assert lags.p99_ms > 10 * SEND_LAG_LIMIT_MS, report  # what the old rule judged: "GENERATOR-LIMITED"
    assert lags.own_p99_ms <= SEND_LAG_LIMIT_MS, report
    assert not generator_limited(result.generator_cpu_util, lags.own_p99_ms, RATE), report


def test_a_closed_port_is_connection_refused_in_open_and_closed_loop(tmp_path, requests_file):
    _, loadgen_cpus = split_cpus()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connects are refused
        opened = run_open_loop(requests_file, url, rate_rps=50.0, duration_s=2.0, seed=3, cpus=loadgen_cpus,
                               out_dir=tmp_path, name="refused_open", drain_s=1.0)
        closed = run_locust(requests_file, url, users=1, run_time_s=2.0, max_requests=300, cpus=loadgen_cpus,
                            out_dir=tmp_path, name="refused_closed")
    assert opened.samples.shape[0] >= 50
    assert count_kinds(opened.samples[:, 2]) == {"connection refused": opened.samples.shape[0]}
    assert closed.samples.shape[0] >= 10
    assert count_kinds(closed.samples[:, 2]) == {"connection refused": closed.samples.shape[0]}


def test_the_ceiling_records_the_generator_own_lag_on_the_open_loop_schedule(tmp_path, requests_file):
    """What an open-loop step's own lag is judged against: the same schedule against the no-op server."""
    server_cpus, loadgen_cpus = split_cpus()
    ceiling = measure_ceiling(requests_file, server_cpus, loadgen_cpus, users=8, seconds=3.0,
                              out_dir=tmp_path)
    print(ceiling)
    assert ceiling.rps > 100
    assert ceiling.open_rate_rps == pytest.approx(ceiling.rps * OPEN_FRACTION, abs=0.1)
    assert 0.0 <= ceiling.open_lag_p99_ms < 1000.0 and 0.0 < ceiling.open_generator_cpu_util < 1.5
    opened = np.load(tmp_path / "ceiling_open.samples.npy")
    assert (opened[:, 2] == 200).all() and (opened[:, 4] == 0).all()  # a no-op server holds nothing back
    kept = ceiling.keeps_schedule_rps
    assert kept == (ceiling.open_rate_rps if ceiling.open_lag_p99_ms <= SEND_LAG_LIMIT_MS
                    and ceiling.open_generator_cpu_util < 0.9 else None)
    assert Ceiling.from_dict(ceiling.to_dict()) == ceiling


def test_the_grpc_ceiling_drives_the_grpc_user_against_the_grpc_noop_server(tmp_path):
    """PROTOCOL=grpc runs measure the gRPC user's ceiling: real V2 ModelInfer calls, every one answered."""
    from servingbench.codecs.grpc import OpenInferenceV2GrpcCodec

    call = OpenInferenceV2GrpcCodec("sentiment").encode(["a fine film"])
    requests = tmp_path / "grpc_requests.json"
    requests.write_text(json.dumps([{"transport": "grpc", "method": call.method,
                                     "body": base64.b64encode(call.body).decode("ascii")}]))
    server_cpus, loadgen_cpus = split_cpus()
    ceiling = measure_ceiling(requests, server_cpus, loadgen_cpus, users=8, seconds=3.0, out_dir=tmp_path,
                              protocol="grpc")
    print(ceiling)
    assert ceiling.rps > 100
    closed = np.load(tmp_path / "ceiling.samples.npy")
    opened = np.load(tmp_path / "ceiling_open.samples.npy")
    assert len(closed) > 300 and (closed[:, 2] == 200).all()
    assert len(opened) > 0 and (opened[:, 2] == 200).all()
    assert ceiling.open_rate_rps == pytest.approx(ceiling.rps * OPEN_FRACTION, abs=0.1)


def test_the_grpc_noop_server_answers_any_method_and_stops_clean(tmp_path):
    import grpc

    server_cpus, _ = split_cpus()
    proc, port = start_noop(server_cpus, tmp_path / "noop.log", protocol="grpc")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for method in ("/inference.GRPCInferenceService/ModelInfer",
                           "/org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions"):
                assert channel.unary_unary(method)(b"\x0a\x01x", timeout=5) == b""
    finally:
        stop_noop(proc)
    assert proc.poll() is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
