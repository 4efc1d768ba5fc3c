"""Triton Inference Server (through PyTriton) around the shared predictor.

PyTriton starts the real ``tritonserver`` binary (2.51, shipped in the nvidia-pytriton wheel) with its
Python backend; the model there is PyTriton's proxy, which hands each (dynamically batched) request to
the inference callable below, running in this process. The wire protocol is Triton's own: Open
Inference Protocol V2 over HTTP and gRPC.

Model ``sentiment``: input ``text`` (BYTES, per-item shape [1]); outputs ``label`` (BYTES, [1]) and
``score`` (FP32, [1]). The batch dimension is always on (PyTriton's default ``batching=True``), so a
request carries shape ``[n, 1]``.

Everything PyTriton and tritonserver write goes under $SB_RUN_DIR: the workspace (model store,
tritonserver copy, ZeroMQ handshake/request sockets), the tritonserver log and PyTriton's home. The
exceptions: POSIX shared memory (/dev/shm): the Python backend's regions and PyTriton's tensor blocks,
freed on stop; and the workspace when the run folder is too deep for Unix socket paths (see
choose_workspace). SIGTERM and SIGINT stop Triton cleanly (model unload, stub exit, workspace removal).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pathlib
import select
import shutil
import signal
import sys
import tempfile
import threading

import numpy as np

from shared_model.predictor import load_predictor

MODEL_NAME = "sentiment"
MAX_TEXT_CHARS = 100_000
"""Texts above this are refused (400-class error from the model): a serving endpoint should not tokenise
unbounded input. The predictor truncates at 128 tokens anyway, so no real sentence comes near it."""

UNIX_SOCKET_PATH_MAX = 107
"""PyTriton puts its ZeroMQ ipc:// sockets in the workspace; a longer path fails at model load."""

LOG = logging.getLogger("triton_app")


class BadInput(ValueError):
    """A request the model refuses."""


