"""The Pareto front of the compared configurations: which ones no other beats on both axes at once.

A configuration is dominated when another is at least as good on every axis and strictly better on one;
the rest are the front, the only choices worth making on those two figures. The front is drawn from
the point estimates: whether one figure is proven better than another is the ranking's verdict
(ahead, tied, unproven), which the chart's caption points to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Sense = Literal["max", "min"]


@dataclass(frozen=True)
class Point:
    """One configuration on a chart: its label, the run it comes from, and its two figures."""

    label: str
    run_id: str
    x: float
    y: float


def dominates(a: Point, b: Point, senses: tuple[Sense, Sense]) -> bool:
    """``a`` is at least as good as ``b`` on both axes and strictly better on one."""
    pairs = ((a.x, b.x, senses[0]), (a.y, b.y, senses[1]))
    at_least = all((u >= v) if s == "max" else (u <= v) for u, v, s in pairs)
    strictly = any((u > v) if s == "max" else (u < v) for u, v, s in pairs)
    return at_least and strictly


def front(points: Sequence[Point], senses: tuple[Sense, Sense]) -> list[Point]:
    """The non-dominated points, in order of x (equal points are all on the front)."""
    kept = [p for p in points if not any(dominates(q, p, senses) for q in points if q is not p)]
    return sorted(kept, key=lambda p: (p.x, p.y))
