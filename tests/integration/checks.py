"""Checks every framework's integration test runs against its real server.

One place defines what "serves the model correctly" and "survives bad input" mean, so that every
framework is held to the same bar: the parity gate on the evaluation set, then malformed JSON, the
wrong schema, an empty batch, a 1 MB text and invalid UTF-8, each refused with a 4xx (or the
framework's documented answer, declared by the test that calls these checks), after which the server
still answers correctly; after the stop nothing may be left running or listening.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from typing import Any

from servingbench.adapter import Adapter, HttpRequest, ProtocolError
from servingbench.measure.parity import check_parity, eval_set, reference_predictions
from servingbench.servers.local import Server, framework_python

PROBE = "An absolutely wonderful film, I loved every minute of it."


def framework_script(adapter: Adapter, script: str, args: list[str], payload: object) -> Any:
    """Run a client script of the framework's folder with that framework's python: JSON in on stdin, JSON
    out on stdout. The harness's interpreter variables are dropped (they point into the harness env)."""
    argv = [str(framework_python(adapter)), str(adapter.folder / script), *args]
    foreign = ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(foreign)}
    done = subprocess.run(argv, input=json.dumps(payload), capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def bad_inputs(adapter: Adapter) -> dict[str, HttpRequest]:
    """Bad requests sent to the framework's own inference endpoint."""
    good = adapter.encode(["placeholder text"])
    marker = b"placeholder text"
    assert marker in good.body, "codec must carry the text verbatim for the UTF-8 check"
    return {
        "malformed_json": replace(good, body=good.body[: len(good.body) // 2]),
        "wrong_schema": replace(good, body=b'{"unexpected": [1, 2, 3]}'),
        "invalid_utf8": replace(good, body=good.body.replace(marker, b"bad \xff\xfe\xfa bytes")),
        "one_mb_text": adapter.encode(["word " * 200_000]),
        "empty_batch": adapter.encode([]),
    }


def assert_parity(server: Server, model_dir) -> None:
    items = eval_set()
    reference = reference_predictions(model_dir, [t for t, _ in items])
    result = check_parity(server.predict, reference, items)
    assert result.passed, result.to_dict()
    assert result.sentences >= 100


def assert_rejects_bad_input(
    server: Server, model_dir, accepted: dict[str, set[int]] | None = None
) -> dict[str, int]:
    """Each bad input gets a 4xx (or a declared status); the server keeps answering correctly.

    ``accepted`` maps a case to the statuses the framework documents for it, e.g. a 1 MB text that
    is truncated and answered 200, or an empty batch answered 200 with no predictions.
    """
    accepted = accepted or {}
    expected_answer = reference_predictions(model_dir, [PROBE])
    seen = {}
    requests = bad_inputs(server.adapter)
    for case, request in requests.items():
        status, body = server.send(request, timeout=60)
        seen[case] = status
        allowed = accepted.get(case, set())
        assert 400 <= status < 500 or status in allowed, f"{case}: HTTP {status} {body[:300]!r}"
        if status == 200 and case == "empty_batch":
            try:
                assert server.adapter.decode(status, body) == []
            except ProtocolError as exc:  # a 200 must still be a well-formed answer
                raise AssertionError(f"empty batch: 200 but {exc}") from exc
        if status == 200 and case == "one_mb_text":
            assert len(server.adapter.decode(status, body)) == 1
        answer = server.predict([PROBE])
        assert answer[0][0] == expected_answer[0][0], f"wrong answer after {case}"
        assert abs(answer[0][1] - expected_answer[0][1]) < 1e-4, f"wrong score after {case}"
    assert_oversized_answered_every_time(server, requests["one_mb_text"], seen["one_mb_text"])
    return seen


def assert_oversized_answered_every_time(server: Server, request, status: int, times: int = 10) -> None:
    """A refused 1 MB body gets its answer every time, not now and then a connection reset: a server that
    answers before reading the body and then closes leaves unread bytes, and the kernel resets the socket
    while the client is still sending (seen on Seldon's gunicorn in about 1 send in 3)."""
    for attempt in range(times):
        try:
            again, _ = server.send(request, timeout=60)
        except OSError as exc:
            message = f"1 MB body, send {attempt + 1} of {times}: {exc!r} instead of HTTP {status}"
            raise AssertionError(message) from exc
        assert again == status, f"1 MB body, send {attempt + 1} of {times}: HTTP {again}, first HTTP {status}"


def assert_grpc_parity_and_open_loop(server: Server, model_dir, out_dir, rate_rps: float = 8.0,
                                     seconds: float = 3.0) -> None:
    """PROTOCOL=grpc on this server: its gRPC port listens on loopback only, the evaluation set through the
    adapter's gRPC codec passes the parity gate, and a short open-loop Poisson step of the Locust gRPC user
    is answered in full (every request OK, latency from the intended send time)."""
    import numpy as np

    from loadtests.corpus import request_texts
    from servingbench.cpusets import split_cpus
    from servingbench.load.locust import run_open_loop, write_requests
    from servingbench.servers.grpc_target import GrpcTarget
    from servingbench.servers.procs import listening_on

    target = GrpcTarget.of(server)
    try:
        listeners = listening_on([target.port])  # "port P on ADDRESS (pid N)"
        assert listeners and all(_loopback(x.split(" on ")[1].split(" (")[0]) for x in listeners), listeners
        items = eval_set()
        result = check_parity(target.predict, reference_predictions(model_dir, [t for t, _ in items]), items)
        assert result.passed, result.to_dict()
        assert result.sentences >= 100
    finally:
        target.close()
    requests = write_requests(server.adapter, request_texts(), out_dir / "grpc_requests.json", "grpc")
    _, cpus = split_cpus(None, None)
    step = run_open_loop(requests, target.base_url, rate_rps=rate_rps, duration_s=seconds, seed=7, cpus=cpus,
                         out_dir=out_dir, name="grpc_open", drain_s=10)
    codes = step.samples[:, 2]
    assert len(codes) > rate_rps * seconds / 3 and set(codes) == {200.0}, np.unique(codes, return_counts=True)
    assert np.all(step.samples[:, 1] >= step.samples[:, 3])  # latency includes the send lag


def _loopback(address: str) -> bool:
    """127.0.0.1, ::1, or an IPv6 socket bound to the IPv4-mapped ::ffff:127.0.0.1 (MLServer's gRPC)."""
    import ipaddress

    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def assert_metrics_count(server: Server, requests: int = 12) -> object:
    """The framework's own request counter rises by exactly the predictions sent (the scrape the harness
    makes around every step, measure/server_metrics.py); returns the step's ServerMetricsDelta.

    A framework without an endpoint must say why (``metrics_absent``) and have nothing to scrape.
    """
    import numpy as np

    from servingbench.measure.server_metrics import MetricsScraper

    spec = server.adapter.metrics
    if spec is None:
        assert server.adapter.metrics_absent
        return None
    scraper = MetricsScraper(spec, server.spec.ports[spec.port])
    before = scraper.before()
    assert not isinstance(before, Exception), before
    for i in range(requests):
        server.predict([f"{PROBE} ({i})"])
    answered = np.zeros((requests, 5))
    answered[:, 2] = 200
    got = scraper.after(before, answered)
    assert got.error is None, got.error
    assert got.requests == requests and got.counter_matches, got
    return got