def decode_texts(column: np.ndarray) -> list[str]:
    """The ``text`` column of a batch ([n, 1] object array of bytes) to Python strings."""
    texts = []
    for item in column.reshape(-1):
        if isinstance(item, bytes | bytearray | np.bytes_):
            try:
                text = bytes(item).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadInput("text is not valid UTF-8") from exc
        elif isinstance(item, str):
            text = item
        else:
            raise BadInput(f"text must be a string, got {type(item).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise BadInput(f"text longer than {MAX_TEXT_CHARS} characters")
        texts.append(text)
    return texts


def make_infer(predictor):
    from pytriton.decorators import batch

    @batch
    def infer(text: np.ndarray):
        texts = decode_texts(text)
        predictions = predictor.predict(texts)
        labels = np.array([[label.encode("utf-8")] for label, _ in predictions], dtype=np.object_)
        scores = np.array([[score] for _, score in predictions], dtype=np.float32)
        return {"label": labels.reshape(-1, 1), "score": scores.reshape(-1, 1)}

    return infer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=4, help="PyTriton's default is 4")
    parser.add_argument("--max-queue-delay-us", type=int, default=0, help="PyTriton's default is 0")
    parser.add_argument("--http-threads", type=int, default=None, help="tritonserver default when unset")
    parser.add_argument("--run-dir", default=os.environ.get("SB_RUN_DIR", "."))
    parser.add_argument("--no-metrics", action="store_true",
                        help="tritonserver --allow-metrics=false (the cost-of-observability experiment)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start Triton with the model, serve until SIGTERM/SIGINT or a dead server, stop cleanly.

    Exit code 0 only for a server that became ready and was stopped by a signal; 1 otherwise (a start
    that failed or was interrupted, a server that died); 2 when no workspace path fits PyTriton's Unix
    sockets.
    """
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_dir = pathlib.Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)  # tritonserver writes its log file there

    # PyTriton is imported before anything is made: an install that cannot import it then leaves no
    # workspace in /tmp and loads no predictor.
    import pytriton.model_config
    import pytriton.triton  # noqa: F401

    workspace, short_dir = choose_workspace(run_dir)
    if workspace is None:
        print(f"error: no folder short enough for PyTriton's ZeroMQ sockets (Unix sockets allow "
              f"{UNIX_SOCKET_PATH_MAX} characters): shorten the results folder or TMPDIR.",
              file=sys.stderr, flush=True)
        return 2
    if short_dir is not None:
        LOG.info("run folder too deep for Unix socket paths: PyTriton workspace in %s (removed at stop)",
                 workspace)
    predictor = load_predictor()  # load (and fail) before any port opens
    LOG.info("predictor loaded from %s with %d thread(s)", predictor.model_dir, predictor.threads)

    config = server_config(args, run_dir)
    batching = model_config(args)
    infer = make_infer(predictor)
    triton = create_triton(config, workspace)
    lifecycle = Lifecycle()
    lifecycle.install_signal_handlers()
    watch = (triton, lifecycle.ready, lifecycle.stopping, run_dir, workspace)
    threading.Thread(target=watch_startup, args=watch, daemon=True).start()
    try:
        start_model(triton, infer, batching, args, lifecycle.ready)
        lifecycle.serve_until_stop(triton)
    except KeyboardInterrupt:
        pass
    finally:
        lifecycle.stopping.set()
        stop_triton(triton, short_dir)
    LOG.info("Triton stopped")
    return lifecycle.exit_code()


def server_config(args: argparse.Namespace, run_dir: pathlib.Path):
    """tritonserver's listeners on the given address and ports, its log in the run folder, a 5 s exit."""
    from pytriton.triton import TritonConfig

    return TritonConfig(
        http_address=args.host,
        http_port=args.http_port,
        grpc_address=args.host,
        grpc_port=args.grpc_port,
        metrics_address=args.host,
        metrics_port=args.metrics_port,
        http_thread_count=args.http_threads,
        allow_metrics=False if args.no_metrics else None,
        log_file=run_dir / "tritonserver.log",
        exit_timeout_secs=5,
    )


def model_config(args: argparse.Namespace):
    """The model's dynamic batching, from the tunables (Triton's own batcher, not ours)."""
    from pytriton.model_config import DynamicBatcher, ModelConfig

    return ModelConfig(
        batching=True,
        max_batch_size=args.max_batch_size,
        batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
    )


def create_triton(config, workspace: pathlib.Path):
    """PyTriton's handle on tritonserver, set up to serve from a model store in our workspace."""
    from pytriton.triton import Triton, TritonLifecyclePolicy

    # A local model store: PyTriton writes the proxy model into the workspace and tritonserver loads it
    # at start (--load-model *). With the default policy PyTriton sends the model files through the
    # load API, and tritonserver unpacks them into a hard-coded /tmp/folderXXXXXX, outside the run dir
    # (and left behind if the server is killed).
    return Triton(
        config=config,
        workspace=workspace,
        triton_lifecycle_policy=TritonLifecyclePolicy(launch_triton_on_startup=True, local_model_store=True),
    )


def start_model(triton, infer, batching, args: argparse.Namespace, ready: threading.Event) -> None:
    """Bind the model, start tritonserver and return once the model is ready (then ``ready`` is set).

    A signal in here raises KeyboardInterrupt (see Lifecycle): the caller's finally stops Triton.
    """
    from pytriton.model_config import Tensor

    triton.bind(
        model_name=MODEL_NAME,
        infer_func=infer,  # one model instance: see the adapter's validate() for why
        inputs=[Tensor(name="text", dtype=bytes, shape=(1,))],
        outputs=[
            Tensor(name="label", dtype=bytes, shape=(1,)),
            Tensor(name="score", dtype=np.float32, shape=(1,)),
        ],
        config=batching,
        strict=True,
    )
    triton.run()  # starts tritonserver, loads the proxy model, waits until it is ready
    ready.set()
    LOG.info("model %s ready: http %d, grpc %d, metrics %d", MODEL_NAME, args.http_port, args.grpc_port,
             args.metrics_port)


class Lifecycle:
    """Where the start stands (ready, stopping, stopped by a signal), shared by main, the signal handler
    and the start-up watch, and the read end of the signal wakeup pipe."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.signalled = threading.Event()
        self.wake_r = -1

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT: KeyboardInterrupt while starting, the wakeup pipe once ready.

        CPython runs Python signal handlers only in the main thread, and only when it next executes
        bytecode; the kernel may deliver SIGTERM to any of PyTriton's threads, and a main thread asleep
        in a lock wait is then not woken (seen: a stop that waited for SIGKILL). So:
        - while starting, the handler raises KeyboardInterrupt (the main thread polls the server, so it
          runs it promptly) and main's finally cleans up;
        - once ready, the main thread waits on signal.set_wakeup_fd, which the C-level handler writes in
          whichever thread received the signal, and the Python handler does nothing.
        """
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.wake_r = wake_r
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, signum, _frame) -> None:
        """The Python-level handler: acts only while starting (see install_signal_handlers)."""
        if not self.ready.is_set() and not self.stopping.is_set():
            self.signalled.set()
            self.stopping.set()
            LOG.info("signal %d while starting: stopping Triton", signum)
            raise KeyboardInterrupt

    def serve_until_stop(self, triton) -> None:
        """Block while serving; return on a signal or when tritonserver or the proxy model dies.

        Those deaths are what triton.serve() watches, with a 10 s period; this checks every second.
        """
        while True:
            readable, _, _ = select.select([self.wake_r], [], [], 1.0)
            if readable:
                signum = os.read(self.wake_r, 64)[-1]
                self.signalled.set()
                LOG.info("signal %d: stopping Triton", signum)
                break
            if not triton.is_alive():
                LOG.error("tritonserver or the PyTriton proxy model died: stopping")
                break

    def exit_code(self) -> int:
        """0 for a server that became ready and was stopped by a signal, else 1."""
        return 0 if self.ready.is_set() and self.signalled.is_set() else 1


