"""Adaptive probe length: measure at one rate in segments until the verdict is clear or the time bound ends.

Why: a fixed probe length is either too short where the decision is close (a few hundred requests cannot
show that a p99 is within the bound) or wasted where it is clear (a server far over the SLO shows it in
seconds). A probe here runs a first segment of ``first_s`` seconds, judges every request sent so far, and
runs further segments at the same rate only while the verdict is undecided and a pass is still reachable
by the bound. Each segment is one bounded open-loop run with its own arrival seed (drawn from the probe's
seed), so the pooled requests are one Poisson schedule's worth per segment, never a repeat of one.

The looks are planned before the probe starts (``segment_plan``), so the per-look confidence
(confidence_per_look over the planned looks) keeps the overall error rates however early the probe stops.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from servingbench.measure.probe_verdict import ProbeRule, ProbeVerdict, judge


def segment_plan(first_s: float, max_s: float, looks: int) -> list[float]:
    """Measured seconds of each planned segment: ``first_s``, then the rest up to ``max_s`` in equal parts."""
    if first_s <= 0 or looks < 1:
        raise ValueError("first_s must be > 0 and looks >= 1")
    rest = max(0.0, max_s - first_s)
    if looks == 1 or rest <= 0:
        return [first_s]
    return [first_s] + [rest / (looks - 1)] * (looks - 1)


def sub_seeds(seed: int) -> Iterator[int]:
    """The probe's own seed for its first segment, then fresh seeds drawn from it (reproducible)."""
    yield seed
    rng = random.Random(seed)
    while True:
        yield rng.randrange(2**31)


@dataclass(frozen=True)
class AdaptiveProbe:
    """What an adaptive probe measured: each segment's rows (sent in its window) and the final verdict."""

    segments: list[np.ndarray]
    seeds: list[int]
    seconds: list[float]
    verdict: ProbeVerdict
    looks: list[ProbeVerdict]
    """The verdict at every look, in order (the last is ``verdict``, with the stopping reason)."""

    @property
    def rows(self) -> np.ndarray:
        return np.concatenate(self.segments) if self.segments else np.zeros((0, 4))

    @property
    def measured_s(self) -> float:
        return float(sum(self.seconds))


Segment = Callable[[float, int], np.ndarray]
"""measure(seconds, seed) -> the rows of the requests sent in that segment's measured window."""


def run_adaptive(segment: Segment, rule: ProbeRule, plan: Sequence[float], seed: int, rate_rps: float,
                 on_look: Callable[[ProbeVerdict], None] = lambda _v: None) -> AdaptiveProbe:
    """Segments of ``plan`` at ``rate_rps`` until the verdict is decided or out of reach, or the plan ends."""
    if rule.planned_looks != len(plan):
        raise ValueError(f"the rule plans {rule.planned_looks} looks, the plan has {len(plan)} segments")
    segments: list[np.ndarray] = []
    seeds: list[int] = []
    looks: list[ProbeVerdict] = []
    for i, (seconds, sub) in enumerate(zip(plan, sub_seeds(seed), strict=False)):
        segments.append(segment(seconds, sub))
        seeds.append(sub)
        pooled = np.concatenate(segments)
        left_s = float(sum(plan[i + 1:]))
        last = left_s <= 0
        at_bound = None if last else pooled.shape[0] + round(rate_rps * left_s)
        verdict = judge(pooled, rule, looks=i + 1, requests_at_bound=at_bound)
        stop = _stop_reason(verdict, at_bound)
        if stop:
            verdict = replace(verdict, reason=f"{verdict.reason}; {stop}")
        looks.append(verdict)
        on_look(verdict)
        if stop:
            break
    return AdaptiveProbe(segments, seeds, list(plan[:len(segments)]), looks[-1], looks)


def _stop_reason(verdict: ProbeVerdict, requests_at_bound: int | None) -> str:
    """Why the probe stops after this look ("" to measure on)."""
    if verdict.decided:
        return f"decided at look {verdict.looks} of {verdict.planned_looks}"
    if requests_at_bound is None:
        return (f"undecided at the time bound: a pass needs at least {verdict.queries_to_pass} requests "
                f"with {verdict.overlatency} over the bound")
    if verdict.queries_to_pass > requests_at_bound:
        return (f"a pass needs at least {verdict.queries_to_pass} requests, the time bound allows about "
                f"{requests_at_bound}: stopped undecided at look {verdict.looks} of {verdict.planned_looks}")
    return ""
