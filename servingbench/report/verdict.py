"""The index's opening verdict, three sentences from the data: fastest at the SLO, cheapest, caveats.

It says no more than the ranking proves. "Fastest" and "cheapest" are said only when the leader is
called ahead (measure.comparison, on the runs' intervals from measure.capacity) of every other ranked
run; a tie is said as a tie, and a lead that is not proven is said to be unproven. Cost is judged on the
same intervals turned into dollars (cost is the price over the throughput at the SLO), lower is better.
Each sentence is a list of fragments, a run's label carrying its run id, so the page links it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from servingbench.measure import comparison as stat
from servingbench.report.comparison import Comparison
from servingbench.report.format import fmt
from servingbench.report.model import RunView

Fragment = tuple[str, str | None]
"""Text, and the run id it links to (None: plain text)."""


@dataclass(frozen=True)
class Sentence:
    key: str
    """"fastest", "cheapest" or "caveats"."""
    parts: list[Fragment]

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.parts)


def _say(key: str, *parts: str | Fragment) -> Sentence:
    return Sentence(key, [(p, None) if isinstance(p, str) else p for p in parts])


def _run(v: RunView) -> Fragment:
    return (v.label, v.run_id)


def _slo(v: RunView) -> str:
    return f"p99 ≤ {fmt(v.slo_p99_ms, 0)} ms"


def _tput(v: RunView) -> str:
    return f"{fmt(v.throughput_at_slo_rps)} req/s"


def _usd(v: RunView) -> str:
    return f"${fmt(v.usd_per_million, 2)}"


def _group(leader: RunView, others: list[RunView],
           judge: Callable[[RunView, RunView], str]) -> tuple[list[RunView], list[RunView]]:
    """The others the leader ties with, and those it is not proven ahead of ("ahead" is the leader's)."""
    calls = [(o, judge(leader, o)) for o in others]
    return [o for o, c in calls if c == "tied"], [o for o, c in calls if c not in ("ahead", "tied")]


def _list(views: list[RunView], figure: Callable[[RunView], str]) -> list[str | Fragment]:
    parts: list[str | Fragment] = []
    for i, v in enumerate(views):
        if i:
            parts.append(" and " if i == len(views) - 1 else ", ")
        parts += [_run(v), f" ({figure(v)})"]
    return parts


def _speed_call(a: RunView, b: RunView) -> str:
    """``a`` against ``b`` on throughput at the SLO, from a's side: ahead, tied or unproven."""
    if a.interval is None or b.interval is None:
        return "unproven"
    result = stat.compare(a.interval, b.interval, names=("a", "b"))
    return "ahead" if result.verdict == "ahead" and result.better == "a" else result.verdict


def fastest(ranked: list[RunView]) -> Sentence:
    """Sentence one: the fastest at the SLO, only when it is ahead of every other ranked run."""
    if not ranked:
        return _say("fastest", "No configuration is ranked yet: no complete run passed the parity gate.")
    lead, others = ranked[0], ranked[1:]
    if not lead.held:
        return _say("fastest", f"No configuration held a rate within the SLO ({_slo(lead)}) in every "
                               "confirmation, so none is fastest.")
    head = (_run(lead), f" holds {_tput(lead)} within the SLO ({_slo(lead)})")
    if not others:
        return _say("fastest", *head, ", the only ranked configuration: nothing to compare it with.")
    others = [o for o in others if o.held]  # below the leader by rule, not by measurement
    if not others:
        return _say("fastest", *head, ", the only ranked configuration that held a rate in every "
                                      "confirmation.")
    tied, unproven = _group(lead, others, _speed_call)
    if not tied and not unproven:
        return _say("fastest", _run(lead), f" is fastest at the SLO ({_slo(lead)}): {_tput(lead)}, ahead of "
                    "every other ranked configuration on their intervals (next: ", _run(others[0]),
                    f", {_tput(others[0])}).")
    if tied:
        return _say("fastest", *head, " and is tied with ", *_list(tied, _tput),
                    ": no configuration is called fastest.")
    return _say("fastest", *head, ", the highest figure, but its lead over ", *_list(unproven, _tput),
                " is unproven, so none is called fastest.")


def cost_interval(v: RunView) -> stat.RunInterval | None:
    """The run's throughput interval in $ per million requests (the price over the throughput)."""
    if v.interval is None or v.usd_per_million is None or not v.throughput_at_slo_rps:
        return None
    k = v.usd_per_million * v.throughput_at_slo_rps
    iv = v.interval
    low = k / iv.high if iv.high > 0 and not math.isinf(iv.high) else 0.0
    high = k / iv.low if iv.low > 0 else math.inf
    return stat.RunInterval(low=low, high=high, median=v.usd_per_million, repeats=iv.repeats)


def _cost_call(a: RunView, b: RunView) -> str:
    ia, ib = cost_interval(a), cost_interval(b)
    if ia is None or ib is None:
        return "unproven"
    result = stat.compare(ia, ib, names=("a", "b"), higher_is_better=False)
    return "ahead" if result.verdict == "ahead" and result.better == "a" else result.verdict


def cheapest(ranked: list[RunView]) -> Sentence:
    """Sentence two: the cheapest per million requests, judged like the fastest."""
    priced = sorted((v for v in ranked if v.held and v.usd_per_million is not None),
                    key=lambda v: v.usd_per_million or 0.0)
    if not priced:
        return _say("cheapest", "No ranked configuration has a cost figure (no price table in the runs, "
                                "or no rate held the SLO).")
    lead, others = priced[0], priced[1:]
    head = (_run(lead), f" costs {_usd(lead)} per million requests")
    if not others:
        return _say("cheapest", *head, ", the only configuration with a cost figure.")
    tied, unproven = _group(lead, others, _cost_call)
    if not tied and not unproven:
        return _say("cheapest", _run(lead), f" is cheapest: {_usd(lead)} per million requests, lower than "
                    "every other on its interval (next: ", _run(others[0]), f", {_usd(others[0])}).")
    if tied:
        return _say("cheapest", *head, ", tied with ", *_list(tied, _usd), ": none is called cheapest.")
    return _say("cheapest", *head, ", the lowest figure, but not proven lower than ", *_list(unproven, _usd),
                ".")


def _names(views: list[RunView]) -> str:
    return ", ".join(v.label for v in views)


def caveat_list(c: Comparison, ranked: list[RunView]) -> list[str]:
    """Each caveat that applies to these runs, in a fixed order."""
    out = []
    single = [v for v in ranked if v.interval is not None and v.interval.repeats < 2]
    if single:
        every = len(single) == len(ranked)
        out.append("every ranked run has a single repeat, so no difference is proven" if every
                   else f"{_names(single)} had a single repeat, so no difference with them is proven")
    if len(c.profiles) > 1:
        out.append(f"the runs used different profiles ({', '.join(c.profiles)})")
    if none := [v for v in ranked if not v.held]:
        out.append(f"{_names(none)} held no rate within the SLO")
    if limited := [v for v in c.latest if v.generator_limited]:
        out.append(f"the load generator limited steps of {_names(limited)}")
    if few := [v for v in ranked if v.fixed_load.too_few_for_p99]:
        out.append(f"the fixed-load p99 of {_names(few)} rests on too few samples")
    if other := [r.run for r in c.rows if r.other_setting and r.run]:
        out.append(f"{_names(other)} ran under another setting, not ranked with the others")
    if parity := [v for v in c.latest if v.complete and v.parity_passed is False]:
        out.append(f"{_names(parity)} failed the parity gate")
    if broken := [r for r in c.rows if r.run is None or r.failed_after]:
        n = len(broken)
        out.append(f"{n} configuration{'s' if n != 1 else ''} failed on the newest attempt")
    if stale := [v for v in ranked if v.price_age]:
        out.append(f"the prices of {_names(stale)} are older than 12 months")
    return out


def caveats(c: Comparison, ranked: list[RunView]) -> Sentence:
    found = caveat_list(c, ranked)
    if not found:
        return _say("caveats", "No caveat applies: every ranked run has repeats and held a rate, and no step "
                               "was generator-limited.")
    return _say("caveats", "Caveats: " + "; ".join(found) + ".")


def verdict(c: Comparison) -> list[Sentence]:
    """The three sentences at the top of the index."""
    ranked = [r.run for r in c.rows if r.rank and r.run is not None]
    return [fastest(ranked), cheapest(ranked), caveats(c, ranked)]


__all__ = ["Fragment", "Sentence", "caveat_list", "cheapest", "cost_interval", "fastest", "verdict"]
