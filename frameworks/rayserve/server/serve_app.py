"""Ray Serve server for servingbench: a one-node Ray cluster, Serve on loopback, the shared model.

One process starts everything and owns it: it starts the Ray head node (GCS, raylet and helpers) with
every port pinned and its scratch folder inside the run folder, connects to it as the driver, starts
Serve's HTTP proxy on 127.0.0.1, deploys the model and then blocks until SIGTERM or SIGINT, when it
tears the node down (no drain: the benchmark is over) and exits.

Why not ``ray.init()`` alone: it starts the same head node but cannot pin the node manager, object
manager, agent and metrics ports, and one of those defaults is a fixed port (52365) that two servers on
one machine would fight over. So the head node is started the way ``ray start --head`` does it, from
``RayParams`` (every port given), and ``ray.init(address=...)`` connects the driver to it.

Protocol (Ray Serve HTTP, JSON):
    POST /predict {"texts": ["...", ...]}  ->  200 {"predictions": [{"label": .., "score": ..}, ...]}
    bad input (not UTF-8, not JSON, wrong schema, non-string items)  ->  400 {"error": "..."}
    body over MAX_BODY_BYTES  ->  413 {"error": "..."}

Batching: with ``--max-batch-size`` > 1 each replica uses Ray Serve's own ``@serve.batch``; every text
is one batch item, so the batch size counts texts as in the other frameworks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time

# Ray reads these at import time, and every Ray process it starts inherits them.
for _key, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage report (it would phone home)
    # With usage stats off, Ray 2.60's dashboard head still POSTs a "usage disabled" report to Ray's
    # server (a DNS query seen under strace): send it to a closed loopback port instead.
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
    "RAY_AUTH_MODE": "disabled",  # no token in ~/.ray/auth_token; loopback only anyway
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # "local only" mode: GCS, raylet, workers bind 127.0.0.1
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",  # stop at once: no 30 s drain
    "RAY_SERVE_PROXY_GRACEFUL_SHUTDOWN_TIMEOUT_S": "0.1",
    "RAY_DEDUP_LOGS": "0",
    "TOKENIZERS_PARALLELISM": "false",  # no tokenizer thread pool beside ORT's threads
    # Serve's access log stays on (its default) in the log files, but is not echoed on stderr: the echo
    # travels log monitor -> GCS -> driver for every request (about 2 ms of CPU per request here).
    "RAY_SERVE_LOG_TO_STDERR": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
}.items():
    os.environ.setdefault(_key, _value)

APP_NAME = "servingbench"


OBJECT_STORE_BYTES = 128 * 1024 * 1024
"""Plasma store cap. Serve passes small HTTP payloads inline, so the store stays empty; Ray's default
reserves 30% of RAM in /dev/shm."""


NO_CLOUD_PROBE = "# Written by servingbench's serve_app.py: a local cluster, Ray need not probe clouds.\n" \
                 "provider:\n  type: local\n"


def keep_ray_off_cloud_metadata() -> None:
    """Give Ray's usage code the cluster config it looks for, so it does not probe cloud metadata.

    Without ``~/ray_bootstrap_config.yaml`` (what `ray up` leaves on a head node) the dashboard head asks
    169.254.169.254 and metadata.google.internal which cloud it runs on, usage stats off or not (seen under
    strace, tests/integration/test_no_phone_home.py). The harness's HOME is the run folder's; an existing
    file (a real `ray up` config names its provider too) is left alone.
    """
    path = os.path.join(os.path.expanduser("~"), "ray_bootstrap_config.yaml")
    if not os.path.exists(path):
        with contextlib.suppress(OSError), open(path, "w") as fh:
            fh.write(NO_CLOUD_PROBE)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (Ray itself always binds 127.0.0.1)")
    p.add_argument("--http-port", type=int, default=8000)
    for name in ("gcs", "node-manager", "object-manager", "metrics-agent", "metrics-export",
                 "dashboard-agent", "runtime-env-agent"):
        p.add_argument(f"--{name}-port", type=int, default=0, help="0: a free port chosen by the OS")
    p.add_argument("--temp-dir", default=None, help="Ray's scratch and log folder")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs Ray may schedule (default: affinity)")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--max-batch-size", type=int, default=1, help="1: no batching")
    p.add_argument("--batch-wait-ms", type=float, default=0.0)
    p.add_argument("--max-ongoing-requests", type=int, default=0, help="0: Ray Serve's default")
    p.add_argument("--no-access-log", action="store_true")
    return p.parse_args(argv)


# -- the deployment ----------------------------------------------------------------------------------


def build_app(args: argparse.Namespace):
    """The Serve application: the replica class for these flags, deployed with their options."""
    from ray import serve

    options = deployment_options(args)
    cls = replica_class(args)
    return serve.deployment(name="Sentiment", **options)(cls).bind()


def deployment_options(args: argparse.Namespace) -> dict:
    """serve.deployment's options: replicas, their CPU share, retries, concurrency, access log."""
    # Ray reserves 1 CPU per replica by default; share the node's CPUs so N replicas fit on any budget.
    cpus_per_replica = round(args.num_cpus / args.replicas, 4)
    options: dict = {
        "num_replicas": args.replicas,
        "ray_actor_options": {"num_cpus": cpus_per_replica},
        # A replica that cannot load the model fails the start at once instead of retrying for minutes.
        "max_constructor_retry_count": 1,
    }
    if args.max_ongoing_requests:
        options["max_ongoing_requests"] = args.max_ongoing_requests
    if args.no_access_log:
        options["logging_config"] = {"enable_access_log": False}
    return options


