"""Why our open-loop p99 and MLPerf LoadGen's differ at the same rate: a short paired experiment.

Issue 10 saw LoadGen call 148 req/s VALID (p99 71 ms) against the baseline server while our SLO search
measured p99 73 ms at 132.8 req/s. This script measures both tools against ONE real baseline server at
the same offered rates, in alternating order (the machine's speed drifts: never all of one tool first),
and splits each tool's latency into its parts:

- ours (the harness's own open_step, exactly as a search probe runs): latency from the intended send
  time; the send lag (intended -> the greenlet sends) and latency from the actual send;
- LoadGen (servingbench/crosscheck): latency from LoadGen's scheduled time; the client's part from
  LoadGen's issue call (so scheduled -> issue is LoadGen's own delay) and the wait for a client thread;
- both: the distinct client connections the server saw (its sockets sampled every 50 ms), i.e. whether
  connections were reused.

Variants isolate single factors: the probe length (12 s against 45 s), a LoadGen client that opens a
connection per request (no reuse) and one with 256 threads (as many connections as Locust may open).
Rates are fractions of the server's closed-loop throughput measured first, so the experiment adapts to a
busy machine. Usage (about 6 minutes of load):

    PY=$(python3 -m servingbench.envs harness servingbench/requirements.txt --project .)
    $PY scripts/crosscheck_experiment.py --out /tmp/xc-experiment
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from loadtests.corpus import request_texts
from servingbench.adapter import Tunables
from servingbench.cpusets import format_cpus, split_cpus
from servingbench.crosscheck.loadgen import LoadgenSettings, run_loadgen
from servingbench.envs.model_cache import ensure_model
from servingbench.frameworks import load_adapter
from servingbench.load.locust import run_locust, write_requests
from servingbench.load.steps import StepContext, open_step
from servingbench.measure import stats
from servingbench.servers.local import launched

SLO_MS = 100.0


@dataclass(frozen=True)
class Arm:
    tool: str  # "locust" or "loadgen"
    seconds: float
    threads: int = 16
    keep_alive: bool = True

    @property
    def label(self) -> str:
        extra = (f" {self.threads} threads" if self.threads != 16 else "") + ("" if self.keep_alive
                                                                              else " no keep-alive")
        return f"{self.tool} {self.seconds:g}s{extra}"


class ConnectionWatch:
    """Distinct client ports of the server's TCP connections, sampled every ``period_s`` seconds."""

    def __init__(self, pid: int, server_port: int, period_s: float = 0.05) -> None:
        self.proc, self.port, self.period = psutil.Process(pid), server_port, period_s
        self.ports: set[int] = set()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conns = [c for c in self.proc.net_connections("tcp")
                         if c.laddr and c.laddr.port == self.port and c.raddr]
            except psutil.Error:
                conns = []
            self.ports.update(c.raddr.port for c in conns)
            self.peak = max(self.peak, len(conns))
            time.sleep(self.period)


def pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values.size else None


def locust_arm(ctx: StepContext, rate: float, arm: Arm, seed: int, name: str) -> dict:
    step = open_step(ctx, rate, 3.0, arm.seconds, seed, name=name)
    samples = np.load(ctx.load_dir / f"{name}.samples.npy")
    window = stats.sent_in_window(samples, step.window_start, step.window_end)
    ok = window[(window[:, 2] >= 200) & (window[:, 2] < 300)]
    from_send = ok[:, 1] - np.nan_to_num(ok[:, 3])
    return {"p50_ms": round(step.latency.p50_ms, 2), "p99_ms": round(step.latency.p99_ms, 2),
            "p99_ci_ms": step.percentile_ci_ms.get("p99"), "requests": step.latency.requests,
            "errors": step.latency.errors, "meets_slo": step.meets_slo,
            "send_lag_p50_ms": pct(ok[:, 3], 50), "send_lag_p99_ms": pct(ok[:, 3], 99),
            "from_send_p99_ms": pct(from_send, 99), "goodput_rps": round(step.latency.throughput_rps, 1),
            "generator_cpu": round(step.resources.generator_cpu_util, 3)}


