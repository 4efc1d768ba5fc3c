"""Locust load for one framework: its native requests, closed or open loop, raw latencies recorded.

The harness (servingbench/load/locust.py) runs it with these options, which Locust forwards from a master to
its workers, so a worker on another machine needs nothing but the master's address:
  --sb-requests      JSON file of pre-encoded native requests (from the adapter's codec), replayed in order
                     so the generator does no encoding work; a master sends them to its workers
  --sb-mode          "closed": users send back to back; "open": Poisson arrivals, see below
  --sb-rate, --sb-duration, --sb-seed, --sb-drain, --sb-max-in-flight   the open-loop schedule
  --sb-schedule      open loop: a .npy file of intended send offsets (s from start), instead of a Poisson
                     schedule at --sb-rate: any arrival process (bursts, ramps, a replayed trace); a
                     second column, where present, is the index of the request to send (else in order);
                     with N workers, worker i sends arrivals i, i+N, ...
  --sb-max-requests  stop after this many requests (every run is bounded in count as well as time)
  --sb-workers       how many workers share the load (1: no master, one process)
and, read by the process that writes the samples (a single process or the master), the environment:
  SB_SAMPLES_OUT     raw samples (.npy rows: start time s, latency ms, status; open loop adds send lag ms
                     and the part of it held back by the in-flight cap, ms)
  SB_RUN_TIME        distributed: seconds after which the master stops its workers

Locust's own percentiles are rounded into buckets, so every request is recorded raw and the harness
computes exact percentiles from these samples; workers send theirs to the master over Locust's message
channel before they report stopped.

Closed loop hides server stalls: a user waiting on a slow answer does not send, so the stall delays
few measured requests (coordinated omission). In open mode one Locust user follows a fixed Poisson
schedule and fires each request in its own greenlet at its intended time; latency is measured from
the INTENDED send time, so time spent waiting for a free connection or a stalled server counts. A
request sent late is recorded with its send lag, and with the part of it held back by the in-flight
cap (a stalled server's doing, not the generator's; see loadtests.arrivals.CapHold); one that could not
be sent before the drain deadline is recorded as "never sent", one sent but not answered by then as
"unanswered at drain", never skipped.

With N workers each runs a Poisson schedule at rate/N with its own seed: their superposition is a
Poisson process at the full rate.

The status column is the HTTP status when the server answered, else a code for why not (timeout,
refused, reset, ...): servingbench/load/failures.py defines the codes and classifies Locust's exceptions.

gRPC (PROTOCOL=grpc): the host is grpc://host:port and the requests are pre-serialized gRPC calls; the same
user, schedule, timing, failure kinds and sample columns apply, with loadtests/grpc_client.py as the
transport instead of Locust's HTTP client (see there: gevent, one channel per user, status codes). The
keep-alive resend below is HTTP's: gRPC core itself retries a call that a closing connection never
started (transparent retry), and any other failure is counted.

Keep-alive: the open-loop user's pool hands out its most recently used connection first (LIFO), so after
a burst the extra connections sit idle until the next burst. A server closes an idle connection after
its keep-alive timeout (uvicorn: 5 s); a request sent on it in that instant (the server's event loop
busy, its close already due) is dropped unanswered ("connection closed", or a reset). Seen in the MLPerf
LoadGen cross-check (README): 4 such failures in 4 probes near capacity, enough alone to fail the 0.1%
error budget, where LoadGen's thread-pool client saw none. Inference is idempotent, so, as browsers do
on a reused connection (RFC 9110 9.2.2 allows it when the request is known to be idempotent), such a
request is sent once more (the pool has discarded the closed connection); its latency still runs from
the intended send time, and the count of these resends is printed in the Locust log.
"""

from __future__ import annotations

import itertools
import os
import time

import gevent
import numpy as np
from geventhttpclient.response import HTTPConnectionClosed
from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

