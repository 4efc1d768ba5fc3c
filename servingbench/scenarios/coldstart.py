"""SCENARIO=coldstart: how long a fresh replica takes to serve, and what keeping one warm costs instead.

N fresh starts of the configuration under test (the running server is stopped first: two would share
its CPUs). Each start is timed from spawn to the first *correct* prediction (measure/coldstart.py polls
from the moment of spawn), then to the adapter's own readiness; then one prediction is timed alone (the
first request after ready) and a few more (warm); then the server idles a few seconds and its memory
(PSS) and CPU are read; then the verified stop. The shared model logs every model load with wall-clock
timestamps (shared_model.predictor: $SB_RUN_DIR/model_load.events), which splits each start into
framework start-up, model load and the rest alike for every framework. The server under test is started
again at the end (parity gate, warm-up) for the scenarios after this one.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from servingbench.adapter import HttpRequest, Prediction
from servingbench.measure.coldstart import (
    POLL_INTERVAL_S,
    FirstCorrect,
    correct,
    poll_first_correct,
    read_model_loads,
    spread,
    startup_split,
)
from servingbench.measure.cost import matching_instance, server_share
from servingbench.measure.monitor import TreeMonitor
from servingbench.measure.parity import eval_set, model_labels, reference_predictions
from servingbench.profiles import Profile
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.records import ColdStart, ColdStartResult, KeepWarm
from servingbench.servers.readiness import wait_ready
from servingbench.servers.target import Target
from shared_model.predictor import MODEL_EVENTS

STARTS = {"quick": 2, "standard": 5, "full": 7}
"""Fresh starts per profile (the issue: 5 in standard)."""
IDLE_S = {"quick": 2.0, "standard": 3.0, "full": 5.0}
"""Idle seconds after the timed requests, before memory and idle CPU are read."""
WARM_REQUESTS = 5
SPLIT_SOURCE = ("the shared model's timestamped load line (shared_model.predictor, model_load.events): "
                "the same for every framework")


class TimedWait:
    """A readiness wait (servers.readiness.ReadyWait) that first times the first correct prediction
    from spawn, then waits for the adapter's own readiness as every launch does."""

    def __init__(self, request: HttpRequest, is_correct: Callable[[list[Prediction]], bool]) -> None:
        self.request, self.is_correct = request, is_correct
        self.first: FirstCorrect | None = None
        self.spawn_wall = math.nan

    def __call__(self, target: Target, *, timeout_s: float, spec: object = None,
                 started_at: float | None = None, progress: Callable[[str], None] = lambda _m: None,
                 hint: str = "") -> float:
        started = time.monotonic() if started_at is None else started_at
        self.spawn_wall = time.time() - (time.monotonic() - started)
        self.first = poll_first_correct(target.send, target.adapter.decode, self.request, self.is_correct,
                                        started_at=started, timeout_s=timeout_s, exited=target.exited)
        return wait_ready(target, timeout_s=timeout_s, spec=spec, started_at=started,  # type: ignore[arg-type]
                          progress=progress, hint=hint)


def timed_prediction_ms(target: Target, text: str, is_correct: Callable[[list[Prediction]], bool]) -> float:
    """One prediction's latency; RuntimeError when its answer is not the in-process one."""
    began = time.perf_counter()
    answer = target.predict([text])
    elapsed = (time.perf_counter() - began) * 1000
    if not is_correct(answer):
        raise RuntimeError(f"a prediction after ready differs from the in-process one: {answer!r}")
    return round(elapsed, 3)


def _idle(target: Target, seconds: float) -> tuple[float | None, float | None, int | None, str]:
    """(PSS MiB, CPU util, processes, memory kind) after ``seconds`` of idling; Nones when not watchable."""
    if target.tree is None:
        time.sleep(seconds)
        return None, None, None, ""
    with TreeMonitor(target.tree) as monitor:
        first = monitor.sample()
        time.sleep(seconds)
        usage = monitor.usage(first, monitor.sample())
    mem = round(usage.mem_peak_bytes / 2**20, 1)
    return mem, round(usage.cpu_util, 4), usage.processes, usage.memory_kind


