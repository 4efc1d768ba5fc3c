"""Benchmark profiles: how long and how hard each measurement runs.

Every load run is bounded in time and in request count. Durations in seconds. The durations quoted
in the README were measured with these values on a 2-CPU machine.
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

    def as_dict(self) -> dict:
        return asdict(self)

    def estimate_s(self) -> float:
        """Rough wall time of the measurement (each Locust run adds ~3 s of start and stop)."""
        closed = len(self.users) * (self.step_warmup_s + self.step_s + 3)
        fixed = self.open_warmup_s + self.open_s + 3
        search = self.slo_probes * (self.open_warmup_s + self.probe_s + 4)
        confirm = (self.repeats if self.repeats > 1 else 0) * (self.open_warmup_s + self.probe_s + 4)
        ceiling = 2 * self.ceiling_s  # closed loop, then the open-loop check at a fraction of its rate
        return self.reference_s + ceiling + 6 + self.warmup_s + 3 + closed + fixed + search + confirm


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", "CI smoke: three short closed-loop steps, a short SLO search, no repeats",
                warmup_s=3, users=(1, 4, 16), step_warmup_s=2, step_s=6, windows=3, reference_s=4,
                fixed_rate_rps=20, open_warmup_s=2, open_s=6, slo_probes=5, probe_s=5, repeats=1,
                ceiling_s=4),
        Profile("standard", "the default of make bench: six steps, SLO search, SLO throughput repeated 3x",
                warmup_s=10, users=(1, 2, 4, 8, 16, 32), step_warmup_s=3, step_s=12, windows=3,
                reference_s=10, fixed_rate_rps=20, open_warmup_s=3, open_s=20, slo_probes=6, probe_s=12,
                repeats=3, ceiling_s=8),
        Profile("full", "nightly: longer steps, finer SLO search, 5 repeats",
                warmup_s=15, users=(1, 2, 4, 8, 16, 32, 64), step_warmup_s=5, step_s=20, windows=4,
                reference_s=20, fixed_rate_rps=20, open_warmup_s=5, open_s=30, slo_probes=8, probe_s=20,
                repeats=5, ceiling_s=10),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None
