"""Locust load for one framework: its native requests, closed loop, raw latencies recorded.

Configured by environment (the harness sets it; see servingbench/loadrun.py):
  SB_FRAMEWORK     adapter name, whose codec builds the native request
  SB_SAMPLES_OUT   where to write raw samples (.npy: start time s, latency ms, HTTP status)
  SB_MAX_REQUESTS  stop after this many requests (every run is bounded in count as well as time)

Locust's own percentiles are rounded into buckets, so every request is recorded from the
``request`` event and the harness computes exact percentiles from these raw samples.
"""

from __future__ import annotations

import itertools
import os
import time

import gevent
import numpy as np
from locust import FastHttpUser, constant, events, task

from loadtests.corpus import request_texts
from servingbench.frameworks import load_adapter

ADAPTER = load_adapter(os.environ["SB_FRAMEWORK"])
REQUESTS = [ADAPTER.encode([text]) for text in request_texts()]
MAX_REQUESTS = int(os.environ.get("SB_MAX_REQUESTS", "1000000"))
SAMPLES: list[tuple[float, float, int]] = []
_next_request = itertools.cycle(REQUESTS)
_test_started = [0.0]


class ServingUser(FastHttpUser):
    """One closed-loop user: send, wait for the answer, send again, no think time."""

    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0

    @task
    def infer(self) -> None:
        req = next(_next_request)
        self.client.request(req.method, req.path, data=req.body, headers=req.headers, name="infer")


@events.test_start.add_listener
def _on_start(**_kwargs: object) -> None:
    _test_started[0] = time.time()


@events.request.add_listener
def _on_request(response_time: float, start_time: float, response: object, exception: object,
                **_kwargs: object) -> None:
    status = getattr(response, "status_code", 0) or 0
    if exception is not None and 200 <= status < 300:
        status = 0  # a 2xx that still failed (e.g. truncated body) counts as a failure
    SAMPLES.append((start_time, response_time, status))
    if len(SAMPLES) == MAX_REQUESTS and _environment:
        gevent.spawn(_environment[0].runner.quit)


_environment: list = []


@events.init.add_listener
def _on_init(environment: object, **_kwargs: object) -> None:
    _environment.append(environment)


@events.quitting.add_listener
def _on_quit(**_kwargs: object) -> None:
    out = os.environ.get("SB_SAMPLES_OUT")
    if out:
        data = np.array(SAMPLES, dtype=np.float64).reshape(-1, 3)
        np.save(out + ".tmp.npy", data)
        with open(out + ".start", "w") as fh:
            fh.write(f"{_test_started[0]:.6f}\n")
        os.replace(out + ".tmp.npy", out)
