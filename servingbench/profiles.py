"""Benchmark profiles: how long and how hard each measurement runs.

Every step is bounded in time and in request count. Durations in seconds.
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
    """Measured part of each step."""
    reference_s: float
    max_requests_per_step: int = 200_000

    def as_dict(self) -> dict:
        return asdict(self)

    def estimate_s(self) -> float:
        """Rough wall time of the load part (Locust start and stop add ~3 s a step)."""
        per_step = self.step_warmup_s + self.step_s + 3
        return self.reference_s + self.warmup_s + 3 + len(self.users) * per_step


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", "CI smoke: three short steps", warmup_s=3, users=(1, 4, 16),
                step_warmup_s=2, step_s=5, reference_s=4),
        Profile("standard", "the default of make bench", warmup_s=10, users=(1, 2, 4, 8, 16, 32),
                step_warmup_s=3, step_s=20, reference_s=10),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None
