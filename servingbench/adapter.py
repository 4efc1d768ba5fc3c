"""The adapter contract: everything the harness knows about one serving framework.

Each framework lives in ``frameworks/<name>/`` with an ``adapter.py`` that defines ``ADAPTER``, an
instance of a subclass of :class:`Adapter`. The harness only talks to frameworks through this
contract, so adding a framework means adding one folder and nothing else. Codecs of protocols that
several frameworks speak (plain JSON texts, Open Inference Protocol V2) are in servingbench/codecs/rest.py.

This module is stdlib-only: it is imported by the harness, by the Locust process and by tests.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

Prediction = tuple[str, float]
"""(label, score) where score is the probability of the predicted label."""


class ProtocolError(ValueError):
    """A server answered something the codec cannot turn into predictions."""


@dataclass(frozen=True)
class Tunables:
    """Common knobs, mapped by each adapter onto its framework's native ones.

    workers: server worker processes or replicas serving the model.
    threads_per_worker: intra-op threads of the model runtime in each worker (same CPU budget for all).
    max_batch_size: largest server-side batch; 1 means adaptive batching is off.
    max_batch_delay_ms: how long the server may wait to fill a batch.
    """

    workers: int = 1
    threads_per_worker: int = 1
    max_batch_size: int = 1
    max_batch_delay_ms: float = 0.0

    @property
    def batching(self) -> bool:
        return self.max_batch_size > 1

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    """A named configuration of a framework with the reason it was chosen."""

    tunables: Tunables
    note: str


@dataclass(frozen=True)
class LaunchSpec:
    """What the launcher gives an adapter to build its start command."""

    host: str
    ports: dict[str, int]
    """One free port per name in ``Adapter.port_names``; ``ports['http']`` serves inference."""
    cpus: tuple[int, ...]
    model_dir: Path
    """Folder holding ``model.onnx``, ``tokenizer.json`` and ``labels.json`` (see shared_model)."""
    run_dir: Path
    """Scratch and log folder for this server; frameworks must write nothing outside it."""
    tunables: Tunables
    tmp_dir: Path | None = None
    """A short path to ``run_dir/tmp`` (a symlink the launcher makes under the system temp folder and
    removes at stop). A Unix socket path may not exceed 107 bytes, which a deep run folder (a clone in a
    long path, the tuning layout) already spends; TMPDIR and socket folders should point here."""

    server_metrics: bool = True
    """False: start the framework with its own metrics switched off, where it can (Adapter.metrics_switch);
    only the cost-of-observability experiment (servingbench/observability.py) asks for it."""

    @property
    def temp(self) -> Path:
        """Where the server's temporary files and Unix sockets go (see ``tmp_dir``)."""
        return self.tmp_dir or self.run_dir / "tmp"


@dataclass
class ServerCommand:
    """How to start a server: argv run with the framework's interpreter, extra env, working dir."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class HttpRequest:
    """One inference request on the wire, as the framework's native protocol wants it."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class GrpcRequest:
    """One unary gRPC call on the wire: the full method name and the serialized request message.

    Pre-serialized like an HttpRequest's body, so the load generator sends bytes and does no protobuf
    work of its own (servingbench/codecs/grpc.py builds them from real protobuf messages)."""

    method: str
    """"/package.Service/Method", e.g. "/inference.GRPCInferenceService/ModelInfer"."""
    body: bytes


PROTOCOLS = ("rest", "grpc")
"""The wire protocols a run can speak (PROTOCOL=, --protocol): the framework's HTTP API, or its gRPC API."""


class GrpcCodec(Protocol):
    """Texts to one native gRPC request and its serialized answer back to predictions."""

    def encode(self, texts: list[str]) -> GrpcRequest: ...

    def decode(self, body: bytes) -> list[Prediction]:
        """Raise ProtocolError when the answer is not predictions."""
        ...

    def describe(self) -> str:
        """The service, method and messages in one line, for reports."""
        ...


