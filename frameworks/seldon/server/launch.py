"""Start `seldon-core-microservice` with every listener on one host (127.0.0.1 by default).

seldon-core 1.18.2 hard-codes "0.0.0.0" for every listener it opens (REST gunicorn, metrics gunicorn,
gRPC workers, and Flask's debug server) and has no flag or environment variable to change it. This
module is a drop-in for the console script: it rewrites those binds to ``SELDON_BIND_HOST`` (default
127.0.0.1) and then runs the wrapper's own ``main()`` unchanged, so argv, environment variables
(GUNICORN_WORKERS, GUNICORN_THREADS, GRPC_WORKERS, ...) and behaviour are the stock ones:

    python -m launch ModelClass --http-port 9000 --grpc-port 5000 --metrics-port 6000

The patches touch only where the address is chosen:
- gunicorn (REST and metrics servers): ``StandaloneApplication.load_config`` sets the ``bind`` option
  from a literal "0.0.0.0:<port>"; the host is rewritten after the wrapper's own config is loaded;
- gRPC (only when GRPC_WORKERS >= 1): the shared SO_REUSEPORT reservation socket and each worker's
  ``add_insecure_port("0.0.0.0:<port>")``;
- ``flask.Flask.run`` (SELDON_DEBUG=1 only: the Flask development server).

One more patch concerns stopping, not binding. Stopping signals every process at once (with a gRPC
worker the main process would otherwise wait for it forever). Gunicorn's arbiter then races: when a
worker dies from its own SIGTERM while the arbiter's SIGTERM is still queued, the arbiter's loop
respawns the worker first, and the new worker (forked after the signal was sent) runs until gunicorn's
30 s graceful timeout. ``Arbiter.manage_workers`` is therefore skipped while a stop signal is queued.
The container image does not need this: it runs the stock ``seldon-core-microservice`` on 0.0.0.0.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import sys

WILDCARDS = ("0.0.0.0", "", "::")


def bind_host() -> str:
    return os.environ.get("SELDON_BIND_HOST", "127.0.0.1")


def _rehost(address: str, host: str) -> str:
    """'0.0.0.0:9000' -> '127.0.0.1:9000'; other addresses (unix sockets, explicit hosts) unchanged."""
    current, sep, port = address.rpartition(":")
    if sep and current in WILDCARDS:
        return f"{host}:{port}"
    return address


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def patch_respawn_race() -> None:
    from gunicorn.arbiter import Arbiter

    original_manage_workers = Arbiter.manage_workers

    @functools.wraps(original_manage_workers)
    def manage_workers(self):
        if any(sig in STOP_SIGNALS for sig in self.SIG_QUEUE):
            return None  # stopping: do not replace a worker that just exited
        return original_manage_workers(self)

    Arbiter.manage_workers = manage_workers


def patch(host: str) -> None:
    import flask
    from seldon_core import gunicorn_utils, microservice, wrapper

    # gunicorn: the REST server (UserModelApplication) and the metrics server (StandaloneApplication).
    original_load_config = gunicorn_utils.StandaloneApplication.load_config

    @functools.wraps(original_load_config)
    def load_config(self):
        original_load_config(self)
        self.cfg.set("bind", [_rehost(addr, host) for addr in self.cfg.bind])

    gunicorn_utils.StandaloneApplication.load_config = load_config

    # gRPC: the port reservation in the parent, then each forked worker's listener.
    @contextlib.contextmanager
    def reserve_grpc_port(grpc_port: int):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, grpc_port))
        try:
            yield sock.getsockname()[1]
        finally:
            sock.close()

    microservice._reserve_grpc_port = reserve_grpc_port

    original_get_grpc_server = wrapper.get_grpc_server

    @functools.wraps(original_get_grpc_server)
    def get_grpc_server(*args, **kwargs):
        server = original_get_grpc_server(*args, **kwargs)
        add_insecure_port = server.add_insecure_port
        server.add_insecure_port = lambda address: add_insecure_port(_rehost(address, host))
        return server

    wrapper.get_grpc_server = get_grpc_server

    # SELDON_DEBUG=1: Flask's development server.
    original_run = flask.Flask.run

    @functools.wraps(original_run)
    def run(self, host_arg=None, *args, **kwargs):
        kwargs.pop("host", None)
        return original_run(self, host, *args, **kwargs)

    flask.Flask.run = run


def main() -> None:
    patch(bind_host())
    patch_respawn_race()
    from seldon_core.microservice import main as seldon_main

    sys.argv[0] = "seldon-core-microservice"
    seldon_main()


if __name__ == "__main__":
    main()
