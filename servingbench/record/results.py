"""Run folders under results/: written atomically, read back only when complete.

A run is assembled in ``results/.partial-<id>/`` and renamed to ``results/<id>/`` once run.json is
written, so a crash or a kill never leaves a folder that looks like a finished run. A run that failed
or was interrupted is still written (with its status and reason) so the report can list it. run.json is
a :class:`servingbench.record.run_record.RunRecord`, written and read by that class (run_record.py says
which schema versions are read).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import platform
import subprocess
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import psutil

from servingbench.envs import REPO
from servingbench.record.run_record import (
    SCHEMA_VERSION,
    GitInfo,
    Machine,
    RunRecord,
    SchemaError,
    Step,
    read_run,
)

__all__ = ["SCHEMA_VERSION", "STATUSES", "RunSkipped", "RunWriter", "list_runs", "load_run", "results_root"]
STATUSES = ("complete", "failed", "interrupted")


def results_root() -> Path:
    return Path(os.environ.get("SERVINGBENCH_RESULTS") or REPO / "results")


class RunWriter:
    """Collects one run's files; :meth:`finish` writes run.json and publishes the folder."""

    def __init__(self, root: Path, framework: str, preset: str) -> None:
        now = datetime.now(UTC)
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        base = f"{now:%Y%m%dT%H%M%SZ}-{framework}-{preset}"
        for n in itertools.count(1):  # a run that fails at once lets the next start in the same second
            self.run_id = base if n == 1 else f"{base}-{n}"
            self.partial = root / f".partial-{self.run_id}"
            self.final = root / self.run_id
            if self.final.exists():
                continue
            try:
                self.partial.mkdir(exist_ok=False)
            except FileExistsError:
                continue
            break
        self.record = RunRecord(run_id=self.run_id, framework=framework, preset=preset,
                                started_at=now.isoformat(timespec="seconds"), git=git_info(),
                                machine=machine_info())

    @property
    def folder(self) -> Path:
        return self.partial

    def finish(self, status: str, reason: str | None = None) -> Path:
        assert status in STATUSES
        self.record.status = status
        self.record.failure_reason = reason
        self.record.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        if self.record.steps:
            write_steps_csv(self.partial / "steps.csv", self.record.steps)
        tmp = self.partial / "run.json.tmp"
        tmp.write_text(json.dumps(self.record.to_dict(), indent=2))
        tmp.replace(self.partial / "run.json")
        self.partial.replace(self.final)
        self.record.folder = self.final
        return self.final


LEADING_COLUMNS = ("mode", "name", "users", "rate_rps", "purpose")
"""steps.csv starts with what identifies a step; the measured figures follow in run.json's order."""


def write_steps_csv(path: Path, steps: list[Step]) -> None:
    """One row per step, the scalar fields of its run.json mapping (lists and mappings stay in run.json)."""
    flat = [{k: v for k, v in step.to_dict().items() if not isinstance(v, dict | list)} for step in steps]
    found = list(dict.fromkeys(k for row in flat for k in row))
    keys = [k for k in LEADING_COLUMNS if k in found] + [k for k in found if k not in LEADING_COLUMNS]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(flat)


def load_run(folder: Path) -> RunRecord | None:
    """The run of a published run folder, or None for anything unfinished or not a run.

    A run.json this harness cannot read (another schema version, a field that does not fit) raises
    SchemaError with the folder and what to do: it is a run, and silently skipping it would hide it.
    """
    if folder.name.startswith("."):
        return None
    try:
        data = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        return None
    return read_run(data, folder)


class RunSkipped(UserWarning):
    """A run folder list_runs could not read (the message says why and what to do)."""


def list_runs(root: Path | None = None) -> list[RunRecord]:
    """Every published run under ``root``, oldest folder name first.

    A run that cannot be read is left out with a warning naming it, so that one foreign folder does not
    stop a report of all the others.
    """
    root = root or results_root()
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            run = load_run(path)
        except SchemaError as exc:
            warnings.warn(f"skipped: {exc}", RunSkipped, stacklevel=2)
            continue
        if run is not None:
            runs.append(run)
    return runs


def git_info() -> GitInfo:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip()

    return GitInfo(commit=git("rev-parse", "HEAD") or None, dirty=bool(git("status", "--porcelain")))


def machine_info() -> Machine:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Machine(
        hostname=platform.node(),
        cpu_model=cpu_model or platform.processor(),
        logical_cpus=psutil.cpu_count(),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        kernel=platform.release(),
        os=platform.platform(),
        python=platform.python_version(),
        load_average_at_start=[round(x, 2) for x in os.getloadavg()],
        timestamp=time.time(),
    )
