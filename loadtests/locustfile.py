"""Locust load for one framework: its native requests, closed or open loop, raw latencies recorded.

Configured by environment (the harness sets it; see servingbench/loadrun.py):
  SB_REQUESTS      JSON file of pre-encoded native requests (written by servingbench.loadrun from the
                   adapter's codec), replayed in order, so the generator does no encoding work
  SB_SAMPLES_OUT   raw samples (.npy rows: start time s, latency ms, HTTP status[, send lag ms])
  SB_MAX_REQUESTS  stop after this many requests (every run is bounded in count as well as time)
  SB_MODE          "closed" (default): users send back to back; "open": Poisson arrivals, see below
  SB_RATE, SB_DURATION, SB_SEED, SB_DRAIN_S, SB_MAX_IN_FLIGHT   the open-loop schedule
  SB_WORKERS       distributed mode: how many Locust workers share the load (their master collects
                   every raw sample over Locust's message channel and writes SB_SAMPLES_OUT)
  SB_RUN_TIME      distributed mode: seconds after which the master stops the workers

Locust's own percentiles are rounded into buckets, so every request is recorded raw and the harness
computes exact percentiles from these samples.

Closed loop hides server stalls: a user waiting on a slow answer does not send, so the stall delays
few measured requests (coordinated omission). In open mode one Locust user follows a fixed Poisson
schedule and fires each request in its own greenlet at its intended time; latency is measured from
the INTENDED send time, so time spent waiting for a free connection or a stalled server counts. A
request sent late is recorded with its send lag; one that could not be sent before the drain
deadline is recorded as failed (status -1), never skipped. With N workers each runs a Poisson
schedule at rate/N with its own seed: their superposition is a Poisson process at the full rate.
"""

from __future__ import annotations

import itertools
import os
import time

import gevent
import numpy as np
from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

from servingbench.loadrun import read_requests

REQUESTS = read_requests(os.environ["SB_REQUESTS"])
MODE = os.environ.get("SB_MODE", "closed")
WORKERS = int(os.environ.get("SB_WORKERS", "1"))
MAX_REQUESTS = int(os.environ.get("SB_MAX_REQUESTS", "1000000")) // max(1, WORKERS)
CHUNK = 5000
SAMPLES: list[tuple] = []
_next_request = itertools.cycle(REQUESTS)
_test_started = [0.0]
_environment: list = []
_PENDING: dict[int, tuple[float, float]] = {}


def _runner():
    return _environment[0].runner if _environment else None


def _distributed_worker() -> bool:
    return isinstance(_runner(), WorkerRunner)


class ServingUser(FastHttpUser):
    """One closed-loop user: send, wait for the answer, send again, no think time."""

    abstract = MODE != "closed"
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0

    @task
    def infer(self) -> None:
        if len(SAMPLES) >= MAX_REQUESTS:  # the request budget is spent: idle until stopped
            gevent.sleep(1)
            return
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

        index = int(os.environ.get("SB_WORKER_INDEX", "0"))
        offsets = poisson_schedule(float(os.environ["SB_RATE"]) / WORKERS, float(os.environ["SB_DURATION"]),
                                   int(os.environ.get("SB_SEED", "1")) * 1000 + index)
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
        if not _distributed_worker():
            self.environment.runner.quit()
            return
        while True:  # a worker waits for its master to stop the run
            gevent.sleep(1)

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


@events.init.add_listener
def _on_init(environment, **_kwargs: object) -> None:
    _environment.append(environment)
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("sb_samples", _receive_samples)
        environment.runner.register_message("sb_start", _receive_start)


@events.test_start.add_listener
def _on_start(environment, **_kwargs: object) -> None:
    _test_started[0] = time.time()
    if isinstance(environment.runner, MasterRunner):
        _test_started[0] = float("inf")  # the earliest worker start wins (see _receive_start)
        run_time = float(os.environ.get("SB_RUN_TIME", "0"))
        if run_time > 0:
            gevent.spawn_later(run_time, _stop_distributed, environment)


def _stop_distributed(environment) -> None:
    """Stop the workers (they send their samples before reporting stopped), then quit."""
    environment.runner.stop()
    gevent.sleep(0.5)
    environment.runner.quit()


@events.test_stop.add_listener
def _on_stop(environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message("sb_start", _test_started[0])
        for i in range(0, len(SAMPLES), CHUNK):
            environment.runner.send_message("sb_samples", [list(row) for row in SAMPLES[i : i + CHUNK]])
        SAMPLES.clear()


def _receive_samples(msg, **_kwargs: object) -> None:
    SAMPLES.extend(tuple(row) for row in msg.data)


def _receive_start(msg, **_kwargs: object) -> None:
    _test_started[0] = min(_test_started[0], float(msg.data))


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
    if len(SAMPLES) == MAX_REQUESTS and not _distributed_worker() and _environment:
        gevent.spawn(_environment[0].runner.quit)


@events.quitting.add_listener
def _on_quit(environment, **_kwargs: object) -> None:
    out = os.environ.get("SB_SAMPLES_OUT")
    if out and not isinstance(environment.runner, WorkerRunner):
        data = np.array(SAMPLES, dtype=np.float64).reshape(-1, 3 if MODE == "closed" else 4)
        np.save(out + ".tmp.npy", data)
        with open(out + ".start", "w") as fh:
            fh.write(f"{_test_started[0]:.6f}\n")
        os.replace(out + ".tmp.npy", out)
