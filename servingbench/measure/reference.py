"""The "no serving" row: the shared predictor called in-process on the server's CPU set.

This is the physical limit of the model on those CPUs: single-request latency with nothing around
it, and the throughput of sequential single requests and of batches of 32. Every framework's
overhead is measured against it. Run as a subprocess pinned to the server's CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from servingbench.envs import REPO
from servingbench.record.serial import Record
from servingbench.servers.spawn import spawn_pinned


@dataclass(frozen=True)
class Reference(Record):
    """The in-process figures every framework's overhead is measured against."""

    threads: int
    cpus: list[int]
    single_p50_ms: float
    single_p99_ms: float
    sequential_rps: float
    """Sequential single requests per second."""
    batch_size: int
    batched_sentences_per_s: float
    single_requests: int | None = None
    single_mean_ms: float | None = None


def measure(model_dir: Path, threads: int, seconds: float, batch: int = 32) -> dict:
    import numpy as np

    from loadtests.corpus import request_texts
    from servingbench.measure.stats import exact_percentiles
    from shared_model.predictor import Predictor

    predictor = Predictor(model_dir, threads=threads)
    texts = request_texts()
    for text in texts[:20]:  # warm-up, discarded
        predictor.predict([text])
    latencies = []
    deadline = time.perf_counter() + seconds / 2
    i = 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        predictor.predict([texts[i % len(texts)]])
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    lat = np.array(latencies)
    batched = 0
    started = time.perf_counter()
    deadline = started + seconds / 2
    j = 0
    while time.perf_counter() < deadline:
        chunk = [texts[(j + k) % len(texts)] for k in range(batch)]
        predictor.predict(chunk)
        batched += batch
        j += batch
    batch_wall = time.perf_counter() - started
    pct = exact_percentiles(lat)
    return {
        "threads": threads,
        "cpus": sorted(os.sched_getaffinity(0)),
        "single_requests": int(lat.size),
        "single_mean_ms": float(lat.mean()),
        "single_p50_ms": pct["p50"],
        "single_p99_ms": pct["p99"],
        "sequential_rps": float(lat.size / (lat.sum() / 1000)),
        "batch_size": batch,
        "batched_sentences_per_s": batched / batch_wall,
    }


def run_reference(model_dir: Path, threads: int, cpus: tuple[int, ...], seconds: float,
                  out: Path) -> Reference:
    """Run :func:`measure` in a subprocess pinned to ``cpus``; returns and writes its result."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    argv = [sys.executable, "-m", "servingbench.measure.reference", "--model-dir", str(model_dir),
            "--threads", str(threads), "--seconds", str(seconds), "--out", str(out)]
    proc = spawn_pinned(argv, cpus=cpus, env=env, cwd=REPO)
    if proc.wait() != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return Reference.from_dict(json.loads(out.read_text()))


@dataclass(frozen=True)
class BatchReference(Record):
    """The in-process predictor doing one job of ``texts`` texts in calls of ``batch`` texts each: the
    "no serving" row of the offline batch scenario, at every request size it sends."""

    batch: int
    texts: int
    wall_s: float
    texts_per_s: float
    cpu_ms_per_text: float
    """The process's CPU time (all threads) per text over the job."""


def job_texts(texts: list[str], count: int) -> list[str]:
    """The first ``count`` texts of the corpus cycled: the same job for the reference and the server."""
    return [texts[i % len(texts)] for i in range(count)]


def measure_batches(model_dir: Path, threads: int, sizes: list[int], count: int) -> list[dict]:
    """One job of ``count`` texts per size, in calls of that many texts (after a short warm-up)."""
    from loadtests.corpus import request_texts
    from shared_model.predictor import Predictor

    predictor = Predictor(model_dir, threads=threads)
    texts = job_texts(request_texts(), count)
    for size in sorted(set(sizes)):  # warm-up, discarded: every shape once
        predictor.predict(texts[:size])
    rows = []
    for size in sizes:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(0, count, size):
            predictor.predict(texts[i:i + size])
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rows.append({"batch": size, "texts": count, "wall_s": round(wall, 4),
                     "texts_per_s": round(count / wall, 2), "cpu_ms_per_text": round(cpu * 1000 / count, 4)})
    return rows


def run_batch_reference(model_dir: Path, threads: int, cpus: tuple[int, ...], sizes: list[int], count: int,
                        out: Path) -> list[BatchReference]:
    """:func:`measure_batches` in a subprocess pinned to ``cpus`` (the server's); written to ``out``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    argv = [sys.executable, "-m", "servingbench.measure.reference", "--model-dir", str(model_dir),
            "--threads", str(threads), "--out", str(out), "--batch-sizes", ",".join(map(str, sizes)),
            "--job-texts", str(count)]
    proc = spawn_pinned(argv, cpus=cpus, env=env, cwd=REPO)
    if proc.wait() != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return [BatchReference.from_dict(row) for row in json.loads(out.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-sizes", default="", help="comma-separated: the batch job instead")
    parser.add_argument("--job-texts", type=int, default=0)
    args = parser.parse_args()
    if args.batch_sizes:
        sizes = [int(x) for x in args.batch_sizes.split(",")]
        result: object = measure_batches(args.model_dir, args.threads, sizes, args.job_texts)
    else:
        result = measure(args.model_dir, args.threads, args.seconds)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
