"""Run folders under results/: written atomically, read back only when complete.

A run is assembled in ``results/.partial-<id>/`` and renamed to ``results/<id>/`` once run.json is
written, so a crash or a kill never leaves a folder that looks like a finished run. A run that failed
or was interrupted is still written (with its status and reason) so the report can list it.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from servingbench.envs import REPO

SCHEMA_VERSION = 1
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
        self.record: dict = {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "framework": framework,
            "preset": preset,
            "started_at": now.isoformat(timespec="seconds"),
            "git": git_info(),
            "machine": machine_info(),
        }

    @property
    def folder(self) -> Path:
        return self.partial

    def finish(self, status: str, reason: str | None = None) -> Path:
        assert status in STATUSES
        self.record.update(
            status=status,
            failure_reason=reason,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        steps = self.record.get("steps") or []
        if steps:
            write_steps_csv(self.partial / "steps.csv", steps)
        tmp = self.partial / "run.json.tmp"
        tmp.write_text(json.dumps(self.record, indent=2, default=_json_default))
        tmp.replace(self.partial / "run.json")
        self.partial.replace(self.final)
        return self.final


def write_steps_csv(path: Path, steps: list[dict]) -> None:
    flat = [{k: v for k, v in step.items() if not isinstance(v, dict | list)} for step in steps]
    keys = list(dict.fromkeys(k for row in flat for k in row))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(flat)


def load_run(folder: Path) -> dict | None:
    """run.json of a published run folder, or None for anything unfinished or unreadable."""
    if folder.name.startswith("."):
        return None
    try:
        record = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None
    if record.get("status") not in STATUSES:
        return None
    record["_folder"] = str(folder)
    return record


def list_runs(root: Path | None = None) -> list[dict]:
    root = root or results_root()
    if not root.is_dir():
        return []
    runs = [load_run(p) for p in sorted(root.iterdir()) if p.is_dir()]
    return [r for r in runs if r]


def git_info() -> dict:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def machine_info() -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model or platform.processor(),
        "logical_cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "timestamp": time.time(),
    }


def _json_default(obj: object) -> object:
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)}")