def http_helpers():
    """``error``, ``read_texts`` and ``answer``: the HTTP side of the texts protocol for the replicas.

    Closures, as they were inside build_app: the replica classes capture them, and Starlette and the
    texts protocol are imported when the app is built, not when this module is imported.
    """
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from shared_model.texts_protocol import MAX_BODY_BYTES, BadRequest, parse_texts, prediction_objects

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def read_texts(request: Request) -> list[str] | JSONResponse:
        """The texts of a request, or the 4xx response that says why there are none."""
        if request.method != "POST":
            return error(405, "use POST /predict")
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            return error(400, "bad Content-Length")
        if declared > MAX_BODY_BYTES:
            return error(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            return parse_texts(await request.body())
        except BadRequest as bad:
            return error(bad.status, bad.message)

    def answer(predictions) -> JSONResponse:
        return JSONResponse({"predictions": prediction_objects(predictions)})

    return error, read_texts, answer


def replica_class(args: argparse.Namespace) -> type:
    """The deployment's class: one predict per request, or (max_batch_size > 1) Serve's @serve.batch."""
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    error, read_texts, answer = http_helpers()

    class Sentiment:
        """One replica: the shared predictor, ORT threads = SB_THREADS, per-request or batched."""

        def __init__(self) -> None:
            from shared_model.predictor import load_predictor

            self.predictor = load_predictor()
            self.predictor.predict(["warm-up"])  # first run allocates; keep it out of the first request

        async def __call__(self, request: Request) -> JSONResponse:
            texts = await read_texts(request)
            if isinstance(texts, JSONResponse):
                return texts
            if not texts:
                return answer([])
            try:
                return answer(self.predictor.predict(texts))
            except TypeError as exc:  # the predictor's own input check
                return error(400, str(exc))

    class BatchedSentiment(Sentiment):
        """Same, with every text submitted to Ray Serve's @serve.batch queue."""

        @serve.batch(max_batch_size=args.max_batch_size, batch_wait_timeout_s=args.batch_wait_ms / 1000)
        async def predict_batch(self, texts: list[str]) -> list[tuple[str, float]]:
            return self.predictor.predict(texts)

        async def __call__(self, request: Request) -> JSONResponse:
            import asyncio

            texts = await read_texts(request)
            if isinstance(texts, JSONResponse):
                return texts
            if len(texts) == 1:
                return answer([await self.predict_batch(texts[0])])
            return answer(await asyncio.gather(*(self.predict_batch(t) for t in texts)))

    batching = args.max_batch_size > 1
    return BatchedSentiment if batching else Sentiment


# -- the Ray node ------------------------------------------------------------------------------------


SOCKET_PATH_MAX = 107
"""Linux's limit on a Unix socket path (108 bytes with the NUL)."""


def app_builder(args: dict):
    """Ray Serve application builder for serveConfigV2 (KubeRay RayService): ``args`` are this script's
    flags (replicas, max_batch_size, batch_wait_ms, max_ongoing_requests) as a mapping."""
    parsed = parse_args([f"--{k.replace('_', '-')}={v}" for k, v in args.items()])
    parsed.num_cpus = parsed.num_cpus or len(os.sched_getaffinity(0))  # as main() does: the pod's CPUs
    return build_app(parsed)


def socket_dir(temp_dir: str) -> str | None:
    """A short folder for Ray's two Unix sockets when ``temp_dir`` is too long to hold them, else None.

    Ray puts them at <temp_dir>/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store; a run folder
    deep in a work tree easily passes 107 bytes. Then (only then) the sockets go to /tmp/sbray-XXXX,
    which ``shutdown`` removes; logs and everything else stay in ``temp_dir``.
    """
    longest = os.path.join(temp_dir, "session_2000-01-01_00-00-00_000000_4194304", "sockets", "plasma_store")
    if len(longest.encode()) <= SOCKET_PATH_MAX:
        return None
    import tempfile

    return tempfile.mkdtemp(prefix="sbray-", dir="/tmp")


def plasma_dir(temp_dir: str | None) -> str | None:
    """/dev/shm when it can hold the object store, else Ray's scratch folder (never Ray's /tmp fallback).

    A container's /dev/shm is 64 MB unless run with --shm-size.
    """
    try:
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize > 1.2 * OBJECT_STORE_BYTES:
            return "/dev/shm"
    except OSError:
        pass
    return temp_dir


def start_head(args: argparse.Namespace):
    """Start GCS, raylet and helpers with pinned ports; return the Node that owns them."""
    import ray._private.node
    import ray._private.parameter

    sockets = {}
    if args.socket_dir:
        sockets = {
            "plasma_store_socket_name": os.path.join(args.socket_dir, "plasma_store"),
            "raylet_socket_name": os.path.join(args.socket_dir, "raylet"),
        }

    params = ray._private.parameter.RayParams(
        node_ip_address="127.0.0.1",
        node_name="127.0.0.1",
        num_cpus=args.num_cpus,
        num_gpus=0,
        object_store_memory=OBJECT_STORE_BYTES,
        include_dashboard=False,
        gcs_server_port=args.gcs_port,
        node_manager_port=args.node_manager_port,
        object_manager_port=args.object_manager_port,
        metrics_agent_port=args.metrics_agent_port,
        metrics_export_port=args.metrics_export_port,
        dashboard_agent_listen_port=args.dashboard_agent_port,
        runtime_env_agent_port=args.runtime_env_agent_port,
        temp_dir=args.temp_dir,
        plasma_directory=plasma_dir(args.temp_dir),
        **sockets,
    )
    return ray._private.node.Node(params, head=True, shutdown_at_exit=False, spawn_reaper=True)


START_ATTEMPTS = 3

_node = None  # the running head node, once started
_teardown = threading.Lock()
_wakeup_sockets: list[socket.socket] = []


def teardown_and_exit(code: int, socket_folder: str | None) -> None:
    """Stop everything and end the process. Whoever comes first (main thread or signal watcher) wins."""
    with _teardown:
        try:
            # The sockets are bound already: removing their folder first costs nothing, and this
            # process may not outlive the raylet by much (a Ray driver exits when its raylet dies).
            _remove_socket_dir(socket_folder)
            shutdown(_node)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # no atexit hooks: those of a Ray driver whose cluster is gone can hang


def watch_signals(socket_folder: str | None) -> None:
    """Turn SIGTERM/SIGINT into a teardown even while the main thread is stuck inside Ray.

    A Python signal handler runs only when the main thread gets back to the interpreter, and during
    startup it can sit for a minute in Ray's C++ code (waiting on a GCS that the same SIGTERM has
    just stopped). So the handler does nothing, and the signal number that Python's C-level handler
    writes to the wakeup socket is read here, in a thread of its own, which tears down and exits.
    """
    receiver, sender = socket.socketpair()
    _wakeup_sockets.extend((receiver, sender))  # keep both open for the life of the process
    sender.setblocking(False)
    signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)

    def wait() -> None:
        data = b""
        while not data:
            data = receiver.recv(1)
        signum = data[0]
        print(f"[serve_app] signal {signum}: stopping", flush=True)
        teardown_and_exit(0, socket_folder)

    threading.Thread(target=wait, name="signal-watcher", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    global _node
    args = parse_args(argv)
    args.num_cpus = args.num_cpus or len(os.sched_getaffinity(0))
    if args.temp_dir:
        args.temp_dir = os.path.abspath(args.temp_dir)
        os.makedirs(args.temp_dir, exist_ok=True)
    args.socket_dir = socket_dir(args.temp_dir) if args.temp_dir else None
    keep_ray_off_cloud_metadata()
    started = time.monotonic()
    import ray  # before the watcher: until Ray starts a process, the default SIGTERM is right
    from ray import serve

    watch_signals(args.socket_dir)
    code = 1
    try:
        _node = start_head_with_retries(args)
        ray.init(address=_node.address, namespace="servingbench", log_to_driver=True,
                 logging_level="warning", _temp_dir=args.temp_dir)
        for sig in (signal.SIGTERM, signal.SIGINT):  # ray.init installs its own (sys.exit): undo
            signal.signal(sig, lambda *_: None)
        serve.start(http_options={"host": args.host, "port": args.http_port}, proxy_location="HeadOnly")
        try:
            serve.run(build_app(args), name=APP_NAME, route_prefix="/predict", blocking=False)
        except RuntimeError as exc:
            # The replica's own error is in the deployment status; put it last in the log.
            print(f"[serve_app] {exc}\n[serve_app] replica error: {deployment_error()}", flush=True)
            return 1
        print(f"[serve_app] serving on http://{args.host}:{args.http_port}/predict "
              f"({args.replicas} replica(s), max_batch_size={args.max_batch_size}, "
              f"batch_wait_ms={args.batch_wait_ms:g}) after {time.monotonic() - started:.1f} s", flush=True)
        threading.Event().wait()  # until the signal watcher ends the process
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        teardown_and_exit(code, args.socket_dir)
    return code


def start_head_with_retries(args: argparse.Namespace):
    """Start the head node; on a busy machine Ray 2.60's raylet can abort at start, so try again.

    The raylet waits a fixed 15 s for the dashboard agent (a Python process) to write its port file
    and aborts otherwise ("The current node timed out during startup"); under heavy CPU contention
    the agent can be that slow. A second attempt usually wins (warm caches).
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return start_head(args)
        except Exception as exc:
            if attempt == START_ATTEMPTS:
                raise
            print(f"[serve_app] Ray node start failed (attempt {attempt}): {exc}; retrying", flush=True)
            shutdown(None)  # the attempt's processes (GCS, agents...) are our children
    raise AssertionError("unreachable")


def deployment_error() -> str:
    """The last lines of the failed deployment's status message (the replica's exception)."""
    from ray import serve

    try:
        app = serve.status().applications[APP_NAME]
        messages = [d.message for d in app.deployments.values() if d.message] or [app.message]
        lines = [line for line in "\n".join(messages).splitlines() if line.strip()]
        return " | ".join(lines[-2:]) or "(no message)"
    except Exception as exc:
        return f"(status unavailable: {exc})"


def shutdown(node=None) -> None:
    """Tear the node down fast and completely; never wait on a GCS that may already be gone.

    The launcher signals the whole tree at once, so by the time this runs the GCS and raylet may be
    exiting too: no ``serve.shutdown()`` / ``ray.shutdown()`` round trips (they retry a dead GCS for
    a long time). Killing the raylet stops its workers (the Serve controller, proxy and replicas, each
    in its own process group); Ray's own processes die with this one (PR_SET_PDEATHSIG); whatever
    is left of the tree after that is killed here.
    """
    started = time.monotonic()
    import psutil  # vendored by Ray

    tree = psutil.Process().children(recursive=True)  # includes the raylet's workers while it lives
    if node is None:  # a failed or interrupted start: whatever it started is ours to stop
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
    else:
        # Ray's own teardown (raylet first, so it stops its workers), bounded: it must never hang us.
        killer = threading.Thread(
            target=_kill_node, args=(node,), name="kill-ray-node", daemon=True
        )
        killer.start()
        killer.join(timeout=NODE_KILL_TIMEOUT_S)
    t_kill = time.monotonic() - started
    deadline = time.monotonic() + 3.0
    while True:
        _reap()
        alive = [p for p in tree if _running(p)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for proc in alive:
        print(f"[serve_app] killing leftover pid {proc.pid}", flush=True)
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _reap()
    print(f"[serve_app] stopped in {time.monotonic() - started:.2f} s (node kill {t_kill:.2f} s, "
          f"{len(tree)} processes)", flush=True)


NODE_KILL_TIMEOUT_S = 8.0


def _kill_node(node) -> None:
    try:
        node.kill_all_processes(check_alive=False, allow_graceful=True)
    except Exception as exc:
        print(f"[serve_app] kill_all_processes: {exc}", flush=True)


def _remove_socket_dir(folder: str | None) -> None:
    if folder:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _reap() -> None:
    """Collect exited children so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _running(proc) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


if __name__ == "__main__":
    main()