def one_start(sc: ScenarioContext, index: int, text: str, is_correct: Callable[[list[Prediction]], bool],
              idle_s: float) -> ColdStart:
    """One fresh start, timed, idled and stopped (verified)."""
    assert sc.sut is not None
    folder = sc.out_dir("coldstart") / f"start{index}"
    wait = TimedWait(sc.adapter.encode([text]), is_correct)
    with sc.sut.bare_launch(folder, wait) as target:
        first_ms = timed_prediction_ms(target, text, is_correct)
        warm = statistics.median(timed_prediction_ms(target, text, is_correct) for _ in range(WARM_REQUESTS))
        mem, cpu, procs, kind = _idle(target, idle_s)
    assert wait.first is not None and target.time_to_ready_s is not None
    loads = read_model_loads(folder / MODEL_EVENTS)
    return ColdStart(
        index=index, spawn_wall=round(wait.spawn_wall, 6), first=wait.first,
        time_to_ready_s=round(target.time_to_ready_s, 4), first_request_ms=first_ms, warm_request_ms=warm,
        idle_mem_mib=mem, idle_cpu_util=cpu, processes=procs, memory_kind=kind,
        split=startup_split(wait.spawn_wall, wait.first.first_correct_s, loads), loads=loads,
        stop_s=(getattr(target, "stop_report", None) or {}).get("stop_s"),
        folder=str(folder.relative_to(sc.folder)))


def keep_warm(vcpus: int, mem_mib: float | None, family: str | None) -> KeepWarm | None:
    """The hourly price of the idle server's share of the cheapest fitting instance (cost.py's rule)."""
    if mem_mib is None or vcpus < 1:
        return None
    mem_gib = mem_mib / 1024
    price = matching_instance(vcpus, mem_gib, family or None)
    if price is None:
        return None
    share = server_share(price, vcpus, mem_gib)
    return KeepWarm(
        usd_per_hour=round(price.usd_per_hour * share, 5), instance=price.instance, vcpus=vcpus,
        mem_gib=round(mem_gib, 3), price_date=price.date, price_source=price.source_url or price.source,
        verified=price.verified,
        assumption=(f"{vcpus} vCPU and {mem_gib:.2f} GiB idle memory as {share:.0%} of one {price.instance} "
                    f"(${price.usd_per_hour}/h on-demand {price.os}, {price.region}, price of {price.date}"
                    f"{'' if price.verified else ', UNVERIFIED row'}), paid while idle"))


def summarize(starts: list[ColdStart], idle_s: float, vcpus: int, family: str | None) -> ColdStartResult:
    """The spread of every figure over the starts, and the keep-warm price at the median idle memory."""
    splits = [s.split for s in starts if s.split is not None]
    mem = spread([s.idle_mem_mib for s in starts if s.idle_mem_mib is not None])
    return ColdStartResult(
        starts=starts,
        first_correct_s=spread([s.first.first_correct_s for s in starts]),
        time_to_ready_s=spread([s.time_to_ready_s for s in starts]),
        first_request_ms=spread([s.first_request_ms for s in starts]),
        warm_request_ms=spread([s.warm_request_ms for s in starts]),
        idle_mem_mib=mem,
        startup_s=spread([s.startup_s for s in splits]),
        model_load_s=spread([s.model_load_s for s in splits]),
        after_load_s=spread([s.after_load_s for s in splits]),
        idle_s=idle_s, poll_interval_s=POLL_INTERVAL_S,
        keep_warm=keep_warm(vcpus, mem.median if mem else None, family),
        split_source=SPLIT_SOURCE if splits else "not logged (no model load line in the start's folder)")


@dataclass(frozen=True)
class ColdStartScenario:
    name: str = "coldstart"
    question: str = ("how long does a fresh start take to its first correct prediction, and what does "
                     "keeping an idle instance warm cost instead?")
    needs_slo_rate: bool = False
    restarts_server: bool = True

    def check(self, options: ScenarioOptions) -> None:
        return None

    def estimate_s(self, profile: Profile, start_s: float, options: ScenarioOptions) -> float:
        per_start = start_s + IDLE_S.get(profile.name, 3.0) + 3
        return STARTS.get(profile.name, 5) * per_start + start_s + profile.fresh_warmup_s + 5

    def run(self, sc: ScenarioContext) -> ColdStartResult:
        if sc.sut is None:
            raise RuntimeError("coldstart starts the server afresh: not possible for a remote target")
        n, idle_s = STARTS.get(sc.profile.name, 5), IDLE_S.get(sc.profile.name, 3.0)
        text = eval_set()[0][0]
        reference = reference_predictions(sc.model_dir, [text])[0]
        labels = model_labels(sc.model_dir)

        def is_correct(answer: list[Prediction]) -> bool:
            return correct(answer, reference, labels)

        sc.progress(f"  stopping the server under test for {n} fresh starts")
        sc.sut.stop()
        starts = []
        for i in range(1, n + 1):
            start = one_start(sc, i, text, is_correct, idle_s)
            starts.append(start)
            sc.progress(f"  start {i}/{n}: first correct prediction {start.first.first_correct_s:.2f} s, "
                        f"first request {start.first_request_ms:.1f} ms, idle {start.idle_mem_mib} MiB")
        result = summarize(starts, idle_s, len(sc.record.cpus.server) if sc.record.cpus else 0,
                           sc.record.price_family)
        sc.progress("  starting the server under test again")
        sc.restart()
        return result


SCENARIO = ColdStartScenario()

