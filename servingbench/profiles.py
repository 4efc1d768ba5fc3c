"""Benchmark profiles: how long and how hard each measurement runs.

Every load run is bounded in time and in request count. Durations in seconds. The durations quoted
in the README were measured with these values on a 2-CPU machine.

SLO probes (measure/probe_verdict.py, measure/adaptive.py) pass by MLPerf LoadGen's early-stopping rule at
``slo_confidence``, split over ``probe_looks`` planned looks: a first segment of ``probe_s`` seconds, then
equal segments up to ``probe_max_s`` while the verdict is undecided. With no request over the bound a pass
needs n requests (p99; the per-look confidence in brackets):

    overall / looks       per look   n (0 over)   n (1 over)   n (2 over)
    0.90 / 2 (quick)      0.950      299          473          628
    0.95 / 2 (standard)   0.975      368          555          720
    0.99 / 2 (full)       0.995      528          740          924
    (0.90 / 1             0.900      230          388          531,  for comparison)

Why these: ``quick`` (CI smoke, no repeats) must still pass a server clearly under the SLO at the rates of
the slowest frameworks (Ray Serve's is ~20-30 req/s on 2 CPUs): 299 requests take 15 s at 20 req/s, so its
bound is 15 s; at 60 req/s and above the first 5 s segment decides. 90% means a server whose true p99 sits
at the bound passes a probe at most 1 time in 10; quick's headline is a smoke figure, and says so.
``standard`` is what comparisons rest on: 95% over two looks needs 368 requests (15 req/s fill the 24 s
bound; 46 req/s decide in the first 8 s), and its three confirmations, one on a fresh server start, must
all pass. ``full`` (nightly) uses LoadGen's own 0.99 over two looks, 15 s and 45 s (528 requests: 11.7
req/s at the bound; 35 req/s decide in the first segment). Two looks rather than more: each segment costs
its own warm-up and Locust start (~6 s), and each planned look takes its share of the confidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    warmup_s: float
    """Load before the first step, discarded: caches, JIT, connection pools, worker spin-up."""
    users: tuple[int, ...]
    """Closed-loop concurrency steps."""
    step_warmup_s: float
    """Start of each step, discarded: Locust spawning users, queues filling."""
    step_s: float
    """Measured part of each closed-loop step."""
    windows: int
    """The measured part is split into this many windows to judge stability (perf_analyzer's rule)."""
    reference_s: float
    fixed_rate_rps: float
    """Open-loop load every framework is compared at (p50/p99 'at a fixed load')."""
    open_warmup_s: float
    open_s: float
    """Measured part of the fixed-load step."""
    slo_probes: int
    """Most open-loop probes the SLO search may spend."""
    probe_s: float
    repeats: int
    """Independent repeats of the SLO throughput (fresh seeds); median and spread are reported."""
    ceiling_s: float
    """Load generator ceiling measurement against the no-op server."""
    max_requests_per_step: int = 200_000
    confirm_rounds: int = 3
    """Rates the confirmations may try: a failed confirmation sends them below, at most this many times."""
    slo_confidence: float = 0.9
    """Overall confidence of a probe's early-stopping verdict (LoadGen uses 0.99)."""
    probe_max_s: float = 0.0
    """Time bound of an adaptive probe's measured seconds (0: ``probe_s``, no extension)."""
    probe_looks: int = 1
    """Planned looks (segments) of a probe up to its bound; each look is judged at the Bonferroni share."""
    fresh_start: bool = False
    """Run the last confirmation of every round on a freshly started server (stop, start, parity gate,
    a short warm-up), so between-start variance shows in the headline."""
    scenarios: tuple[str, ...] = ("steady",)
    """What ``make bench`` measures when no SCENARIO= is given (servingbench/scenarios)."""

    def as_dict(self) -> dict:
        return asdict(self)

    def probe_plan(self) -> list[float]:
        """Measured seconds of each planned segment of an SLO probe."""
        from servingbench.measure.adaptive import segment_plan

        return segment_plan(self.probe_s, max(self.probe_s, self.probe_max_s), self.probe_looks)

    def provable_floor_rps(self) -> float:
        """The lowest arrival rate at which a probe can pass at all: with no request over the bound a pass
        needs ``queries_to_pass(0)`` requests (at the per-look confidence), and the probe measures at most
        its planned seconds. Below it every probe ends undecided, so the search stops there (and says so)."""
        from servingbench.measure.probe_verdict import ProbeRule

        plan = self.probe_plan()
        rule = ProbeRule(slo_p99_ms=1.0, confidence=self.slo_confidence, planned_looks=len(plan))
        return rule.queries_to_pass(0) / sum(plan)

    @property
    def fresh_warmup_s(self) -> float:
        """The warm-up after a fresh start: half the run's first one (the harness's pools are warm)."""
        return self.warmup_s / 2

    def estimate_s(self) -> float:
        """Wall time of the measurement in the worst case of adaptive probes: every probe runs every planned
        segment (each Locust run adds ~3 s of start and stop, each segment its own warm-up). Confirmations
        count one round; a failed confirmation adds up to ``repeats`` probes per further round. A fresh
        start's own start time is the framework's (run.py adds it)."""
        closed = len(self.users) * (self.step_warmup_s + self.step_s + 3)
        fixed = self.open_warmup_s + self.open_s + 3
        probe = sum(self.open_warmup_s + seconds + 4 for seconds in self.probe_plan())
        confirm = (self.repeats if self.repeats > 1 else 0) * probe
        fresh = (self.fresh_warmup_s + 3 + 5) if self.fresh_start and self.repeats > 1 else 0.0  # + parity
        ceiling = 2 * self.ceiling_s  # closed loop, then the open-loop check at a fraction of its rate
        return (self.reference_s + ceiling + 6 + self.warmup_s + 3 + closed + fixed
                + self.slo_probes * probe + confirm + fresh)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", "CI smoke: three short closed-loop steps, a short SLO search, no repeats",
                warmup_s=3, users=(1, 4, 16), step_warmup_s=2, step_s=6, windows=3, reference_s=4,
                fixed_rate_rps=20, open_warmup_s=2, open_s=6, slo_probes=5, probe_s=5, repeats=1,
                ceiling_s=4, slo_confidence=0.9, probe_max_s=15, probe_looks=2),
        Profile("standard", "the default of make bench: six steps, SLO search, SLO throughput repeated 3x, "
                "then overload and cold start",
                warmup_s=10, users=(1, 2, 4, 8, 16, 32), step_warmup_s=3, step_s=12, windows=3,
                reference_s=10, fixed_rate_rps=20, open_warmup_s=3, open_s=20, slo_probes=6, probe_s=8,
                repeats=3, ceiling_s=8, slo_confidence=0.95, probe_max_s=24, probe_looks=2, fresh_start=True,
                scenarios=("steady", "overload", "coldstart")),
        Profile("full", "nightly: longer steps, finer SLO search, 5 repeats, every scenario",
                warmup_s=15, users=(1, 2, 4, 8, 16, 32, 64), step_warmup_s=5, step_s=20, windows=4,
                reference_s=20, fixed_rate_rps=20, open_warmup_s=5, open_s=30, slo_probes=8, probe_s=15,
                repeats=5, ceiling_s=10, slo_confidence=0.99, probe_max_s=45, probe_looks=2,
                fresh_start=True,
                scenarios=("steady", "overload", "burst", "coldstart", "batch", "size", "trace")),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None