@dataclass(frozen=True)
class GrpcService:
    """Where and how a framework serves its gRPC inference API."""

    port_name: str
    """The key in ``LaunchSpec.ports`` (and ``Adapter.port_names``) of the gRPC listener."""
    codec: GrpcCodec
    note: str = ""
    """What differs from the REST path (readiness, concurrency), shown with gRPC runs."""


class Codec(Protocol):
    """Texts to one native HTTP request and its response back to predictions (see servingbench.codecs)."""

    def encode(self, texts: list[str]) -> HttpRequest: ...

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        """Raise ProtocolError when the response is not predictions."""
        ...


@dataclass(frozen=True)
class MetricsSpec:
    """Where a framework publishes its own Prometheus metrics, and which cumulative samples mean what.

    Names are *sample* names as the text shows them (``foo_total``, ``bar_sum``), optionally with their own
    label selector (``foo_total{endpoint="/predict"}``, replacing ``labels``); an empty name means the
    framework does not report that part. measure/server_metrics.py takes the increase of each over a step.
    """

    port: str
    """A name in ``Adapter.port_names`` ("http" when the metrics share the inference port)."""
    path: str = "/metrics"
    requests: str = ""
    """Counts answered inference requests."""
    queue_time: str = ""
    compute_time: str = ""
    request_time: str = ""
    """Whole server-side request time, where the framework does not split queue and compute."""
    time_unit_s: float = 1.0
    """Seconds per unit of the three time samples (1e-6 for microsecond counters)."""
    batches: str = ""
    """Counts model executions (batches); achieved batch size = batched_items (or requests) / batches."""
    batched_items: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    """Only samples carrying these labels (e.g. the inference endpoint, not the health one)."""
    settle_s: float = 0.0
    """An exporter that publishes with a delay (Ray's agent): poll up to this long after a step until the
    request counter stops moving."""
    settle_poll_s: float = 1.0
    quiet_s: float = 0.0
    """Before a step, wait until the request counter has not moved for this long (an exporter publishing
    every N s would otherwise still owe requests sent just before the step, e.g. the warm-up's last)."""
    note: str = ""
    """What the figures mean for this framework (shown on the run page)."""


