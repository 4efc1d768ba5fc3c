"""Is A ahead of B, tied with it, or is the difference unproven? From repeats and search brackets.

The interval of one run. Each repeat of the SLO search reports the highest rate that held, v, and brackets
that repeat's capacity between v and the lowest rate that failed, v / (1 - r) for a search resolution r.
A run's interval is the hull of its repeats' brackets, [min v_i, max v_i / (1 - r_i)]: the spread between
repeats, widened above by the search resolution (and open above when a repeat never failed). It is
distribution-free: [min v_i, max v_i] holds the median of what a repeat reports with probability
1 - 2^(1 - n) for n independent repeats (75% for 3, 94% for 5). Why not mean +- t * s / sqrt(n): three
repeats cannot show whether repeat noise is normal, s from three values is easily off by half, and with
2 degrees of freedom the 95% interval is +-2.5 s, too wide to separate servers 20% apart when repeats
scatter by 5%. The hull is also what the report already shows (the bracket and the spread), so a reader
can check a verdict by hand.

The verdicts.
- ahead: the intervals are disjoint. For two servers that are in truth the same (exchangeable repeats),
  all repeats of one lie below all repeats of the other with probability 1 / C(n_A + n_B, n_A) each way,
  and wider brackets only make disjoint hulls rarer, so a false "ahead" has probability at most
  2 / C(n_A + n_B, n_A) (the extreme outcome of a Mann-Whitney test): 10% for 3 vs 3 repeats, 0.8% for
  5 vs 5. Disjoint intervals count as ahead only while that bound is at most MAX_FALSE_AHEAD.
- tied: the intervals overlap, each run has at least two repeats, and no value in one interval is more
  than the margin away from any value in the other: max(high_B / low_A, high_A / low_B) <= 1 + margin.
  If both intervals hold their medians, the ratio of the two median figures lies within
  [1 / (1 + m), 1 + m]: an equivalence statement, not merely "no difference found".
- unproven: everything else; the intervals overlap but are too wide to call a tie, or too few repeats.

DEFAULT_MARGIN is what the standard profile can resolve (3 repeats, ~5% repeat noise, ~5% search
resolution): two identical servers are then tied in about nine comparisons of ten, and servers 20%
apart are ahead in about five of six (tests/test_comparison.py simulates both). A tie therefore means
"within 25% of each other", and the sentence says so.

More repeats make the verdicts stricter, not the intervals narrower: the hull of 5 repeats is wider than
that of 3, while its coverage rises to 94% and the false-ahead bound falls to 0.8%. With the full
profile's 5 repeats, servers 20% apart are ahead in about two comparisons of three, 30% apart in almost
all.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

DEFAULT_MARGIN = 0.25
"""Relative distance within which two runs' intervals count as practically equal."""
MAX_FALSE_AHEAD = 0.10
"""Disjoint intervals are "ahead" only if identical servers would show that in at most this share."""

Call = Literal["ahead", "tied", "unproven"]


@dataclass(frozen=True)
class RunInterval:
    """One run's figure from its repeats: median, and the interval of the module docstring."""

    low: float
    high: float
    """math.inf when a repeat's search never found a failing rate."""
    median: float
    repeats: int

    @property
    def coverage(self) -> float:
        """P([min, max] of the repeats holds the median a repeat reports): 1 - 2^(1 - n)."""
        return 1.0 - 2.0 ** (1 - self.repeats)

    def overlaps(self, other: RunInterval) -> bool:
        return self.low <= other.high and other.low <= self.high

    def describe(self, unit: str = "") -> str:
        high = "open" if math.isinf(self.high) else f"{self.high:.4g}"
        return f"[{self.low:.4g}, {high}]" + (f" {unit}" if unit else "")


def run_interval(values: Sequence[float], resolutions: Sequence[float] | float | None = None) -> RunInterval:
    """The interval of one run from its repeat values and, for SLO searches, each repeat's resolution.

    ``resolutions``: None for exact figures, one number for all repeats, or one per repeat; each is the
    relative gap (failed - held) / failed in [0, 1), or NaN when the search found no failing rate.
    """
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("a run needs at least one repeat value")
    if any(not math.isfinite(v) or v < 0 for v in vals):
        raise ValueError(f"repeat values must be finite and >= 0, got {vals}")
    if resolutions is None:
        res = [0.0] * len(vals)
    elif isinstance(resolutions, int | float):
        res = [float(resolutions)] * len(vals)
    else:
        res = [float(r) for r in resolutions]
        if len(res) != len(vals):
            raise ValueError(f"{len(res)} resolutions for {len(vals)} repeat values")
    if any(not (math.isnan(r) or 0.0 <= r < 1.0) for r in res):
        raise ValueError(f"resolutions must lie in [0, 1) or be NaN, got {res}")
    highs = [math.inf if math.isnan(r) else v / (1.0 - r) for v, r in zip(vals, res, strict=True)]
    return RunInterval(low=min(vals), high=max(highs), median=statistics.median(vals), repeats=len(vals))