def loadgen_arm(requests_file: Path, url: str, rate: float, arm: Arm, seed: int, cpus, out: Path) -> dict:
    settings = LoadgenSettings(rate, SLO_MS, min_duration_s=arm.seconds, threads=arm.threads,
                               keep_alive=arm.keep_alive, seed=seed)
    outcome = run_loadgen(requests_file, url, settings, cpus=cpus, out_dir=out)
    s, sut = outcome.summary, outcome.sut
    return {"p50_ms": s.latency_ns["p50"] / 1e6, "p99_ms": s.p99_ms, "requests": s.query_count,
            "errors": sum(sut["failures"].values()), "result": s.result,
            "early_stopping": s.early_stopping.strip().splitlines()[0] if s.early_stopping else "",
            "client_p99_ms": sut["client_p99_ms"], "queue_wait_p99_ms": sut["queue_wait_p99_ms"],
            "completed_qps": s.completed_qps}


def capacity(requests_file: Path, url: str, cpus, out: Path) -> float:
    """Closed-loop throughput at 4 users (also the server's warm-up)."""
    run = run_locust(requests_file, url, users=4, run_time_s=8, max_requests=100_000, cpus=cpus,
                     out_dir=out, name="capacity")
    start = run.test_start + 2
    return stats.summarize(stats.in_window(run.samples, start, start + 6), 6).throughput_rps


def plan(cap: float, fractions: list[float], rounds: int) -> list[tuple[float, Arm]]:
    """Short probes of both tools at each rate, alternating; then one rate's length and client variants."""
    rates = [round(cap * f, 1) for f in fractions]
    runs: list[tuple[float, Arm]] = []
    for r in range(rounds):
        pair = [Arm("locust", 12), Arm("loadgen", 12)]
        for rate in rates:
            runs += [(rate, a) for a in (pair if r % 2 == 0 else pair[::-1])]
    middle = rates[len(rates) // 2]
    runs += [(middle, Arm("loadgen", 45)), (middle, Arm("locust", 45))]
    runs += [(middle, Arm("loadgen", 12, keep_alive=False)), (middle, Arm("loadgen", 12, threads=256))]
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fractions", default="0.8,0.92", help="rates as fractions of capacity")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    server_cpus, loadgen_cpus = split_cpus()
    os.sched_setaffinity(0, loadgen_cpus)
    adapter = load_adapter("baseline")
    requests_file = write_requests(adapter, request_texts(), args.out / "requests.json")
    rows: list[dict] = []
    with launched(adapter, Tunables(), run_dir=args.out / "server", model_dir=ensure_model(),
                  cpus=server_cpus) as server:
        ctx = StepContext(server, None, requests_file, args.out / "load", loadgen_cpus, SLO_MS)
        cap = capacity(requests_file, server.base_url, loadgen_cpus, args.out / "load")
        print(f"server CPUs {format_cpus(server_cpus)}, load CPUs {format_cpus(loadgen_cpus)}; "
              f"closed-loop capacity {cap:.1f} req/s", flush=True)
        for i, (rate, arm) in enumerate(plan(cap, [float(f) for f in args.fractions.split(",")],
                                             args.rounds)):
            started = time.time()
            cpu0 = sum(psutil.Process(server.pid).cpu_times()[:2])
            with ConnectionWatch(server.pid, server.port) as watch:
                if arm.tool == "locust":
                    row = locust_arm(ctx, rate, arm, 1000 + i, f"x{i}")
                else:
                    row = loadgen_arm(requests_file, server.base_url, rate, arm, 1000 + i, loadgen_cpus,
                                      args.out / f"loadgen{i}")
            cpu_s = sum(psutil.Process(server.pid).cpu_times()[:2]) - cpu0
            row.update(server_cpu_ms_per_request=round(cpu_s * 1000 / max(1, row["requests"] or 1), 2),
                       rate_rps=rate, arm=arm.label, connections_seen=len(watch.ports),
                       peak_connections=watch.peak, wall_s=round(time.time() - started, 1),
                       load_average=os.getloadavg()[0])
            rows.append(row)
            print(json.dumps(row), flush=True)
    (args.out / "experiment.json").write_text(json.dumps({"capacity_rps": cap, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
