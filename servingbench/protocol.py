"""The run protocol against a server that answers: parity gate, warm-up, closed-loop steps, the fixed-load
open-loop step, the SLO search and its confirmations.

Launch-agnostic: it sees the server only as a Target (base URL, send, predict, exited, log), so a local
process group, a container and a remote deployment are measured the same way.
"""

from __future__ import annotations

import json
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtests.corpus import request_texts
from servingbench.load.failures import describe_kinds
from servingbench.load.locust import run_locust, write_requests
from servingbench.load.probes import adaptive_probe
from servingbench.load.steps import StepContext, closed_step, open_step
from servingbench.measure.parity import check_parity, eval_set, model_labels, reference_predictions
from servingbench.measure.probe_verdict import ProbeRule, ProbeVerdict
from servingbench.measure.slo_search import Confirmation, Probe, confirm, search, seed_for
from servingbench.measure.variants import batch_dependent
from servingbench.polling import poll_until
from servingbench.profiles import Profile
from servingbench.progress import Progress
from servingbench.record.run_record import (
    FIXED_LOAD,
    SLO_PROBE,
    SLO_REPEAT,
    ClosedStep,
    OpenStep,
    RunRecord,
    SloSearch,
    Step,
)
from servingbench.servers.errors import ServerDied
from servingbench.servers.target import Target
from servingbench.summary import summarize_run


class ParityFailed(RuntimeError):
    pass


class TargetStoppedAnswering(RuntimeError):
    """A step got no successful response and the target fails a direct prediction too: the run fails
    (never "complete" with 0 req/s); the steps measured so far stay in the record for diagnosis."""


def run_parity_gate(server: Target, model_dir: Path, record: RunRecord, progress: Progress) -> None:
    """The evaluation set through the native protocol; raises ParityFailed when it does not match."""
    over = " (gRPC)" if server.base_url.startswith("grpc://") else ""
    progress(f"parity gate: evaluation sentences through the native protocol{over}")
    items = eval_set()
    alone = batch_dependent(model_dir)  # int8: a batching server would mix partners into each answer
    reference = reference_predictions(model_dir, [t for t, _ in items], each_alone=alone)
    parity = check_parity(server.predict, reference, items, labels=model_labels(model_dir),
                          concurrency=1 if alone else 4)
    parity.reference_batch = "each alone" if alone else "all"
    record.parity = parity
    if not parity.passed:
        raise ParityFailed(
            parity.error or f"{parity.label_mismatches} label mismatches, max score difference "
            f"{parity.max_score_diff:.2e} (tolerance {parity.tolerance:.0e}); no timings reported"
        )
    progress(f"parity passed: {parity.sentences} sentences, max score diff {parity.max_score_diff:.1e}")


Restart = Callable[[], StepContext]
"""Stop the server, start it afresh, pass the parity gate again and warm it up (``warm_up`` for
``profile.fresh_warmup_s``); returns the new server's context."""


@dataclass(frozen=True)
class FreshStart:
    """How confirmations get a freshly started server: ``restart``, or why there is none (``unavailable``)."""

    restart: Restart | None = None
    unavailable: str = ""


def run_load_protocol(ctx: StepContext, profile: Profile, record: RunRecord, folder: Path,
                      progress: Progress, fresh: FreshStart | None = None) -> None:
    """Warm-up, closed-loop steps, the fixed-load open-loop step, the SLO search and its repeats."""
    server = ctx.server
    write_requests(server.adapter, request_texts(), ctx.requests_file, ctx.protocol)
    warm_up(ctx, profile, profile.warmup_s, "warmup", progress)

    for i, users in enumerate(profile.users, 1):
        progress(f"closed loop {i}/{len(profile.users)}: {users} users, "
                 f"{profile.step_warmup_s:.0f} s settle + {profile.step_s:.0f} s measured")
        step = closed_step(ctx, users, profile.step_warmup_s, profile.step_s, profile.windows,
                           profile.max_requests_per_step)
        record.steps.append(step)
        progress("  " + describe_step(step))
        check_alive(server, f"closed-loop step {i} ({users} users)")
        check_answering(server, step, f"closed-loop step {i} ({users} users)")

    rate = profile.fixed_rate_rps
    progress(f"open loop at the fixed load: {rate:g} req/s Poisson, {profile.open_s:.0f} s measured")
    _recorded_open_step(ctx, profile, rate, profile.open_s, seed_for(rate), "open_fixed", FIXED_LOAD,
                        record.open_steps, progress)

    peak = max((s.latency.throughput_rps for s in record.steps), default=0.0)
    start = max(peak, rate, 1.0)
    record.slo_search = run_slo_search(ctx, profile, start, record.open_steps, progress, fresh=fresh)
    (folder / "histograms.json").write_text(json.dumps(record.histograms()))
    record.summary = summarize_run(record)


