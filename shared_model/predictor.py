"""The one predictor every adapter and the in-process reference use: texts -> [(label, probability)].

Imports only onnxruntime, tokenizers and numpy, so it installs into every framework's environment from
shared_model/requirements.txt. Threads are set explicitly (never library defaults) so that all frameworks run
the model with the same CPU budget per worker.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

# Before onnxruntime is imported: ORT 1.30-1.32 otherwise sends a DNS query for a Microsoft telemetry host
# about 9 s after import. The servers get it from their environment already (servers/environment.py); this
# covers every other process that predicts: the harness's parity reference and the in-process reference row.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort
from tokenizers import Tokenizer

DEFAULT_MAX_LENGTH = 128
MAX_BATCH = 128  # bigger inputs are run in chunks of this size, to bound memory
REQUIRED_FILES = ("model.onnx", "tokenizer.json", "labels.json")


class ModelNotFoundError(FileNotFoundError):
    """The model folder is unset or incomplete; the message says to run `make model`."""


def _resolve_model_dir(model_dir: str | Path | None) -> Path:
    if model_dir is None:
        env = os.environ.get("SB_MODEL_DIR")
        if not env:
            raise ModelNotFoundError(
                "no model folder: pass model_dir or set SB_MODEL_DIR "
                "(run `make model` or `python -m servingbench.envs.model_cache` to build it and "
                "print its path)"
            )
        model_dir = env
    folder = Path(model_dir)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"model folder {folder} lacks {', '.join(missing)} "
            "(run `make model` or `python -m servingbench.envs.model_cache` to build it)"
        )
    return folder


def _resolve_threads(threads: int | None) -> int:
    if threads is None:
        raw = os.environ.get("SB_THREADS", "1")
        try:
            threads = int(raw)
        except ValueError:
            raise ValueError(f"SB_THREADS must be a positive integer, got {raw!r}") from None
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return threads


class Predictor:
    """An ONNX Runtime session plus its tokenizer; ``predict`` is deterministic for a given input."""

    def __init__(self, model_dir: str | Path | None = None, threads: int | None = None) -> None:
        self.model_dir = _resolve_model_dir(model_dir)
        self.threads = _resolve_threads(threads)
        manifest_path = self.model_dir / "manifest.json"
        self.manifest: dict = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        self.labels: list[str] = list(json.loads((self.model_dir / "labels.json").read_text()))
        self.max_length = int(self.manifest.get("max_length", DEFAULT_MAX_LENGTH))

        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        # tokenizer.json ships padding to a fixed 128: pad only to the longest text of each batch instead.
        pad = self.tokenizer.padding or {}
        pad_token = pad.get("pad_token", "[PAD]")
        pad_id = pad.get("pad_id", self.tokenizer.token_to_id(pad_token) or 0)
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, length=None)
        self.tokenizer.enable_truncation(max_length=self.max_length)

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(self.model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]

    @staticmethod
    def _check(texts: object) -> list[str]:
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"texts must be a list or tuple of str, got {type(texts).__name__}")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be str, got {type(text).__name__}")
        return list(texts)

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return self.session.run(None, {name: feeds[name] for name in self.input_names})[0]

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Probabilities [len(texts), len(labels)] (float32), columns in ``labels`` order."""
        texts = self._check(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        chunks = [self._run(texts[i:i + MAX_BATCH]) for i in range(0, len(texts), MAX_BATCH)]
        return np.concatenate(chunks, axis=0)

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability of that label) per text, in input order."""
        probs = self.probabilities(texts)
        best = probs.argmax(axis=1)
        return [(self.labels[k], float(probs[i, k])) for i, k in enumerate(best)]


_CACHED: dict[tuple[str | None, str | None], Predictor] = {}


MODEL_EVENTS = "model_load.events"
"""Under $SB_RUN_DIR: one line per model load, ``pid process_start load_start load_end`` (wall-clock
seconds), so that a cold start splits into framework start-up, model load and the rest for every framework
alike, whatever (or wherever) the framework itself logs."""


def load_predictor() -> Predictor:
    """The process-wide predictor from SB_MODEL_DIR and SB_THREADS (one per distinct setting)."""
    key = (os.environ.get("SB_MODEL_DIR"), os.environ.get("SB_THREADS"))
    if key not in _CACHED:
        began = time.time()
        _CACHED[key] = Predictor()
        _log_load(began, time.time())
    return _CACHED[key]


def _log_load(began: float, ended: float) -> None:
    """Append this load to $SB_RUN_DIR/model_load.events (nothing when the launcher set no run folder)."""
    run_dir = os.environ.get("SB_RUN_DIR")
    if not run_dir:
        return
    line = f"{os.getpid()} {_process_started():.3f} {began:.6f} {ended:.6f}\n"
    try:
        with open(Path(run_dir) / MODEL_EVENTS, "a", encoding="ascii") as fh:
            fh.write(line)
    except OSError:
        pass  # a timing aid only: never fail a model load over it


def _process_started() -> float:
    """This process's start (wall clock, ~10 ms resolution) from /proc; NaN where /proc is absent."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
