"""SCENARIO=batch, MLPerf Offline's analogue: how fast does a fixed job of texts go through the server?

One job of N texts (the corpus cycled) is sent as requests of 1, 8, 32 and 128 texts each, with the
configuration's own batching (whatever the preset or overrides set: recorded), closed loop with enough
users to keep the server busy (``users_for``), bounded to exactly the job's requests. Texts/s is the
texts in successful answers over the job's wall time (first send to the last of its requests completed,
from the raw samples); CPU-ms/text is the server tree's CPU over that time per text. The in-process
predictor does the same job in calls of the same sizes on the server's CPUs (measure/reference.py): the
row no serving stack can beat.

Before each size one request of that size goes through the adapter's REST codec (the job itself goes over
the run's protocol) and must give the in-process predictions: a framework whose protocol refuses it (a max
batch size, a payload limit) is recorded with its answer ("limit: refuses 128-text requests: HTTP 400
...") and the other sizes still run.
"""

from __future__ import annotations

import http.client
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loadtests.corpus import request_texts
from servingbench.adapter import Tunables
from servingbench.load.failures import count_kinds
from servingbench.load.locust import run_locust, write_requests
from servingbench.load.steps import percentile_intervals
from servingbench.measure import stats
from servingbench.measure.parity import SCORE_TOLERANCE, answer_problem, reference_predictions
from servingbench.measure.reference import BatchReference, job_texts, run_batch_reference
from servingbench.profiles import Profile
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.records import BatchResult, BatchSize
from servingbench.servers.target import Target

SIZES = (1, 8, 32, 128)
JOB_TEXTS = {"quick": 512, "standard": 2048, "full": 8192}
"""Texts per job: multiples of 128, so that every size sends the same job (the issue's 2,000 standard
rounded up to 2,048)."""
JOB_BOUND_S = {"quick": 90.0, "standard": 180.0, "full": 420.0}
"""Time bound of one size's job (a server slower than this shows a partial job, never hangs the run)."""
MAX_USERS = 64
USERS_RULE = ("closed-loop users = max(2 x workers, 2 x workers x max batch / texts per request), at most "
              f"{MAX_USERS} and the job's requests: two requests per worker keep it busy (one served, one "
              "waiting), and a server-side batcher can fill a batch only when a batch's worth of texts waits")


def job_requests(job: int, size: int) -> int:
    """Requests of ``size`` texts that carry a job of ``job`` texts (the last one may be short)."""
    if job < 1 or size < 1:
        raise ValueError(f"job and request size must be >= 1, got {job} and {size}")
    return math.ceil(job / size)


def users_for(size: int, tunables: Tunables, requests: int) -> int:
    """Closed-loop users that saturate the server at this request size (USERS_RULE)."""
    workers = max(1, tunables.workers)
    wanted = max(2 * workers, math.ceil(2 * workers * tunables.max_batch_size / size))
    return max(1, min(wanted, MAX_USERS, requests))


def job_window(samples: np.ndarray, requests: int) -> tuple[float, float, np.ndarray]:
    """(first send, last completion, rows) of the job: the first ``requests`` requests to complete
    (a user may have sent one more before Locust stopped at the budget; it is not the job's)."""
    if samples.size == 0:
        return math.nan, math.nan, samples.reshape(0, 3)
    done = samples[:, 0] + samples[:, 1] / 1000.0
    order = np.argsort(done, kind="stable")[:requests]
    rows = samples[order]
    return float(rows[:, 0].min()), float(done[order].max()), rows


def batching_note(tunables: Tunables) -> str:
    if not tunables.batching:
        return "off in this configuration (max batch size 1): each request is one model call"
    return (f"on: max batch size {tunables.max_batch_size}, max delay {tunables.max_batch_delay_ms:g} ms "
            f"({tunables.workers} worker(s))")


def size_problem(target: Target, texts: list[str], reference: list[tuple[str, float]]) -> str:
    """Why one request of these texts is refused or answered wrongly; "" when it matches the reference."""
    adapter = target.adapter
    try:
        status, body = target.send(adapter.encode(texts), timeout=60.0)
    except (OSError, http.client.HTTPException) as exc:
        return f"limit: {len(texts)}-text request failed: {type(exc).__name__}: {exc}"
    try:
        answer = adapter.decode(status, body)
    except ValueError as exc:  # ProtocolError: not predictions (an error page, a refusal)
        snippet = body[:160].decode("utf-8", "replace").replace("\n", " ")
        return f"limit: refuses {len(texts)}-text requests: HTTP {status} ({type(exc).__name__}: {snippet})"
    if len(answer) != len(texts):
        return f"wrong answer: {len(answer)} predictions for {len(texts)} texts"
    for served, (label, score) in zip(answer, reference, strict=True):
        problem = answer_problem([served], None)
        if problem or served[0] != label or not abs(served[1] - score) <= SCORE_TOLERANCE:
            return f"wrong answer: {problem or f'{served} where in-process gives {(label, score)}'}"
    return ""