class Adapter(ABC):
    """Harness side of one serving framework."""

    name: str = ""
    """Folder name under frameworks/, used on the command line."""
    display_name: str = ""
    protocol: str = ""
    """Human description of the native protocol, shown in reports."""
    package: str | None = None
    """Distribution whose version identifies the framework (None for the baseline)."""
    port_names: tuple[str, ...] = ("http",)
    python: str | None = None
    """Interpreter used to create the framework environment (None: the harness's own python3.11)."""
    ready_timeout_s: float = 180.0
    stop_timeout_s: float = 20.0
    """How long the launcher waits after SIGTERM before SIGKILL."""
    notes: str = ""
    """Caveats the report prints beside this framework's numbers."""
    min_workers: int = 1
    """Fewest workers the framework can run (MLServer: 0, inference in its main process)."""
    grpc: ClassVar[GrpcService | None] = None
    """The framework's gRPC inference API, when it serves one (PROTOCOL=grpc); readiness stays on HTTP."""
    grpc_refusal: ClassVar[str] = ""
    """Why a framework without ``grpc`` has none here (printed when PROTOCOL=grpc is refused)."""

    @property
    def protocols(self) -> frozenset[str]:
        """The wire protocols a run of this framework can speak: always "rest", "grpc" where served."""
        return frozenset({"rest", "grpc"} if self.grpc is not None else {"rest"})
    metrics: ClassVar[MetricsSpec | None] = None
    """The framework's own Prometheus endpoint (None: it exposes none; ``metrics_absent`` says so)."""
    metrics_absent: ClassVar[str] = "exposes no metrics endpoint"
    metrics_switch: ClassVar[str] = ""
    """How ``LaunchSpec.server_metrics=False`` switches the framework's metrics off (empty: it cannot)."""

    # -- identity and files ---------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        import inspect

        return Path(inspect.getfile(type(self))).resolve().parent

    @property
    def requirements(self) -> Path:
        return self.folder / "requirements.txt"

    @property
    def server_dir(self) -> Path:
        return self.folder / "server"

    # -- configuration --------------------------------------------------------------------------
    @abstractmethod
    def presets(self) -> dict[str, Preset]:
        """At least ``default`` (the framework's own defaults) and ``tuned``."""

    def validate(self, tunables: Tunables) -> None:
        """Raise ValueError when the framework cannot honour these tunables.

        The base checks what holds for every framework; an override adds the framework's own checks
        and calls ``super().validate`` first.
        """
        t = tunables
        if t.workers < self.min_workers or t.threads_per_worker < 1 or t.max_batch_size < 1:
            raise ValueError(f"{self.name}: workers must be >= {self.min_workers}, threads and batch size "
                             f">= 1: {t}")
        if not (math.isfinite(t.max_batch_delay_ms) and t.max_batch_delay_ms >= 0):
            raise ValueError(f"{self.name}: max_batch_delay_ms must be a finite number >= 0: {t}")

    # -- lifecycle ------------------------------------------------------------------------------
    @abstractmethod
    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        """The start command; ``python`` is the framework environment's interpreter.

        The launcher adds the shared model and ``server_dir`` to PYTHONPATH, sets the CPU affinity,
        a new process group, and SB_THREADS (threads per worker) in the environment.
        """

    def prepare(self, spec: LaunchSpec, python: Path) -> None:  # noqa: B027 - optional hook
        """Write config files into ``spec.run_dir`` before start (optional)."""

    # -- the same server in its container image (frameworks/<name>/Dockerfile) ----------------------
    @abstractmethod
    def container_command(self, tunables: Tunables) -> list[str] | None:
        """The argv that makes the framework's image apply ``tunables``, replacing the Dockerfile's CMD
        (and appended to its ENTRYPOINT, if it has one); None when the image cannot apply them.

        Docker launch mode always runs this argv, so a run records only what the container applied.
        For the ``default`` preset it must do what the Dockerfile's CMD does (tests/test_docker_tunables.py).
        None makes docker mode refuse every tunable but the default preset's (threads excepted: they
        reach every container through SB_THREADS). Container paths and ports are the Dockerfile's.
        """

    def container_env(self, tunables: Tunables) -> dict[str, str]:
        """Environment variables the image reads tunables from, beside ``container_command``'s argv.

        For frameworks configured by environment (Seldon's GUNICORN_*, MLServer's MLSERVER_*); the
        default is none. Same rule as the argv: for the default preset, what the Dockerfile's ENV says.
        """
        return {}

    # -- readiness --------------------------------------------------------------------------------
    def readiness_request(self) -> HttpRequest:
        """A request that only succeeds once the model answers (default: a real prediction)."""
        return self.encode(["readiness probe: the model answers"])

    def check_ready(self, status: int, body: bytes, spec: LaunchSpec | None = None) -> bool:
        """True when the readiness request's answer proves the model is loaded.

        ``spec`` is the launch the harness made (ports, tunables), so an adapter can look further (e.g.
        every worker up) without keeping state of its own; None when the harness did not launch the
        server (a remote target, a container), where the answer itself must suffice.
        """
        if status != 200:
            return False
        try:
            return len(self.decode(status, body)) == 1
        except ProtocolError:
            return False

    # -- client codec ---------------------------------------------------------------------------
    codec: ClassVar[Codec | None] = None
    """The native protocol's codec when it is a shared one (servingbench.codecs); None when the adapter
    overrides ``encode`` and ``decode`` itself."""

    def encode(self, texts: list[str]) -> HttpRequest:
        """Texts to one native HTTP request (default: through ``codec``)."""
        return self._codec().encode(texts)

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        """A native HTTP response to predictions; raise ProtocolError when it is not one."""
        return self._codec().decode(status, body)

    def _codec(self) -> Codec:
        if self.codec is None:
            raise NotImplementedError(
                f"{self.name}: set `codec` to a codec of servingbench.codecs, or override encode and decode"
            )
        return self.codec