from loadtests.grpc_client import GrpcClient, is_grpc_host
from servingbench.adapter import GrpcRequest, HttpRequest
from servingbench.load.failures import NEVER_SENT, UNANSWERED, classify
from servingbench.load.locust import decode_requests, read_request_rows

CHUNK = 5000
SAMPLES: list[tuple] = []
REQUESTS: list[HttpRequest | GrpcRequest] = []
_state: dict = {"started": 0.0, "rows": None, "next": None, "schedule": None}
_PENDING: dict[int, tuple[float, float, float, float]] = {}
"""Open loop, requests in flight: (intended wall time, intended perf time, send lag ms, held-back ms)."""
CLOSED_UNANSWERED = (HTTPConnectionClosed, ConnectionResetError, BrokenPipeError)
"""A request the server dropped with its connection (keep-alive close race), never answered."""
RESENT = [0]
RESENDS = 2
"""At most this many resends: the next idle connection in the pool may be closing too."""


def _dropped(error: BaseException | None) -> bool:
    """No answer because the server closed the connection (the error itself or what caused it)."""
    return isinstance(error, CLOSED_UNANSWERED) or isinstance(getattr(error, "__cause__", None),
                                                              CLOSED_UNANSWERED)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--sb-requests", default="", help="pre-encoded requests (JSON)")
    parser.add_argument("--sb-mode", default="closed", choices=["closed", "open"])
    parser.add_argument("--sb-rate", type=float, default=0.0)
    parser.add_argument("--sb-duration", type=float, default=0.0)
    parser.add_argument("--sb-seed", type=int, default=1)
    parser.add_argument("--sb-drain", type=float, default=10.0)
    parser.add_argument("--sb-max-in-flight", type=int, default=512)
    parser.add_argument("--sb-max-requests", type=int, default=1_000_000)
    parser.add_argument("--sb-workers", type=int, default=1)
    parser.add_argument("--sb-schedule", default="", help="open loop: intended send offsets (.npy)")


def _opts(environment):
    return environment.parsed_options


