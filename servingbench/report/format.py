"""Number formatting shared by the HTML pages and the markdown summary, so both show the same digits."""

from __future__ import annotations

import math


def fmt(value: object, digits: int = 1) -> str:
    """Thousands separators and fixed digits; a dash for anything missing or not finite."""
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    if isinstance(value, float | int):
        if isinstance(value, float) and not math.isfinite(value):
            return "–"
        return f"{value:,.{digits}f}"
    return str(value)


def fmt_spread(spread: tuple[float, float] | None, digits: int = 1) -> str:
    """``[min–max]`` across repeats, or an empty string when the run has no spread."""
    if not spread:
        return ""
    return f"[{fmt(spread[0], digits)}–{fmt(spread[1], digits)}]"


def fmt_pct(fraction: float | None, digits: int = 0) -> str:
    return "–" if fraction is None else f"{fraction * 100:.{digits}f}%"


def fmt_signed(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+,.{digits}f}"