def warm_up(ctx: StepContext, profile: Profile, seconds: float, name: str, progress: Progress) -> None:
    """Closed-loop load at the most users, discarded: caches, JIT, connection pools, worker spin-up."""
    progress(f"warm-up {seconds:.0f} s at {max(profile.users)} users (discarded)")
    run_locust(ctx.requests_file, ctx.server.base_url, users=max(profile.users), run_time_s=seconds,
               max_requests=profile.max_requests_per_step, cpus=ctx.loadgen_cpus, out_dir=ctx.load_dir,
               name=name, distribution=ctx.distribution)
    check_alive(ctx.server, f"the warm-up {name}")


class _ProbedServer:
    """The server probes go to: the search's, until a fresh start replaces it for a confirmation."""

    def __init__(self, ctx: StepContext, profile: Profile, fresh: FreshStart, progress: Progress) -> None:
        self.ctx, self.profile, self.fresh, self.progress = ctx, profile, fresh, progress
        self.next_is_fresh = False
        self.ready_s: list[float] = []

    @property
    def wanted(self) -> bool:
        """The profile asks for fresh-start confirmations and there are confirmations to make."""
        return self.profile.fresh_start and self.profile.repeats > 1

    def restart(self) -> None:
        """Stop, start afresh (parity gate and warm-up included); the next probe is marked fresh."""
        assert self.fresh.restart is not None
        n = len(self.ready_s) + 1
        self.progress(f"fresh server start {n} for the next confirmation: stop, start, parity gate, warm-up")
        self.ctx = self.fresh.restart()
        ready = self.ctx.server.time_to_ready_s
        self.ready_s.append(round(ready, 3) if ready is not None else float("nan"))
        self.next_is_fresh = True

    def take_fresh(self) -> bool:
        fresh, self.next_is_fresh = self.next_is_fresh, False
        return fresh


def run_slo_search(ctx: StepContext, profile: Profile, start_rps: float, open_steps: list[OpenStep],
                   progress: Progress, schedule_seed: int | None = None,
                   fresh: FreshStart | None = None) -> SloSearch:
    """The highest Poisson rate at which the search probe and every confirmation meet the SLO.

    Every probe's arrival seed is drawn from one random ``schedule_seed`` (fresh per run, recorded), so
    repeats measure the server rather than one shared schedule, and the run can be reproduced. Where the
    profile asks for it, the last confirmation of each round runs on a freshly started server.
    """
    schedule_seed = secrets.randbits(32) if schedule_seed is None else schedule_seed
    rng = random.Random(schedule_seed)
    server = _ProbedServer(ctx, profile, fresh or FreshStart(), progress)

    def seed_of(_rate: float) -> int:
        return rng.randrange(2**31)

    measure = _prober(server, open_steps, progress, SLO_PROBE, "slo_probe",
                      lambda n, rate: f"SLO search probe {n}/{profile.slo_probes}: {rate:.1f} req/s")
    floor = profile.provable_floor_rps()
    result = search(measure, start_rps=start_rps, max_probes=profile.slo_probes, seed_of=seed_of,
                    floor_rps=floor)
    if result.stopped_at_floor:
        progress(f"  search stopped: below {floor:.1f} req/s this profile's probes cannot pass (too few "
                 f"requests in {sum(profile.probe_plan()):.0f} s); a longer profile can decide lower rates")
    note = ""
    if server.wanted and server.fresh.restart is None:
        note = server.fresh.unavailable or "fresh-start confirmation not possible: no restart given"
        progress(f"  {note}")
    if profile.repeats > 1:
        confirmer = _prober(server, open_steps, progress, SLO_REPEAT, "slo_repeat", lambda n, rate: (
            f"SLO confirmation {n} at {rate:.1f} req/s (fresh seed; every one must pass)"))
        restart = server.restart if server.wanted and server.fresh.restart is not None else None
        confirmed = confirm(confirmer, result, repeats=profile.repeats, max_rounds=profile.confirm_rounds,
                            seed_of=seed_of, fresh_start=restart)
    else:  # no repeats (quick): the search's own passing probe at the best rate is the confirmation
        own = [p for p in result.probes if p.passed and p.rate_rps == result.best_rate_rps]
        confirmed = Confirmation(result.best_rate_rps, own, result.lowest_failing_rps)
    if result.best_rate_rps > 0 and confirmed.held_rate_rps == 0:
        progress(f"  no rate held the SLO in every confirmation (tried {len(confirmed.confirmations)})")
    return SloSearch.of(result, confirmed, schedule_seed, fresh_start_ready_s=server.ready_s,
                        fresh_start_note=note, provable_floor_rps=round(floor, 2))