def stop_triton(triton, short_dir: pathlib.Path | None) -> None:
    """Stop tritonserver and PyTriton, wait for their cleanup, then free what they may leave behind."""
    triton.stop()
    # tritonserver may have exited on its own SIGTERM first: PyTriton then runs stop() in its exit
    # callback thread, and ours returns at once. Wait for that cleanup (non-daemon threads).
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=15)
    remove_backend_shm()
    if short_dir is not None:
        shutil.rmtree(short_dir, ignore_errors=True)


def socket_fits(workspace: pathlib.Path) -> bool:
    return len(str(workspace / f"{MODEL_NAME}_0_0-server.sock")) <= UNIX_SOCKET_PATH_MAX


def choose_workspace(run_dir: pathlib.Path) -> tuple[pathlib.Path | None, pathlib.Path | None]:
    """PyTriton's workspace (model store, ZeroMQ sockets) and, when it had to move, the folder to remove.

    It belongs in the run folder; but a deep run folder (a clone in a long path, the tuning layout)
    makes the socket paths longer than Unix allows (PyTriton resolves symlinks, so the launcher's short
    link does not help), and then it goes to a private folder in /tmp (mode 700), which the stop removes.
    """
    workspace = run_dir / "pytriton"
    if socket_fits(workspace):
        return workspace, None
    # /tmp itself: TMPDIR is the launcher's short link into the run folder, which PyTriton resolves
    system_tmp = "/tmp" if os.path.isdir("/tmp") else None
    short_dir = pathlib.Path(tempfile.mkdtemp(prefix="sb-triton-", dir=system_tmp))
    if socket_fits(short_dir / "ws"):
        return short_dir / "ws", short_dir
    shutil.rmtree(short_dir, ignore_errors=True)
    return None, None


def remove_backend_shm() -> None:
    """Unlink the Python backend's shared-memory regions left in /dev/shm once tritonserver is gone.

    tritonserver names them after PyTriton's prefix, "pytrtion<this pid>-<random>", so they are ours.
    It frees them when it unloads the model, but a stop in which the launcher signals tritonserver and
    the backend stub at the same moment once left a 4 MB region behind.
    """
    for region in pathlib.Path("/dev/shm").glob(f"pytrtion{os.getpid()}-*"):
        with contextlib.suppress(OSError):
            region.unlink()
            LOG.warning("removed leftover shared memory %s", region.name)


def process_ended(process) -> bool:
    """Whether tritonserver has exited, without reaping it.

    Not ``is_alive()``: sh's is_alive reaps an exited child and then runs the exit callbacks in the
    calling thread; PyTriton's callback calls Triton.stop(), which waits for the lock that the starting
    main thread holds, so this watch would hang there instead of exiting (seen in CI: a 90 s hang).
    """
    if getattr(process, "exit_code", None) is not None:  # reaped already, by sh's own thread
        return True
    try:
        stat = pathlib.Path(f"/proc/{process.pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")  # a zombie has exited


def watch_startup(triton, ready: threading.Event, stopping: threading.Event, run_dir: pathlib.Path,
                  workspace: pathlib.Path) -> None:
    """Fail fast when tritonserver dies during start (a port taken, a model that fails to load).

    PyTriton would otherwise wait up to 120 s for a server that is gone, holding the lock that
    Triton.stop() needs (so stop() from here would deadlock). This removes the workspace itself and
    exits; the launcher then stops what is left of the tree. Uses PyTriton's private handle on the
    tritonserver process; without it this watch does nothing.
    """
    while not ready.wait(0.5) and not stopping.is_set():
        server = getattr(triton, "_triton_server", None)
        command = getattr(server, "_tritonserver_running_cmd", None)
        if command is not None and process_ended(command.process):
            log = run_dir / "tritonserver.log"
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            errors = [line[:600] for line in lines if line.startswith("E")][-5:]
            print("tritonserver exited during start; errors in tritonserver.log:", *errors,
                  sep="\n  ", flush=True)
            shutil.rmtree(workspace, ignore_errors=True)
            remove_backend_shm()
            os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
