"""Is more offered load answered with more goodput, the same, or less? The overload curve's verdict.

Each point of an overload curve is an open-loop step: an offered rate and the successful responses
completed inside its measured window (goodput, load/steps.py). A completion count over a window is a
Poisson count, so each goodput carries an exact (Garwood) interval, and the verdict compares intervals,
never two bare numbers:

- **collapses under overload**: at some offered rate above the one with the highest goodput, the goodput's
  interval lies wholly below the peak's interval (so the drop is not the counts' noise) and the drop is at
  least ``MIN_DROP`` of the peak (so it matters). The collapse starts at the lowest such offered rate.
- **keeps up**: no collapse, and at every rate the goodput is not significantly below ``KEEP_UP`` of the
  offered rate (the interval's upper end reaches it): the server answered what was sent, up to the top.
- **holds**: neither: goodput levels off at a plateau as load rises.

Steps the load generator limited (load/send_lag.py) are shown but never judged: their goodput says
what the generator sent, not what the server could do. Non-overlap of two 95% intervals is a
conservative test (about 99.5% for equal counts), which also pays for picking the peak as the maximum
of several noisy points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scipy.stats import chi2

from servingbench.record.serial import Record

CONFIDENCE = 0.95
MIN_DROP = 0.10
"""A collapse must lose at least this fraction of the peak goodput (beyond being outside the noise)."""
KEEP_UP = 0.95
"""Keeping up: goodput not significantly below this fraction of the offered rate, at every rate."""
COLLAPSES, HOLDS, KEEPS_UP, INCONCLUSIVE = "collapses under overload", "holds", "keeps up", "inconclusive"


def poisson_interval(count: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided (Garwood) interval of a Poisson mean from one observed ``count``."""
    if count < 0:
        raise ValueError(f"a count is >= 0, got {count}")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if count == 0 else float(chi2.ppf(tail, 2 * count)) / 2.0
    return low, float(chi2.ppf(1.0 - tail, 2 * count + 2)) / 2.0


@dataclass(frozen=True)
class CurvePoint(Record):
    """One offered rate of the curve: its goodput count over its measured seconds."""

    offered_rps: float
    measured_s: float
    completed_ok: int
    """Successful responses completed inside the measured window (the goodput's count)."""
    generator_limited: bool = False

    @property
    def goodput_rps(self) -> float:
        return self.completed_ok / self.measured_s if self.measured_s > 0 else float("nan")

    def goodput_interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        low, high = poisson_interval(self.completed_ok, confidence)
        return low / self.measured_s, high / self.measured_s


@dataclass(frozen=True)
class CurveVerdict(Record):
    """The curve's verdict and the rates it rests on."""

    verdict: str
    """COLLAPSES, HOLDS, KEEPS_UP or INCONCLUSIVE."""
    reason: str
    peak_offered_rps: float | None = None
    """The offered rate at which goodput was highest (among the judged points)."""
    peak_goodput_rps: float | None = None
    collapse_offered_rps: float | None = None
    """COLLAPSES: the lowest offered rate whose goodput is significantly below the peak's."""
    collapse_goodput_rps: float | None = None
    unjudged_rps: list[float] = field(default_factory=list)
    """Offered rates left out of the verdict because the load generator limited them."""


def judge_curve(points: list[CurvePoint], confidence: float = CONFIDENCE) -> CurveVerdict:
    """The verdict of the module docstring for the points (any order)."""
    ordered = sorted(points, key=lambda p: p.offered_rps)
    unjudged = [p.offered_rps for p in ordered if p.generator_limited]
    judged = [p for p in ordered if not p.generator_limited and p.measured_s > 0]
    if len(judged) < 2:
        return CurveVerdict(INCONCLUSIVE, f"{len(judged)} rate(s) not limited by the load generator: "
                                          f"a curve needs at least two", unjudged_rps=unjudged)
    peak = max(judged, key=lambda p: p.goodput_rps)
    if peak.completed_ok == 0:
        return CurveVerdict(INCONCLUSIVE, "no successful response at any rate", unjudged_rps=unjudged)
    peak_low = peak.goodput_interval(confidence)[0]
    base = {"peak_offered_rps": peak.offered_rps, "peak_goodput_rps": peak.goodput_rps,
            "unjudged_rps": unjudged}
    for p in judged:
        if p.offered_rps <= peak.offered_rps:
            continue
        below = p.goodput_interval(confidence)[1] < peak_low
        if below and p.goodput_rps <= (1.0 - MIN_DROP) * peak.goodput_rps:
            drop = 1.0 - p.goodput_rps / peak.goodput_rps
            return CurveVerdict(
                COLLAPSES, f"goodput peaks at {peak.goodput_rps:.1f} req/s ({peak.offered_rps:.1f} offered) "
                           f"and falls to {p.goodput_rps:.1f} req/s at {p.offered_rps:.1f} offered "
                           f"(-{drop:.0%}; its {confidence:.0%} interval is wholly below the peak's)",
                collapse_offered_rps=p.offered_rps, collapse_goodput_rps=p.goodput_rps, **base)
    behind = [p for p in judged if p.goodput_interval(confidence)[1] < KEEP_UP * p.offered_rps]
    if not behind:
        top = judged[-1]
        return CurveVerdict(KEEPS_UP, f"goodput follows the offered rate up to {top.offered_rps:.1f} req/s "
                                      f"(never significantly below {KEEP_UP:.0%} of it)", **base)
    first = behind[0]
    return CurveVerdict(HOLDS, f"goodput levels off: from {first.offered_rps:.1f} req/s offered it is "
                               f"significantly below the offered rate, yet never significantly below the "
                               f"peak of {peak.goodput_rps:.1f} req/s by {MIN_DROP:.0%} or more", **base)