def _prober(server: _ProbedServer, open_steps: list[OpenStep], progress: Progress, purpose: str, prefix: str,
            announce: Callable[[int, float], str]) -> Callable[[float, int], Probe]:
    """Numbered adaptive open-loop probes of one purpose (search probes, confirmations) as SLO verdicts."""
    count = [0]
    profile = server.profile
    plan = profile.probe_plan()

    def measure(rate: float, seed: int) -> Probe:
        count[0] += 1
        ctx, fresh = server.ctx, server.take_fresh()
        name = f"{prefix}{count[0]}"
        rule = ProbeRule(ctx.slo_p99_ms, ctx.max_error_rate, profile.slo_confidence, len(plan))
        progress(announce(count[0], rate) + (", on the fresh server" if fresh else ""))
        segments: list[OpenStep] = []

        def after_segment(step: OpenStep) -> None:
            segments.append(step)
            check_alive(ctx.server, f"the {purpose} step {step.name}")
            check_answering(ctx.server, step, f"the {purpose} step {step.name} ({rate:.1f} req/s)")

        def on_look(verdict: ProbeVerdict) -> None:
            seconds = plan[verdict.looks - 1]
            progress(f"  look {verdict.looks}/{verdict.planned_looks} ({seconds:.0f} s): "
                     f"{describe_step(segments[-1])}; {describe_verdict(verdict)}")

        step = adaptive_probe(ctx, rate, seed, name=name, purpose=purpose, warmup_s=profile.open_warmup_s,
                              plan=plan, windows=profile.windows, rule=rule, fresh_start=fresh,
                              after_segment=after_segment, on_look=on_look)
        open_steps.append(step)
        if len(step.segments) > 1:
            progress(f"  pooled {len(step.segments)} segments: {describe_step(step)}")
        return step.probe(ctx.slo_p99_ms, ctx.max_error_rate)

    return measure


def _recorded_open_step(ctx: StepContext, profile: Profile, rate: float, measure_s: float, seed: int,
                        name: str, purpose: str, open_steps: list[OpenStep], progress: Progress) -> OpenStep:
    """One open-loop step, kept in the run with its purpose (and histogram), and reported as it ends."""
    step = open_step(ctx, rate, profile.open_warmup_s, measure_s, seed, name=name, windows=profile.windows,
                     purpose=purpose)
    open_steps.append(step)
    progress("  " + describe_step(step))
    check_alive(ctx.server, f"the {purpose} step {name}")
    check_answering(ctx.server, step, f"the {purpose} step {name} ({rate:.1f} req/s)")
    return step


def describe_verdict(verdict: ProbeVerdict) -> str:
    """The early-stopping verdict in one phrase: outcome, counts, conservative p99, what it would need."""
    es = verdict.early_stopping_p99_ms
    es_text = ("too few for an early-stopping p99" if es is None
               else "early-stopping p99 on a failed request" if es == float("inf")
               else f"early-stopping p99 {es:.1f} ms")
    text = (f"{verdict.outcome.upper()} at {verdict.confidence:.0%} ({verdict.overlatency}/"
            f"{verdict.judged_requests} over the bound, {es_text})")
    if verdict.outcome == "undecided":
        text += f"; a pass needs {verdict.queries_to_pass} requests"
    return text


def describe_step(step: Step) -> str:
    lat, res = step.latency, step.resources
    load = f"{step.users} users" if isinstance(step, ClosedStep) else f"{step.rate_rps:.1f} req/s offered"
    errors = f"errors {lat.errors}"
    if lat.errors and step.failure_kinds:
        errors += f" ({describe_kinds(step.failure_kinds)})"
    parts = [load, f"{lat.throughput_rps:.1f} req/s", f"p50 {lat.p50_ms:.1f} ms", f"p99 {lat.p99_ms:.1f} ms",
             errors]
    if isinstance(step, OpenStep) and step.held_back_sends:
        parts.append(f"{step.held_back_sends} sends held back by the in-flight cap (server stalled)")
    if res.server_cpu_util is not None:
        parts.append(f"server CPU {res.server_cpu_util:.2f}")
    if step.stability is not None and step.stability.stable is False:
        parts.append("unstable")
    if step.generator_limited:
        parts.append("[GENERATOR-LIMITED]")
    if isinstance(step, OpenStep) and step.fresh_start:
        parts.append("fresh start")
    if isinstance(step, OpenStep) and step.verdict is not None:
        parts.append(describe_verdict(step.verdict))
    return ", ".join(parts)


def check_answering(server: Target, step: Step, when: str, tries: int = 3, timeout_s: float = 10.0) -> None:
    """Raise TargetStoppedAnswering when ``step`` had no successful response and the target then fails
    ``tries`` direct predictions: a stopped server, not an overloaded one (which answers once drained)."""
    if step.latency.ok > 0:
        return
    polled = poll_until(lambda: server.predict(["is the server still answering?"], timeout=timeout_s),
                        until=lambda _: True, retry=(Exception,),  # any failure to predict is the finding
                        max_attempts=tries, timeout_s=math.inf, interval_s=1.0)
    if polled.done:
        return
    last = f"{type(polled.error).__name__}: {polled.error}" if polled.error else "no answer"
    counts = describe_kinds(step.failure_kinds) if step.failure_kinds else (
        ", ".join(f"{k}: {v}" for k, v in sorted(step.status_counts.items())) or "none")
    raise TargetStoppedAnswering(
        f"{server.adapter.display_name} at {server.base_url} stopped answering during {when}: no successful "
        f"response in its measured window ({step.latency.requests} requests; failures {counts}), and "
        f"{tries} direct predictions failed (last: {last}). Steps measured before it are kept.")


def check_alive(server: Target, when: str) -> None:
    code = server.exited()
    if code is not None:
        raise ServerDied(f"{server.adapter.display_name} exited with code {code} during {when}.\n"
                         f"Last lines of its log:\n{server.log_tail()}")
