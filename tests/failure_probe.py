"""What FastHttpUser's client (geventhttpclient) reports against misbehaving sockets, classified.

Run by tests/test_failure_kinds.py in the harness environment, in its own process (importing Locust
monkey-patches the standard library). ``python tests/failure_probe.py`` starts the misbehaving servers in a
plain child process (``serve`` mode), sends one POST to each through Locust's FastHttpSession exactly as
the locustfile does, and prints {case: status code} as JSON, the code from servingbench.load.failures.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time

BEHAVIOURS = ("ok", "reset", "close", "reset_mid_response", "silent", "http_503", "truncated", "not_http")
TIMEOUT_S = 0.5


def _rst(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    conn.close()


def _handle(conn: socket.socket, behaviour: str) -> None:
    conn.recv(65536)
    replies = {"ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
               "http_503": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno",
               "truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
               "not_http": b"NOT HTTP AT ALL\r\n\r\n",
               "reset_mid_response": b"HTTP/1.1 200 OK\r\nContent-Len"}
    if behaviour == "silent":
        time.sleep(60)
    if behaviour in replies:
        conn.sendall(replies[behaviour])
        time.sleep(0.05)
    if behaviour in ("reset", "reset_mid_response"):
        _rst(conn)
    else:
        conn.close()


def _serve(listener: socket.socket, behaviour: str) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_handle, args=(conn, behaviour), daemon=True).start()


def serve() -> None:
    """One listener per behaviour; prints their ports as JSON, then serves until killed."""
    ports = {}
    for behaviour in BEHAVIOURS:
        listener = socket.create_server(("127.0.0.1", 0))
        ports[behaviour] = listener.getsockname()[1]
        threading.Thread(target=_serve, args=(listener, behaviour), daemon=True).start()
    print(json.dumps(ports), flush=True)
    time.sleep(120)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _full_backlog() -> tuple[int, list[socket.socket]]:
    """A listener that never accepts, its queue filled: a new connect gets no answer (connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = [listener]
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # non-blocking: the connect completes in the queue
            filler.connect(("127.0.0.1", port))
        held.append(filler)
    time.sleep(0.2)
    return port, held


def probe() -> dict[str, int]:
    from locust.contrib.fasthttp import FastHttpSession
    from locust.event import EventHook

    from servingbench.load.failures import classify

    child = subprocess.Popen([sys.executable, __file__, "serve"], stdout=subprocess.PIPE, text=True)
    try:
        ports = json.loads(child.stdout.readline())
        backlog_port, _held = _full_backlog()
        ports |= {"closed_port": _closed_port(), "connect_timeout": backlog_port}
        event = EventHook()
        reported: dict = {}
        event.add_listener(lambda **kw: reported.update(kw))
        out = {}
        for case, port in ports.items():
            session = FastHttpSession(f"http://127.0.0.1:{port}", event, None, network_timeout=TIMEOUT_S,
                                      connection_timeout=TIMEOUT_S, max_retries=0)
            reported.clear()
            response = session.request("POST", "/predict", data=b"{}", context={})
            out[case] = classify(response.status_code or 0, reported.get("exception"))
        return out
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        print(json.dumps(probe()))
