"""Loopback ports and plain HTTP: free ports, a port someone else holds, one request on a fresh connection."""

from __future__ import annotations

import http.client
import socket

from servingbench.adapter import HttpRequest
from servingbench.servers.errors import PortInUse
from servingbench.servers.procs import listening_on

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def check_port_free(port: int) -> None:
    """Raise PortInUse naming who holds the port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return
        except OSError:
            pass
    holders = listening_on([port]) or ["an unknown process"]
    raise PortInUse(
        f"port {port} is already in use: {'; '.join(holders)}. "
        "Stop that process or choose another port (PORT=... for make bench)."
    )


def allocate_ports(names: tuple[str, ...], http_port: int | None = None) -> dict[str, int]:
    """One distinct free loopback port per name; ``http_port`` if the user chose one."""
    ports: dict[str, int] = {}
    for name in names:
        if name == "http" and http_port:
            check_port_free(http_port)
            ports[name] = http_port
            continue
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    return ports


def http_send(host: str, port: int, request: HttpRequest, timeout: float = 30.0) -> tuple[int, bytes]:
    """One real HTTP request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(request.method, request.path, body=request.body, headers=request.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
