"""Arrival traces (SCENARIO=trace TRACE=file.csv): the file format, its validation, and the schedule.

Format (CSV, UTF-8)::

    # lines starting with '#' are comments, anywhere; blank lines are skipped
    offset_s,text_id          <- header row, required: offset_s alone, or with text_id or tokens
    0.000,17
    0.134,4

- ``offset_s``: seconds since the trace's start at which a request arrives (a decimal number, >= 0,
  non-decreasing down the file; equal offsets are simultaneous arrivals).
- ``text_id`` (optional): which text to send, an index into the request corpus (loadtests/corpus.py's
  sentences, 0 to N-1, N = 126 today). Without a second column the corpus's texts are sent in turn.
- ``tokens`` (optional, instead of text_id): the request's length in the model's tokens
  (MIN_TOKENS..MAX_TOKENS); a text of that length is built from the corpus (scenarios/sizing.py).

Bounds, after TRACE_SPEED divides the offsets: at most MAX_RATE_RPS arrivals in any one second (a
two-CPU machine's load generator keeps an open-loop schedule to a few hundred per second; beyond that the
replay would measure the generator), at most MAX_TRACE_S seconds (a run is bounded in time) and at most
MAX_ARRIVALS arrivals (and in count). Every refusal names the file's line.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLUMNS = ("offset_s", "text_id", "tokens")
HEADERS = ("offset_s", "offset_s,text_id", "offset_s,tokens")
MAX_RATE_RPS = 1000
MAX_TRACE_S = 1800.0
MAX_ARRIVALS = 200_000
MIN_TOKENS, MAX_TOKENS = 3, 512
"""A length column's bounds: [CLS] word [SEP], and the encoder's 512 positions (the served model
truncates at its own max_length, 128 by default)."""
MAX_SPEED = 1000.0


class TraceError(ValueError):
    """A trace the harness refuses, with the file and line that say why."""


@dataclass(frozen=True)
class Trace:
    path: Path
    sha256: str
    columns: str
    """The header: "offset_s", "offset_s,text_id" or "offset_s,tokens"."""
    offsets: np.ndarray
    """Seconds since the start, as in the file (not sped up)."""
    values: np.ndarray | None
    """The second column (text ids or token counts, int64), None without one."""
    lines: np.ndarray
    """The file's line number of each arrival (errors name it)."""

    @property
    def kind(self) -> str:
        return self.columns.partition(",")[2]

    def replayed(self, speed: float) -> np.ndarray:
        """Offsets at ``speed`` times the trace's pace (2: twice the rate, half the time)."""
        return self.offsets / speed


