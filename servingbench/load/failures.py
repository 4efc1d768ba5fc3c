"""Why each failed request failed: one code per kind, written by the locustfile and read by the harness.

A raw sample's status column holds the HTTP status when the server answered (``>= 100``) and otherwise a
negative code naming why there was no answer. The locustfile (loadtests/locustfile.py) writes the codes
with :func:`classify` and the harness counts them with :func:`count_kinds`, so both sides read one table.

Which exception means what was found by sending FastHttpUser's requests (geventhttpclient) to real sockets
(tests/failure_probe.py runs the same check in the suite):
- a closed port: ``ConnectionRefusedError``;
- a read past ``network_timeout`` (a server that never answers) and a connect past ``connection_timeout``
  (a full accept queue): ``RetriesExceeded`` whose ``original`` is a ``TimeoutError`` (POST is never
  retried, so even zero retries end in RetriesExceeded);
- a server that resets *or* cleanly closes the connection before any response byte: geventhttpclient's
  ``HTTPConnectionClosed`` for both (it maps ECONNRESET at the start of a response to it), so that kind is
  "connection reset" and covers a close as well; a reset part-way through a response:
  ``ConnectionResetError``;
- a truncated body or a reply that is not HTTP: ``HTTPParseError`` ("invalid response");
- a 4xx or 5xx: the status code itself (Locust's ``LocustBadStatusCode`` carries the response).

Over gRPC (PROTOCOL=grpc; loadtests/grpc_client.py) every answer travels in an HTTP/2 200 response and its
outcome is the grpc-status trailer: OK is recorded as 200, a deadline past ``network_timeout`` as
"timeout", an UNAVAILABLE whose details say the connection was refused or reset as those kinds, and
any other status as its own kind, "gRPC <STATUS>" (:func:`classify_grpc`, codes GRPC_BASE - status).

Samples written before these codes existed hold 0 for every transport failure and -1 for both "never
sent" and "unanswered at drain": they keep those meanings (LEGACY_*), and new samples never use 0 or -1.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

LEGACY_NO_RESPONSE = 0
LEGACY_UNANSWERED = -1
TIMEOUT = -2
REFUSED = -3
RESET = -4
INVALID_RESPONSE = -5
OTHER_ERROR = -6
NEVER_SENT = -7
"""Open loop: the in-flight cap was still full at the drain deadline, so the request was never sent."""
UNANSWERED = -8
"""Open loop: sent, and still without an answer at the drain deadline."""

GRPC_BASE = -100
"""A gRPC status s (1..16) other than the kinds above is recorded as GRPC_BASE - s."""
GRPC_STATUS_NAMES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                     "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                     "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                     "UNAUTHENTICATED")
"""gRPC status codes by number, as the gRPC specification numbers them."""

KIND_NAMES: Mapping[int, str] = {
    LEGACY_NO_RESPONSE: "no response (kind not recorded)",
    LEGACY_UNANSWERED: "unanswered or never sent",
    TIMEOUT: "timeout",
    REFUSED: "connection refused",
    RESET: "connection reset",
    INVALID_RESPONSE: "invalid response",
    OTHER_ERROR: "other connection error",
    NEVER_SENT: "never sent",
    UNANSWERED: "unanswered at drain",
}
NO_ANSWER_CODES = (LEGACY_UNANSWERED, NEVER_SENT, UNANSWERED)
"""Requests that never got an answer of any kind before the load ended (not even an error)."""


def kind_name(code: int) -> str:
    """The kind of a status code: "HTTP 503" for a status the server sent, else the transport kind."""
    if code >= 100:
        return f"HTTP {code}"
    if GRPC_BASE - len(GRPC_STATUS_NAMES) < code < GRPC_BASE:
        return f"gRPC {GRPC_STATUS_NAMES[GRPC_BASE - code]}"
    return KIND_NAMES.get(code, f"unknown code {code}")


def is_ok(codes: np.ndarray) -> np.ndarray:
    """2xx: the only successes."""
    return (codes >= 200) & (codes < 300)


def is_no_answer(codes: np.ndarray) -> np.ndarray:
    return np.isin(codes, NO_ANSWER_CODES)


def count_kinds(codes: np.ndarray) -> dict[str, int]:
    """Failed requests per kind, {"timeout": 3, "HTTP 503": 2}; only the kinds that occurred, most first."""
    codes = np.asarray(codes)
    failed = codes[~is_ok(codes)] if codes.size else codes
    if failed.size == 0:
        return {}
    values, counts = np.unique(failed.astype(np.int64), return_counts=True)
    pairs = sorted(((kind_name(int(v)), int(n)) for v, n in zip(values, counts, strict=True)),
                   key=lambda pair: (-pair[1], pair[0]))
    return dict(pairs)


def kinds_from_status_counts(status_counts: Mapping[str, int]) -> dict[str, int]:
    """The same counts from a step's status_counts (runs written before failure kinds were stored)."""
    codes = [(int(float(code)), n) for code, n in status_counts.items()]
    return count_kinds(np.repeat(np.array([c for c, _ in codes], dtype=np.int64), [n for _, n in codes]))


def describe_kinds(kinds: Mapping[str, int]) -> str:
    """"timeout 3, HTTP 503 2", or "no failures"."""
    return ", ".join(f"{kind} {n}" for kind, n in kinds.items()) or "no failures"


def classify(status: int, exception: BaseException | None) -> int:
    """The status column for one finished request: its HTTP status, or the code of why there was none.

    ``status`` is the response's status code (0 when Locust made an ErrorResponse), ``exception`` what
    Locust's request event reported. A 2xx with an exception (a truncated body) is a failure of the
    exception's kind; a non-2xx status is the server's answer, whatever exception Locust attached to it.
    """
    if exception is None and status >= 100:
        return status
    if status >= 100 and not 200 <= status < 300:
        return status
    return _transport_kind(exception)


def _transport_kind(exception: BaseException | None) -> int:
    from gevent import Timeout as GeventTimeout
    from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError
    from geventhttpclient.useragent import RetriesExceeded

    if isinstance(exception, RetriesExceeded) and isinstance(getattr(exception, "original", None),
                                                             BaseException):
        exception = exception.original  # what ended the only try (POST is never retried)
    if isinstance(exception, TimeoutError | GeventTimeout):
        return TIMEOUT
    if isinstance(exception, ConnectionRefusedError):
        return REFUSED
    if isinstance(exception, ConnectionResetError | BrokenPipeError | HTTPConnectionClosed):
        return RESET
    if isinstance(exception, HTTPParseError):
        return INVALID_RESPONSE
    return OTHER_ERROR


def classify_grpc(status: int, details: str = "") -> int:
    """The status column for one finished gRPC call: 200 for OK, else the code of its kind.

    ``status`` is the gRPC status number (grpc.StatusCode.X.value[0]), ``details`` its message.
    """
    if status == 0:
        return 200
    name = GRPC_STATUS_NAMES[status] if 0 < status < len(GRPC_STATUS_NAMES) else ""
    text = details.lower()
    if name == "DEADLINE_EXCEEDED":
        return TIMEOUT
    if name == "UNAVAILABLE" and ("refused" in text or "failed to connect" in text):
        return REFUSED
    if name == "UNAVAILABLE" and ("reset" in text or "socket closed" in text):
        return RESET
    return GRPC_BASE - status if name else OTHER_ERROR
