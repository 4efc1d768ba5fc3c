"""Locust load for one framework: its native requests, closed loop, raw latencies recorded.

Configured by environment (the harness sets it; see servingbench/loadrun.py):
  SB_REQUESTS      JSON file of pre-encoded native requests (written by servingbench.loadrun from the
                   adapter's codec), replayed in order, so the generator does no encoding work
  SB_SAMPLES_OUT   raw samples (.npy rows: start time s, latency ms, HTTP status[, send lag ms])
  SB_MAX_REQUESTS  stop after this many requests (every run is bounded in count as well as time)
  SB_MODE          "closed" (default): users send back to back; "open": Poisson arrivals, see below
  SB_RATE, SB_DURATION, SB_SEED, SB_DRAIN_S, SB_MAX_IN_FLIGHT   the open-loop schedule

Locust's own percentiles are rounded into buckets, so every request is recorded raw and the harness
computes exact percentiles from these samples.

Closed loop hides server stalls: a user waiting on a slow answer does not send, so the stall delays
few measured requests (coordinated omission). In open mode one Locust user follows a fixed Poisson
schedule and fires each request in its own greenlet at its intended time; latency is measured from
the INTENDED send time, so time spent waiting for a free connection or a stalled server counts. A
request sent late is recorded with its send lag; one that could not be sent before the drain
deadline is recorded as failed (status -1), never skipped.
"""

from __future__ import annotations

import itertools
import os
import time

import gevent
import numpy as np
from locust import FastHttpUser, constant, events, task

from servingbench.loadrun import read_requests

REQUESTS = read_requests(os.environ["SB_REQUESTS"])
MAX_REQUESTS = int(os.environ.get("SB_MAX_REQUESTS", "1000000"))
SAMPLES: list[tuple] = []
_next_request = itertools.cycle(REQUESTS)
_test_started = [0.0]


MODE = os.environ.get("SB_MODE", "closed")


class ServingUser(FastHttpUser):
    """One closed-loop user: send, wait for the answer, send again, no think time."""

    abstract = MODE != "closed"
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0

    @task
    def infer(self) -> None:
        req = next(_next_request)
        self.client.request(req.method, req.path, data=req.body, headers=req.headers, name="infer")


class OpenLoopUser(FastHttpUser):
    """The whole open-loop schedule in one user; concurrency comes from one greenlet per request."""

    abstract = MODE != "open"
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0
    concurrency = int(os.environ.get("SB_MAX_IN_FLIGHT", "512"))

    @task
    def schedule(self) -> None:
        from gevent.pool import Group

        from loadtests.arrivals import poisson_schedule

        offsets = poisson_schedule(float(os.environ["SB_RATE"]), float(os.environ["SB_DURATION"]),
                                   int(os.environ.get("SB_SEED", "1")))
        drain_s = float(os.environ.get("SB_DRAIN_S", "10"))
        group = Group()
        wall0, t0 = time.time(), time.perf_counter()
        _test_started[0] = wall0
        for offset in offsets:
            delay = t0 + offset - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            group.spawn(self._one, wall0 + offset, t0 + offset)
        group.join(timeout=drain_s)
        now = time.perf_counter()
        for wall, intended in _PENDING.values():  # unanswered at the deadline: counted, not dropped
            SAMPLES.append((wall, (now - intended) * 1000, -1, float("nan")))
        _PENDING.clear()
        group.kill(block=False)
        self.environment.runner.quit()

    def _one(self, intended_wall: float, intended: float) -> None:
        key = id(gevent.getcurrent())
        _PENDING[key] = (intended_wall, intended)
        req = next(_next_request)
        lag_ms = (time.perf_counter() - intended) * 1000
        outcome: dict = {}  # Locust's request event marks failures in it (see _on_request)
        try:
            response = self.client.request(req.method, req.path, data=req.body, headers=req.headers,
                                           name="infer", context=outcome)
            status = response.status_code or 0
            if outcome.get("failed") and 200 <= status < 300:
                status = 0
        finally:
            _PENDING.pop(key, None)
        SAMPLES.append((intended_wall, (time.perf_counter() - intended) * 1000, status, lag_ms))


_PENDING: dict[int, tuple[float, float]] = {}


@events.test_start.add_listener
def _on_start(**_kwargs: object) -> None:
    _test_started[0] = time.time()


@events.request.add_listener
def _on_request(response_time: float, start_time: float, response: object, exception: object,
                context: object = None, **_kwargs: object) -> None:
    if MODE != "closed":
        if exception is not None and isinstance(context, dict):
            context["failed"] = True
        return
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
        data = np.array(SAMPLES, dtype=np.float64).reshape(-1, 3 if MODE == "closed" else 4)
        np.save(out + ".tmp.npy", data)
        with open(out + ".start", "w") as fh:
            fh.write(f"{_test_started[0]:.6f}\n")
        os.replace(out + ".tmp.npy", out)
