"""The open-loop user resends a request that the server dropped with an idle keep-alive connection.

Seen with the real baseline server (README, "Cross-checked against MLPerf LoadGen"): uvicorn closes a
connection idle for 5 s, and a request sent on it in that instant is dropped unanswered; Locust's LIFO
pool leaves connections idle after each burst, so a probe near capacity lost a few requests this way
(enough to fail the 0.1% error budget) where LoadGen's client lost none. Here a small real server makes
the race certain: a request arriving on a connection idle for more than IDLE_S is dropped (the
connection closed without an answer), a first request on a connection is always answered.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

from servingbench.cpusets import split_cpus
from servingbench.load.locust import run_open_loop

pytestmark = [pytest.mark.slow]
IDLE_S = 0.15
BODY = b'{"predictions": [{"label": "positive", "score": 1.0}]}'


class RacyKeepAlive(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        buffer, last_answer = b"", None
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(rest) < length:
                rest += sock.recv(65536)
            buffer = rest[length:]
            if last_answer is not None and time.monotonic() - last_answer > IDLE_S:
                return  # the keep-alive close was due: dropped unanswered, connection closed
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
            last_answer = time.monotonic()


@pytest.fixture()
def racy_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RacyKeepAlive)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_request_dropped_with_an_idle_connection_is_resent_not_failed(tmp_path, racy_server):
    requests_file = tmp_path / "requests.json"
    requests_file.write_text('[{"method": "POST", "path": "/predict", "headers": {}, "body": "e30="}]')
    _, loadgen_cpus = split_cpus()
    result = run_open_loop(requests_file, racy_server, rate_rps=10, duration_s=6, seed=11, cpus=loadgen_cpus,
                           out_dir=tmp_path, name="racy", drain_s=2)
    log = result.log_path.read_text()
    # at 10 req/s about 22% of gaps exceed 0.15 s: some requests met a connection whose close was due
    assert "resent after the server closed an idle keep-alive connection" in log, log[-2000:]
    assert result.samples.shape[0] >= 30 and (result.samples[:, 2] == 200).all(), log[-2000:]