def _number(field: str, line: int, path: Path, what: str) -> float:
    try:
        value = float(field)
    except ValueError:
        raise TraceError(f"{path}:{line}: {what} {field.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise TraceError(f"{path}:{line}: {what} {field.strip()!r} is not a finite number")
    return value


def _header(fields: list[str], line: int, path: Path) -> str:
    header = ",".join(f.strip() for f in fields)
    if header not in HEADERS:
        raise TraceError(f"{path}:{line}: the header must be one of {' | '.join(HEADERS)}, got {header!r} "
                         f"(the first line that is not a comment or blank)")
    return header


def _value(field: str, line: int, path: Path, kind: str, corpus_size: int) -> int:
    number = _number(field, line, path, kind)
    if number != int(number):
        raise TraceError(f"{path}:{line}: {kind} {field.strip()!r} is not a whole number")
    value = int(number)
    if kind == "text_id" and not 0 <= value < corpus_size:
        raise TraceError(f"{path}:{line}: unknown text_id {value}: the corpus (loadtests/corpus.py) has "
                         f"texts 0 to {corpus_size - 1}")
    if kind == "tokens" and not MIN_TOKENS <= value <= MAX_TOKENS:
        raise TraceError(f"{path}:{line}: tokens {value} is outside {MIN_TOKENS}..{MAX_TOKENS}")
    return value


def _rows(text: str, path: Path, corpus_size: int) -> tuple[str, list[float], list[int], list[int]]:
    header, offsets, values, lines = "", [], [], []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = raw.split(",")
        if not header:
            header = _header(fields, line, path)
            continue
        width = header.count(",") + 1
        if len(fields) != width:
            raise TraceError(f"{path}:{line}: expected {width} field(s) ({header}), got {len(fields)}")
        offset = _number(fields[0], line, path, "offset_s")
        if offset < 0:
            raise TraceError(f"{path}:{line}: offset_s {offset:g} is negative (seconds since the start)")
        if offsets and offset < offsets[-1]:
            raise TraceError(f"{path}:{line}: offset_s {offset:g} is before the previous arrival's "
                             f"{offsets[-1]:g}: the trace must be sorted by time")
        offsets.append(offset)
        lines.append(line)
        if width == 2:
            values.append(_value(fields[1], line, path, header.split(",")[1], corpus_size))
    if not header:
        raise TraceError(f"{path}: the trace is empty (no header row {' | '.join(HEADERS)})")
    if not offsets:
        raise TraceError(f"{path}: the trace has a header but no arrivals")
    return header, offsets, values, lines


def read_trace(path: Path, corpus_size: int) -> Trace:
    """The trace in ``path``; TraceError naming the file and line of the first problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TraceError(f"trace file {path} does not exist") from None
    except OSError as exc:
        raise TraceError(f"trace file {path} cannot be read: {exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TraceError(f"trace file {path} is not UTF-8 text: {exc}") from None
    header, offsets, values, lines = _rows(text, path, corpus_size)
    return Trace(path, hashlib.sha256(data).hexdigest(), header, np.asarray(offsets, dtype=np.float64),
                 np.asarray(values, dtype=np.int64) if values else None, np.asarray(lines, dtype=np.int64))


def peak_rate(offsets: np.ndarray) -> tuple[int, int]:
    """Most arrivals in any one-second span [t, t + 1) and the index of its first arrival: a sliding
    window over the sorted offsets, so a burst across a whole-second boundary counts whole."""
    if offsets.size == 0:
        return 0, 0
    ends = np.searchsorted(offsets, offsets + 1.0, side="left")
    counts = ends - np.arange(offsets.size)
    i = int(np.argmax(counts))
    return int(counts[i]), i


def check_replay(trace: Trace, speed: float) -> None:
    """Refuse a replay beyond the bounds (see the module docstring), naming the line where it breaks."""
    if not 0 < speed <= MAX_SPEED:
        raise TraceError(f"TRACE_SPEED must be in (0, {MAX_SPEED:g}], got {speed:g}")
    offsets = trace.replayed(speed)
    if offsets.size > MAX_ARRIVALS:
        raise TraceError(f"{trace.path}: {offsets.size} arrivals, more than the {MAX_ARRIVALS} a run sends")
    if offsets[-1] > MAX_TRACE_S:
        line = trace.lines[int(np.argmax(offsets > MAX_TRACE_S))]
        raise TraceError(f"{trace.path}:{line}: the replay lasts {offsets[-1]:.0f} s at speed {speed:g}, "
                         f"over the {MAX_TRACE_S:.0f} s a run allows (this line is the first arrival past "
                         f"it); cut the trace or raise TRACE_SPEED")
    peak, first = peak_rate(offsets)
    if peak > MAX_RATE_RPS:
        raise TraceError(f"{trace.path}:{trace.lines[first]}: {peak} arrivals within one second from this "
                         f"line at speed {speed:g}, over the bound of {MAX_RATE_RPS} req/s: beyond it the "
                         f"replay would measure the load generator, not the server")


def schedule_table(offsets: np.ndarray, picks: np.ndarray | None) -> np.ndarray:
    """The open loop's schedule: offsets alone, or (offset, request index) rows (load/steps.open_step)."""
    if picks is None:
        return np.asarray(offsets, dtype=np.float64)
    return np.column_stack([np.asarray(offsets, dtype=np.float64), np.asarray(picks, dtype=np.float64)])
