"""One MLPerf LoadGen Server-scenario run against a server, in its own bounded process.

Why LoadGen: it is MLCommons' reference load generator, written independently of this harness (C++,
Poisson schedule, latency from each query's scheduled time, the early-stopping rule), so a rate it calls
VALID under the same p99 bound is an outside check of our SLO headline. Why a child process: LoadGen waits
for every query it issued, in C++ threads that Ctrl-C does not stop; a child pinned to the load
generator's CPUs can be bounded in time and killed by process group, as every Locust run is.

The child (``python -m servingbench.crosscheck.loadgen ...``) writes LoadGen's logs
(mlperf_log_summary.txt, mlperf_log_detail.txt) and sut.json (the client's own counters) into its folder;
:func:`run_loadgen` starts it and reads them back.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from servingbench.crosscheck.summary import LoadgenSummary, parse_summary, with_detail
from servingbench.envs import REPO
from servingbench.servers.spawn import spawn_pinned

SUMMARY_FILE = "mlperf_log_summary.txt"
DETAIL_FILE = "mlperf_log_detail.txt"
SUT_FILE = "sut.json"
DEFAULT_THREADS = 16
"""Client threads: more than the in-flight requests a one-CPU server can hold at its SLO rate (its queue,
not the client's, is what is measured); each keeps one connection."""


@dataclass(frozen=True)
class LoadgenSettings:
    """What one LoadGen run is asked for: Server scenario, PerformanceOnly."""

    target_qps: float
    target_latency_ms: float
    """The p99 bound (the run's SLO), given to LoadGen in ns."""
    min_duration_s: float = 45.0
    min_query_count: int = 100
    """Small, so the duration decides the length (LoadGen's own default; MLPerf submissions use 270336)."""
    latency_percentile: float = 0.99
    threads: int = DEFAULT_THREADS
    give_up_s: float = 10.0
    keep_alive: bool = True
    """False only in experiments: a new connection per request."""
    seed: int = 0
    """LoadGen's schedule and sample-index seeds (0: LoadGen's default)."""

    def argv(self) -> list[str]:
        return ["--qps", f"{self.target_qps:.6f}", "--latency-ms", f"{self.target_latency_ms:g}",
                "--min-duration-s", f"{self.min_duration_s:g}", "--min-queries", str(self.min_query_count),
                "--percentile", f"{self.latency_percentile:g}", "--threads", str(self.threads),
                "--give-up-s", f"{self.give_up_s:g}", "--seed", str(self.seed),
                *([] if self.keep_alive else ["--no-keep-alive"])]


@dataclass(frozen=True)
class LoadgenOutcome:
    """LoadGen's summary and the client's counters of one run."""

    summary: LoadgenSummary
    sut: dict
    folder: Path
    wall_s: float


class LoadgenError(RuntimeError):
    pass


def run_loadgen(requests_file: Path, base_url: str, settings: LoadgenSettings, *, cpus: tuple[int, ...],
                out_dir: Path) -> LoadgenOutcome:
    """Run LoadGen in a child on ``cpus``; bounded by the duration, the give-up time and a margin."""
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "servingbench.crosscheck.loadgen", "--requests", str(requests_file),
            "--url", base_url, "--out", str(out_dir), *settings.argv()]
    limit = settings.min_duration_s * 1.5 + settings.give_up_s + 60
    started = time.time()
    with open(out_dir / "loadgen.log", "wb") as log:
        proc = spawn_pinned(argv, cpus=cpus, env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=REPO, log=log)
        try:
            code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    wall = time.time() - started
    summary_path = out_dir / SUMMARY_FILE
    if code != 0 or not summary_path.exists():
        why = f"did not finish within {limit:.0f} s" if code is None else f"exited with code {code}"
        tail = (out_dir / "loadgen.log").read_text(errors="replace").splitlines()[-15:]
        raise LoadgenError(f"LoadGen {why}; last lines of {out_dir / 'loadgen.log'}:\n  " + "\n  ".join(tail))
    sut = json.loads((out_dir / SUT_FILE).read_text())
    return LoadgenOutcome(read_summary(out_dir), sut, out_dir, wall)


def read_summary(folder: Path) -> LoadgenSummary:
    """LoadGen's summary of the run in ``folder``, with the counts of its detail log where it has one."""
    summary = parse_summary((folder / SUMMARY_FILE).read_text())
    detail = folder / DETAIL_FILE
    return with_detail(summary, detail.read_text(errors="replace")) if detail.exists() else summary


# --- the child --------------------------------------------------------------------------------------
def _test_settings(lg, args: argparse.Namespace):
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.Server
    settings.mode = lg.TestMode.PerformanceOnly
    settings.server_target_qps = args.qps
    settings.server_target_latency_ns = int(args.latency_ms * 1e6)
    settings.server_target_latency_percentile = args.percentile
    settings.min_duration_ms = int(args.min_duration_s * 1000)
    settings.min_query_count = args.min_queries
    settings.schedule_rng_seed = args.seed
    settings.sample_index_rng_seed = args.seed
    return settings


def child(args: argparse.Namespace) -> int:
    import mlperf_loadgen as lg

    from servingbench.crosscheck.sut import HttpSut
    from servingbench.load.locust import read_requests

    requests = read_requests(args.requests)
    url = urlsplit(args.url)
    sut = HttpSut(url.hostname or "127.0.0.1", url.port or 80, requests, threads=args.threads,
                  give_up_s=args.give_up_s, keep_alive=args.keep_alive,
                  complete=lambda qid: lg.QuerySamplesComplete([lg.QuerySampleResponse(qid, 0, 0)]))
    log = lg.LogSettings()
    log.log_output.outdir = str(args.out)
    log.log_output.copy_summary_to_stdout = True
    log.enable_trace = False  # megabytes per run of per-query trace events that nothing reads
    lg_sut = lg.ConstructSUT(sut.issue_queries, sut.flush_queries)
    qsl = lg.ConstructQSL(len(requests), len(requests), lambda _s: None, lambda _s: None)
    try:
        lg.StartTestWithLogSettings(lg_sut, qsl, _test_settings(lg, args), log)
    finally:
        sut.close()
        lg.DestroyQSL(qsl)
        lg.DestroySUT(lg_sut)
    (Path(args.out) / SUT_FILE).write_text(json.dumps(sut.counters.as_dict(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One LoadGen Server-scenario run (child of the crosscheck).")
    parser.add_argument("--requests", type=Path, required=True, help="pre-encoded requests (JSON)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--qps", type=float, required=True)
    parser.add_argument("--latency-ms", type=float, required=True)
    parser.add_argument("--min-duration-s", type=float, default=45.0)
    parser.add_argument("--min-queries", type=int, default=100)
    parser.add_argument("--percentile", type=float, default=0.99)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--give-up-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-keep-alive", dest="keep_alive", action="store_false")
    return child(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
