"""The adapter contract: everything the harness knows about one serving framework.

Each framework lives in ``frameworks/<name>/`` with an ``adapter.py`` that defines ``ADAPTER``, an
instance of a subclass of :class:`Adapter`. The harness only talks to frameworks through this
contract, so adding a framework means adding one folder and nothing else.

This module is stdlib-only: it is imported by the harness, by the Locust process and by tests.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
        """Raise ValueError when the framework cannot honour these tunables."""
        if tunables.workers < 1 or tunables.threads_per_worker < 1 or tunables.max_batch_size < 1:
            raise ValueError(f"{self.name}: workers, threads and batch size must be >= 1: {tunables}")

    # -- lifecycle ------------------------------------------------------------------------------
    @abstractmethod
    def command(self, spec: LaunchSpec, python: Path) -> ServerCommand:
        """The start command; ``python`` is the framework environment's interpreter.

        The launcher adds the shared model and ``server_dir`` to PYTHONPATH, sets the CPU affinity,
        a new process group, and SB_THREADS (threads per worker) in the environment.
        """

    def prepare(self, spec: LaunchSpec, python: Path) -> None:  # noqa: B027 - optional hook
        """Write config files into ``spec.run_dir`` before start (optional)."""

    def readiness_request(self) -> HttpRequest:
        """A request that only succeeds once the model answers (default: a real prediction)."""
        return self.encode(["readiness probe: the model answers"])

    def check_ready(self, status: int, body: bytes, spec: LaunchSpec | None = None) -> bool:
        """True when the readiness request's answer proves the model is loaded.

        ``spec`` is the launch of the server being checked (None for a remote target the harness did not
        launch): an adapter reads what it needs from it instead of keeping state on its singleton.
        """
        if status != 200:
            return False
        try:
            return len(self.decode(status, body)) == 1
        except ProtocolError:
            return False

    # -- client codec ---------------------------------------------------------------------------
    @abstractmethod
    def encode(self, texts: list[str]) -> HttpRequest:
        """Texts to one native HTTP request."""

    @abstractmethod
    def decode(self, status: int, body: bytes) -> list[Prediction]:
        """A native HTTP response to predictions; raise ProtocolError when it is not one."""

    # -- helpers for codecs ---------------------------------------------------------------------
    @staticmethod
    def json_body(obj: object) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    @staticmethod
    def parse_json(status: int, body: bytes) -> object:
        if status != 200:
            raise ProtocolError(f"HTTP {status}: {body[:300]!r}")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ProtocolError(f"not JSON: {body[:300]!r}") from exc

    @staticmethod
    def pairs(items: object) -> list[Prediction]:
        """[{"label":..,"score":..}, ...] to [(label, score), ...] with a clear error otherwise."""
        try:
            return [(str(i["label"]), float(i["score"])) for i in items]  # type: ignore[union-attr]
        except (TypeError, KeyError, ValueError) as exc:
            raise ProtocolError(f"unexpected predictions: {str(items)[:300]}") from exc


class TextsJsonCodec:
    """Codec of the plain JSON protocol: POST /predict {"texts": [...]} -> {"predictions": [...]}.

    The baseline speaks it, and so does Ray Serve's glue (shared_model/texts_protocol.py checks it on the
    server side); mix it into such an adapter before Adapter.
    """

    predict_path = "/predict"

    def encode(self, texts: list[str]) -> HttpRequest:
        return HttpRequest("POST", self.predict_path, Adapter.json_body({"texts": texts}))

    def decode(self, status: int, body: bytes) -> list[Prediction]:
        payload = Adapter.parse_json(status, body)
        if not isinstance(payload, dict) or "predictions" not in payload:
            raise ProtocolError(f"no predictions in {str(payload)[:200]}")
        return Adapter.pairs(payload["predictions"])