def _is_worker(environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _next_request() -> HttpRequest | GrpcRequest:
    if _state["next"] is None:
        _state["next"] = itertools.cycle(REQUESTS)
    return next(_state["next"])


def _share_of_schedule(opts, index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """This process's arrivals (see loadtests.arrivals.share_of_schedule): the master's schedule where one
    was sent, else the --sb-schedule file, else a Poisson draw."""
    from loadtests.arrivals import share_of_schedule

    table = _state["schedule"]
    if table is None and opts.sb_schedule:
        table = np.load(opts.sb_schedule)
    return share_of_schedule(table, max(1, opts.sb_workers), index, opts.sb_rate, opts.sb_duration,
                             opts.sb_seed)


class ServingUser(FastHttpUser):
    """Closed loop: send, wait for the answer, send again, no think time. Open loop: see schedule()."""

    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0
    concurrency = 512  # the open-loop user's connection pool; a closed-loop user uses one at a time
    grpc: GrpcClient | None = None
    """The gRPC transport when the host is grpc://host:port (PROTOCOL=grpc), else None (HTTP)."""

    def on_start(self) -> None:
        if is_grpc_host(self.host):
            self.grpc = GrpcClient(str(self.host), self.network_timeout, self.environment.events)

    def on_stop(self) -> None:
        if self.grpc is not None:
            self.grpc.close()
            self.grpc = None

    @task
    def load(self) -> None:
        if _opts(self.environment).sb_mode == "open":
            self.schedule()
        else:
            self.infer()

    def infer(self) -> None:
        opts = _opts(self.environment)
        if len(SAMPLES) >= opts.sb_max_requests // max(1, opts.sb_workers):
            gevent.sleep(1)  # the request budget is spent: idle until stopped
            return
        req = _next_request()
        if isinstance(req, GrpcRequest):
            self._grpc().send(req)
            return
        self.client.request(req.method, req.path, data=req.body, headers=req.headers, name="infer")

    def _grpc(self) -> GrpcClient:
        if self.grpc is None:
            raise RuntimeError(f"gRPC requests need a grpc://host:port host, got {self.host!r}")
        return self.grpc

    def schedule(self) -> None:
        """The whole Poisson schedule of this process's share, then wait to be stopped."""
        from gevent.pool import Group, Pool

        from loadtests.arrivals import CapHold

        opts = _opts(self.environment)
        index = getattr(self.environment.runner, "worker_index", 0) if _is_worker(self.environment) else 0
        offsets, picks = _share_of_schedule(opts, max(0, index))
        group: Group = Pool(opts.sb_max_in_flight)
        wall0, t0 = time.time(), time.perf_counter()
        deadline = t0 + opts.sb_duration + opts.sb_drain
        _state["started"] = wall0
        hold = CapHold()
        nan = float("nan")
        for i, offset in enumerate(offsets):
            delay = t0 + offset - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
                hold.caught_up()
            if group.full():  # as many requests in flight as allowed: held back until one comes back
                hold.waited()
                group.wait_available(timeout=max(0.0, deadline - time.perf_counter()))
                if group.full():  # nothing came back before the deadline: the rest are never sent
                    now = time.perf_counter()
                    SAMPLES.extend((wall0 + o, (now - t0 - o) * 1000, NEVER_SENT, nan, nan)
                                   for o in offsets[i:])
                    break
            held_ms = hold.held_ms(t0 + offset, time.perf_counter())
            group.spawn(self._one, wall0 + offset, t0 + offset, held_ms, None if picks is None else picks[i])
        group.join(timeout=max(0.0, deadline - time.perf_counter()))
        now = time.perf_counter()
        for wall, intended, lag_ms, held_ms in _PENDING.values():  # unanswered at the deadline: counted
            SAMPLES.append((wall, (now - intended) * 1000, UNANSWERED, lag_ms, held_ms))
        _PENDING.clear()
        group.kill(block=False)
        if not _is_worker(self.environment):
            self.environment.runner.quit()
            return
        while True:  # a worker waits for its master to stop the run
            gevent.sleep(1)

    def _one(self, intended_wall: float, intended: float, held_ms: float, pick: int | None = None) -> None:
        """One scheduled request (``pick``: which one, else the next in order); ``held_ms`` of its send lag
        was spent waiting for an in-flight slot."""
        key = id(gevent.getcurrent())
        lag_ms = (time.perf_counter() - intended) * 1000
        _PENDING[key] = (intended_wall, intended, lag_ms, held_ms)
        req = _next_request() if pick is None else REQUESTS[pick % len(REQUESTS)]
        try:
            code, error = self._send(req)
            for _ in range(RESENDS):  # dropped with an idle keep-alive connection: send it again
                if not _dropped(error):
                    break
                RESENT[0] += 1
                code, error = self._send(req)
        finally:
            _PENDING.pop(key, None)
        SAMPLES.append((intended_wall, (time.perf_counter() - intended) * 1000, code, lag_ms, held_ms))

    def _send(self, req: HttpRequest | GrpcRequest) -> tuple[int, BaseException | None]:
        """Send once: the HTTP status or failure code (failures.classify), and the exception if any."""
        if isinstance(req, GrpcRequest):
            return self._grpc().send(req)
        # Locust's request event puts the request's exception in it (see _on_request). Nested: Locust
        # copies the context dict it is given (merging the user's context), but not what it holds.
        outcome: dict = {}
        try:
            response = self.client.request(req.method, req.path, data=req.body, headers=req.headers,
                                           name="infer", context={"sb_outcome": outcome})
        except Exception as exc:  # outside Locust's list of request failures: still counted, by kind
            return classify(0, exc), exc
        error = outcome.get("exception")
        return classify(response.status_code or 0, error), error


@events.init.add_listener
def _on_init(environment, **_kwargs: object) -> None:
    _state["environment"] = environment
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("sb_requests", _receive_requests)
        runner.register_message("sb_schedule", _receive_schedule)
        return
    path = _opts(environment).sb_requests if environment.parsed_options else ""
    if path:
        _state["rows"] = read_request_rows(path)
        REQUESTS[:] = decode_requests(_state["rows"])
    if isinstance(runner, MasterRunner):
        runner.register_message("sb_samples", _receive_samples)
        runner.register_message("sb_start", _receive_start)


def _receive_requests(msg, **_kwargs: object) -> None:
    REQUESTS[:] = decode_requests(msg.data)
    _state["next"] = None


def _receive_schedule(msg, **_kwargs: object) -> None:
    _state["schedule"] = np.asarray(msg.data, dtype=np.float64)


@events.test_start.add_listener
def _on_start(environment, **_kwargs: object) -> None:
    _state["started"] = time.time()
    if isinstance(environment.runner, MasterRunner):
        # before the spawn messages, so every worker has the requests when its users start
        environment.runner.send_message("sb_requests", _state["rows"])
        schedule = _opts(environment).sb_schedule
        if schedule:  # workers elsewhere have no copy of the file
            environment.runner.send_message("sb_schedule", np.load(schedule).tolist())
        _state["started"] = float("inf")  # the earliest worker start wins (see _receive_start)
        run_time = float(os.environ.get("SB_RUN_TIME", "0"))
        if run_time > 0:
            gevent.spawn_later(run_time, _stop_distributed, environment)


def _stop_distributed(environment) -> None:
    """Stop the workers (they send their samples before reporting stopped), then let them quit."""
    environment.runner.stop()
    gevent.sleep(1.0)
    environment.runner.quit()


@events.test_stop.add_listener
def _on_stop(environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message("sb_start", _state["started"])
        for i in range(0, len(SAMPLES), CHUNK):
            environment.runner.send_message("sb_samples", [list(row) for row in SAMPLES[i : i + CHUNK]])
        SAMPLES.clear()


def _receive_samples(msg, **_kwargs: object) -> None:
    SAMPLES.extend(tuple(row) for row in msg.data)


def _receive_start(msg, **_kwargs: object) -> None:
    _state["started"] = min(_state["started"], float(msg.data))


@events.request.add_listener
def _on_request(response_time: float, start_time: float, response: object, exception: object,
                context: object = None, **_kwargs: object) -> None:
    environment = _state["environment"]
    if _opts(environment).sb_mode != "closed":
        outcome = context.get("sb_outcome") if isinstance(context, dict) else None
        if isinstance(outcome, dict):
            outcome["exception"] = exception
        return
    # a 2xx that still failed (e.g. a truncated body) counts as a failure of the exception's kind
    code = context.get("sb_code") if isinstance(context, dict) else None  # a gRPC call's, already classified
    if code is None:
        code = classify(getattr(response, "status_code", 0) or 0, exception)
    SAMPLES.append((start_time, response_time, code))
    if len(SAMPLES) == _opts(environment).sb_max_requests and not _is_worker(environment):
        gevent.spawn(environment.runner.quit)


@events.quitting.add_listener
def _on_quit(environment, **_kwargs: object) -> None:
    if RESENT[0]:
        print(f"servingbench: {RESENT[0]} request(s) resent after the server closed an idle "
              "keep-alive connection without answering them", flush=True)
    out = os.environ.get("SB_SAMPLES_OUT")
    if out and not _is_worker(environment):
        columns = 3 if _opts(environment).sb_mode == "closed" else 5
        data = np.array(SAMPLES, dtype=np.float64).reshape(-1, columns)
        np.save(out + ".tmp.npy", data)
        with open(out + ".start", "w") as fh:
            fh.write(f"{_state['started']:.6f}\n")
        os.replace(out + ".tmp.npy", out)