def false_ahead_bound(repeats_a: int, repeats_b: int) -> float:
    """At most this share of comparisons of two identical servers have disjoint intervals."""
    return min(1.0, 2.0 / math.comb(repeats_a + repeats_b, repeats_a))


def _ratio(high: float, low: float) -> float:
    return math.inf if low <= 0 else high / low


def _share(x: float) -> str:
    """10%, 0.79%: two significant digits below 10%, whole percent above."""
    return f"{x * 100:.0f}%" if x >= 0.1 else f"{x * 100:.2g}%"


@dataclass(frozen=True)
class Comparison:
    """The verdict on two runs, with what it rests on; ``explain`` says it in one sentence."""

    a: RunInterval
    b: RunInterval
    verdict: Call
    better: str | None
    """The name of the run that is ahead; None unless ``verdict`` is "ahead"."""
    spread: float
    """The largest relative gap between a value in one interval and a value in the other."""
    false_ahead: float
    """false_ahead_bound for these repeat counts."""
    margin: float
    names: tuple[str, str] = ("A", "B")
    unit: str = ""
    higher_is_better: bool = True

    def explain(self) -> str:
        (na, nb), unit = self.names, self.unit
        ia, ib = self.a.describe(unit), self.b.describe(unit)
        counts = f"{self.a.repeats} and {self.b.repeats} repeats"
        if self.verdict == "ahead":
            ahead_a = self.better == na
            worse = nb if ahead_a else na
            mine, theirs = (ia, ib) if ahead_a else (ib, ia)
            side = "above" if (self.a.low > self.b.high) == ahead_a else "below"
            return (f"{self.better} is ahead of {worse}: its interval {mine} lies wholly {side} {theirs} "
                    f"({counts}; identical servers look this far apart in at most {_share(self.false_ahead)} "
                    f"of comparisons).")
        if self.verdict == "tied":
            return (f"{na} and {nb} are tied: their intervals {ia} and {ib} overlap and no value in one is "
                    f"more than {self.spread:.0%} from any value in the other (margin {self.margin:.0%}, "
                    f"{counts}).")
        if min(self.a.repeats, self.b.repeats) < 2 and self.a.overlaps(self.b):
            single = na if self.a.repeats < 2 else nb
            return (f"{na} vs {nb} is unproven: the intervals {ia} and {ib} overlap, and {single} has a "
                    f"single repeat, so its spread is unknown.")
        if not self.a.overlaps(self.b):
            return (f"{na} vs {nb} is unproven: the intervals {ia} and {ib} do not overlap, but with "
                    f"{counts} identical servers look this far apart in up to {_share(self.false_ahead)} of "
                    f"comparisons (more than {MAX_FALSE_AHEAD:.0%}); more repeats would settle it.")
        spread = "without bound" if math.isinf(self.spread) else f"up to {self.spread:.0%}"
        return (f"{na} vs {nb} is unproven: the intervals {ia} and {ib} overlap, but values in them lie "
                f"{spread} apart, more than the {self.margin:.0%} margin; more repeats or a finer search "
                f"would settle it.")


def compare(
    a: RunInterval,
    b: RunInterval,
    *,
    margin: float = DEFAULT_MARGIN,
    higher_is_better: bool = True,
    names: tuple[str, str] = ("A", "B"),
    unit: str = "",
) -> Comparison:
    """Ahead, tied or unproven, by the rules of the module docstring."""
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    if names[0] == names[1]:
        raise ValueError(f"the two runs need different names, got {names}")
    bound = false_ahead_bound(a.repeats, b.repeats)
    spread = max(_ratio(b.high, a.low), _ratio(a.high, b.low)) - 1.0
    better = None
    if not a.overlaps(b):
        call: Call = "ahead" if bound <= MAX_FALSE_AHEAD else "unproven"
        if call == "ahead":
            a_higher = a.low > b.high
            better = names[0] if a_higher == higher_is_better else names[1]
    elif min(a.repeats, b.repeats) >= 2 and spread <= margin:
        call = "tied"
    else:
        call = "unproven"
    return Comparison(a=a, b=b, verdict=call, better=better, spread=spread, false_ahead=bound, margin=margin,
                      names=names, unit=unit, higher_is_better=higher_is_better)
