"""A LoadGen system-under-test that is a plain HTTP client of the framework's native protocol.

Why a thread pool of blocking clients, not our Locust user: the cross-check must not share the harness's
load generator (gevent, Locust's connection pool, our arrival schedule), or it would repeat our errors
instead of catching them. LoadGen owns the schedule (Poisson, Server scenario) and the clock (latency
from each query's *scheduled* time, so the client's own queueing counts against it, as in our open loop);
this module only delivers each query: a bounded queue, ``threads`` workers, each with one persistent
(keep-alive) connection, the request pre-encoded by the adapter's codec, QuerySamplesComplete on every
answer, every failure counted by kind and completed too (LoadGen waits for every query).

A query that waits in the client queue longer than ``give_up_s`` is completed at once without being sent
and counted as never sent: LoadGen then records its (already long) latency, and an overloaded server
cannot keep the run going for minutes after its schedule ends.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from servingbench.adapter import HttpRequest

NEVER_SENT = "never sent (gave up in the client queue)"
TIMEOUT = "timeout"
CONNECTION = "connection refused/reset"


@dataclass
class SutCounters:
    """What the client saw, beside LoadGen's own figures: sends, answers, failures, connections."""

    issued: int = 0
    ok: int = 0
    failures: Counter = field(default_factory=Counter)
    connections_opened: int = 0
    reconnects: int = 0
    """Sends retried once on a fresh connection after the server closed an idle keep-alive one."""
    client_ms: list[float] = field(default_factory=list)
    """Issue (LoadGen's call into the SUT) to answer, per successful query: LoadGen's latency minus its own
    issue delay."""
    wait_ms: list[float] = field(default_factory=list)
    """Issue to the start of the send: time in the client queue."""

    def as_dict(self) -> dict:
        client = np.asarray(self.client_ms) if self.client_ms else np.zeros(0)
        wait = np.asarray(self.wait_ms) if self.wait_ms else np.zeros(0)

        def pct(values: np.ndarray, q: float) -> float | None:
            return round(float(np.percentile(values, q)), 3) if values.size else None

        return {"issued": self.issued, "ok": self.ok, "failures": dict(self.failures),
                "connections_opened": self.connections_opened, "reconnects": self.reconnects,
                "client_p50_ms": pct(client, 50), "client_p99_ms": pct(client, 99),
                "queue_wait_p50_ms": pct(wait, 50), "queue_wait_p99_ms": pct(wait, 99)}


class HttpSut:
    """LoadGen's issue/flush callbacks over a pool of keep-alive HTTP connections."""

    def __init__(self, host: str, port: int, requests: list[HttpRequest], *, threads: int = 16,
                 timeout_s: float = 30.0, give_up_s: float = 10.0, keep_alive: bool = True,
                 complete=None) -> None:
        if not requests:
            raise ValueError("the SUT needs at least one pre-encoded request")
        self.host, self.port, self.requests = host, port, requests
        self.timeout_s, self.give_up_s = timeout_s, give_up_s
        self.keep_alive = keep_alive
        """False: a new connection per request (an experiment on what connection reuse is worth)."""
        self.counters = SutCounters()
        self._complete = complete  # (query id) -> None: mlperf_loadgen.QuerySamplesComplete for one id
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._worker, name=f"sut-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    # LoadGen's callbacks (called from its issue thread) -----------------------------------------------
    def issue_queries(self, samples) -> None:
        now = time.perf_counter()
        for sample in samples:
            self._queue.put((sample.id, sample.index, now))
        with self._lock:
            self.counters.issued += len(samples)

    def flush_queries(self) -> None:
        """Nothing is batched, so there is nothing to flush."""

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)

    # the workers --------------------------------------------------------------------------------------
    def _worker(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while (item := self._queue.get()) is not None:
            query_id, index, issued = item
            started = time.perf_counter()
            if started - issued > self.give_up_s:
                self._done(query_id, issued, started, NEVER_SENT)
                continue
            conn, failure = self._send(conn, self.requests[index % len(self.requests)])
            self._done(query_id, issued, started, failure)
        if conn is not None:
            conn.close()

    def _send(self, conn, request: HttpRequest) -> tuple[http.client.HTTPConnection | None, str | None]:
        """One request on the thread's connection (opened on first use, once more if the server closed it
        while idle); returns the connection to keep and the failure kind, None for a 2xx answer."""
        for attempt in range(2):
            fresh = conn is None
            if fresh:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
                with self._lock:
                    self.counters.connections_opened += 1
            try:
                conn.request(request.method, request.path, body=request.body, headers=request.headers)
                response = conn.getresponse()
                response.read()
                if response.will_close or not self.keep_alive:
                    conn.close()
                    conn = None
                return conn, None if 200 <= response.status < 300 else f"HTTP {response.status}"
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                conn = None
                if fresh or attempt:  # a new connection failed: the server's doing, not keep-alive's
                    return None, CONNECTION if not isinstance(exc, TimeoutError) else TIMEOUT
                with self._lock:
                    self.counters.reconnects += 1
            except TimeoutError:
                conn.close()
                return None, TIMEOUT
            except OSError:
                conn.close()
                return None, CONNECTION
        return None, CONNECTION

    def _done(self, query_id: int, issued: float, started: float, failure: str | None) -> None:
        end = time.perf_counter()
        with self._lock:
            if failure is None:
                self.counters.ok += 1
                self.counters.client_ms.append((end - issued) * 1000)
                self.counters.wait_ms.append((started - issued) * 1000)
            else:
                self.counters.failures[failure] += 1
        if self._complete is not None:
            self._complete(query_id)