def analyse_job(samples: np.ndarray, size: int, requests: int) -> BatchSize:
    """Texts/s, latency and failures of one size's job from its raw samples (resources added later)."""
    start, end, rows = job_window(samples, requests)
    ok = stats.ok_mask(rows)
    ok_texts = int(ok.sum()) * size
    wall = end - start if rows.size else math.nan
    lat = stats.ok_latencies(rows)
    pct = stats.exact_percentiles(lat) if lat.size else {}
    return BatchSize(
        texts_per_request=size, requests=requests, users=0, ok_texts=ok_texts, wall_s=round(wall, 4),
        texts_per_s=round(ok_texts / wall, 3) if wall > 0 else 0.0,
        p50_ms=pct.get("p50"), p99_ms=pct.get("p99"), percentile_ci_ms=percentile_intervals(lat),
        failure_kinds=count_kinds(rows[:, 2]) if rows.size else {})


def run_size(sc: ScenarioContext, size: int, job: list[str], bound_s: float) -> BatchSize:
    """One size: the refusal check, then the job closed loop, then its figures and resources."""
    ctx = sc.ctx
    requests = job_requests(len(job), size)
    users = users_for(size, sc.tunables, requests)
    probe = job[:size]
    refused = size_problem(ctx.server, probe, reference_predictions(sc.model_dir, probe))
    if refused:
        return BatchSize(texts_per_request=size, requests=requests, users=users, refused=refused)
    name = f"batch_k{size}"
    requests_file = write_requests(sc.adapter, job, ctx.load_dir / f"{name}.requests.json", ctx.protocol,
                                   per_request=size)
    result = run_locust(requests_file, ctx.server.base_url, users=users, run_time_s=bound_s,
                        max_requests=requests, cpus=ctx.loadgen_cpus, out_dir=ctx.load_dir, name=name,
                        distribution=ctx.distribution)
    row = analyse_job(result.samples, size, requests)
    row.users, row.samples_file = users, str(Path("load") / f"{name}.samples.npy")
    start, end, _ = job_window(result.samples, requests)
    if ctx.monitor is not None and end > start:
        ctx.monitor.sample()
        usage = ctx.monitor.window(start, end)
        if usage is not None:
            row.server_cpu_util = round(usage.cpu_util, 4)
            row.cpu_ms_per_text = round(usage.cpu_s * 1000 / row.ok_texts, 4) if row.ok_texts else None
            row.mem_peak_mib = round(usage.mem_peak_bytes / 2**20, 1)
    return row


def _reference(sc: ScenarioContext, job: int) -> tuple[dict[int, BatchReference], float | None]:
    """The in-process job at every size on the server's CPUs, and the idle server's CPU meanwhile."""
    cpus = tuple(sc.record.cpus.server) if sc.record.cpus and sc.record.cpus.server else ()
    if not cpus:  # a remote target: its CPUs are not here
        return {}, None
    monitor = sc.ctx.monitor
    began = monitor.sample().t if monitor is not None else 0.0
    rows = run_batch_reference(sc.model_dir, sc.tunables.threads_per_worker, cpus, list(SIZES), job,
                               sc.out_dir("batch") / "reference.json")
    idle = None
    if monitor is not None:
        usage = monitor.window(began, monitor.sample().t)
        idle = round(usage.cpu_util, 4) if usage is not None else None
    return {r.batch: r for r in rows}, idle


@dataclass(frozen=True)
class BatchScenario:
    name: str = "batch"
    question: str = ("how fast does a fixed offline job go through the server at 1, 8, 32 and 128 texts per "
                     "request, against the in-process predictor?")
    needs_slo_rate: bool = False
    restarts_server: bool = False

    def check(self, options: ScenarioOptions) -> None:
        return None

    def estimate_s(self, profile: Profile, start_s: float, options: ScenarioOptions) -> float:
        """Worst case: every size runs to its bound; the reference runs the job four times (~150 texts/s)."""
        job = JOB_TEXTS.get(profile.name, 2048)
        return len(SIZES) * (JOB_BOUND_S.get(profile.name, 180.0) + 4) + len(SIZES) * job / 150 + 5

    def run(self, sc: ScenarioContext) -> BatchResult:
        count = JOB_TEXTS.get(sc.profile.name, 2048)
        job = job_texts(request_texts(), count)
        sc.progress(f"  in-process reference: {count} texts at {', '.join(map(str, SIZES))} texts per call")
        reference, idle = _reference(sc, count)
        rows = []
        for size in SIZES:
            row = run_size(sc, size, job, JOB_BOUND_S.get(sc.profile.name, 180.0))
            row.reference = reference.get(size)
            rows.append(row)
            sc.progress(f"  {size} text(s)/request: " + (row.refused or
                        f"{row.texts_per_s:.0f} texts/s, {row.users} users, {row.wall_s:.1f} s"))
        return BatchResult(job_texts=count, sizes=rows, batching=batching_note(sc.tunables),
                           users_rule=USERS_RULE, reference_server_cpu_util=idle)


SCENARIO = BatchScenario()
