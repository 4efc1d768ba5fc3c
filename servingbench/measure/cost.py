"""Dollars per million requests, from a dated, sourced price table kept in the repo (prices.csv).

Why the rule is what it is: a server needs both its vCPUs and its peak memory, and an instance is bought
whole. The server's share of an instance is therefore max(vCPU share, memory share): a 1-vCPU server that
needs 12 of a 16 GiB instance pays for 75% of it, not 50%. An instance *fits* when it has at least the
server's vCPUs and at least its peak memory; among the fitting instances of the chosen family (by default
of the compute-, general- and memory-optimised families c7i, m7i, r7i) the one whose share costs least is
priced. When none fits, the cost says so ("no instance in the table fits") and carries no figure: a
larger instance that does not hold the server is never priced as if it did. The assumption is returned as
text so that the report prints it beside the figure, with the price row's date and source URL; rows not
checked against a source are marked unverified in the table and on the page, and rows older than 12
months at the run's date are flagged.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from servingbench.record.serial import Record

PRICE_TABLE = Path(__file__).resolve().parent / "prices.csv"
DEFAULT_FAMILY: str | None = None
"""None: the cheapest fitting instance of the SEARCH_FAMILIES."""
SEARCH_FAMILIES = ("c7i", "m7i", "r7i")
"""Compute-, general- and memory-optimised x86 families searched by default (others only when named)."""
STALE_MONTHS = 12
NO_FIT = "no instance in the table fits"
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


@dataclass(frozen=True)
class Price(Record):
    instance: str
    vcpus: int
    memory_gib: float
    usd_per_hour: float
    region: str
    os: str
    date: str
    """YYYY-MM-DD or YYYY-MM: when the source quoted this price."""
    source: str
    source_url: str = ""
    """The page the figure was read from; empty for rows nobody could back with a page."""
    verified: bool = False
    """True only when the figure was read on ``source_url``."""

    @property
    def family(self) -> str:
        return self.instance.split(".", 1)[0]


def parse_price_date(text: str) -> date:
    """The first day a YYYY-MM or YYYY-MM-DD price date covers; ValueError for anything else."""
    match = _DATE.match(text.strip())
    if not match:
        raise ValueError(f"price date {text!r} is not YYYY-MM-DD or YYYY-MM")
    year, month, day = match.groups()
    return date(int(year), int(month), int(day or 1))


def load_prices(path: Path = PRICE_TABLE) -> list[Price]:
    """The price table; a row with a malformed date is an error, not a silently undated price."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    prices = []
    for r in rows:
        parse_price_date(r["date"])
        prices.append(Price(r["instance"], int(r["vcpus"]), float(r["memory_gib"]), float(r["usd_per_hour"]),
                            r["region"], r["os"], r["date"], r["source"], r.get("source_url") or "",
                            (r.get("verified") or "").strip().lower() == "yes"))
    return prices


def families(prices: list[Price]) -> list[str]:
    return sorted({p.family for p in prices})


def validate_family(family: str | None, prices: list[Price] | None = None) -> str | None:
    """``family`` if the table has it (None: all families); a ValueError listing the valid ones otherwise."""
    if family is None or family == "":
        return None
    valid = families(prices if prices is not None else load_prices())
    if family not in valid:
        raise ValueError(f"unknown price family {family!r}; valid families in {PRICE_TABLE.name}: "
                         f"{', '.join(valid)} (or none, for the cheapest fitting one)")
    return family


def server_share(price: Price, vcpus: int, mem_peak_gib: float) -> float:
    """The part of ``price``'s instance the server occupies: max(vCPU share, memory share), at most 1."""
    return min(1.0, max(vcpus / price.vcpus, mem_peak_gib / price.memory_gib))


def fits(price: Price, vcpus: int, mem_peak_gib: float) -> bool:
    return price.vcpus >= vcpus and price.memory_gib >= mem_peak_gib


def matching_instance(vcpus: int, mem_peak_gib: float, family: str | None = DEFAULT_FAMILY,
                      prices: list[Price] | None = None) -> Price | None:
    """The fitting instance (of ``family``, or of any) whose share costs least; None when none fits."""
    table = prices if prices is not None else load_prices()
    validate_family(family, table)
    wanted = {family} if family else set(SEARCH_FAMILIES)
    candidates = [p for p in table if p.family in wanted and fits(p, vcpus, mem_peak_gib)]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (p.usd_per_hour * server_share(p, vcpus, mem_peak_gib), p.vcpus))


@dataclass(frozen=True)
class Cost(Record):
    """A run's $ per million requests with the assumption, price and date behind it (printed beside it)."""

    instance: str
    usd_per_hour: float
    """The server's share of the instance's hourly price (NaN when no instance fits)."""
    usd_per_million: float
    """NaN when nothing met the SLO, or when no instance in the table fits the server."""
    assumption: str = ""
    price_source: str = ""
    price_date: str = ""
    price: Price | None = None
    share: float | None = None
    """max(vCPU share, memory share) of the instance; None in older runs."""
    family: str = ""
    """The family asked for (--price-family); empty: the cheapest fitting one of every family."""
    no_fit: str = ""
    """Why there is no figure although throughput was measured ("no instance in the table fits ...")."""


def _assumption(price: Price, vcpus: int, mem_peak_gib: float, share: float, throughput_rps: float) -> str:
    checked = "" if price.verified else "; this price row is UNVERIFIED (no source page found for it)"
    return (
        f"{vcpus} vCPU and {mem_peak_gib:.2f} GiB peak memory priced as {share:.0%} of one {price.instance} "
        f"({price.vcpus} vCPU, {price.memory_gib:g} GiB, ${price.usd_per_hour}/h on-demand {price.os}, "
        f"{price.region}): the share is max(vCPU share {vcpus / price.vcpus:.0%}, memory share "
        f"{mem_peak_gib / price.memory_gib:.0%}), fully busy at {throughput_rps:.1f} req/s{checked}"
    )


def cost_per_million(throughput_rps: float, vcpus: int, mem_peak_gib: float,
                     family: str | None = DEFAULT_FAMILY, prices: list[Price] | None = None) -> Cost:
    """$ per million requests at ``throughput_rps`` for a server using ``vcpus`` vCPUs and its peak memory."""
    table = prices if prices is not None else load_prices()
    price = matching_instance(vcpus, mem_peak_gib, family, table)
    if price is None:
        scope = f"family {family}" if family else "families " + ", ".join(SEARCH_FAMILIES)
        reason = f"{NO_FIT} {vcpus} vCPU and {mem_peak_gib:.2f} GiB peak memory ({scope})"
        return Cost(instance="", usd_per_hour=math.nan, usd_per_million=math.nan, assumption=reason,
                    family=family or "", no_fit=reason)
    share = server_share(price, vcpus, mem_peak_gib)
    usd_per_hour = price.usd_per_hour * share
    per_million = usd_per_hour / (throughput_rps * 3600) * 1e6 if throughput_rps > 0 else math.nan
    return Cost(
        instance=price.instance, usd_per_hour=usd_per_hour, usd_per_million=per_million,
        assumption=_assumption(price, vcpus, mem_peak_gib, share, throughput_rps),
        price_source=price.source_url or price.source, price_date=price.date, price=price,
        share=share, family=family or "",
    )


def price_age_note(price_date: str, run_date: date) -> str:
    """"price dated X, older than 12 months" when the price predates the run by more than a year, else ""."""
    try:
        quoted = parse_price_date(price_date)
    except ValueError:
        return f"price date {price_date or 'missing'}: undated"
    months = (run_date.year - quoted.year) * 12 + run_date.month - quoted.month
    if months > STALE_MONTHS or (months == STALE_MONTHS and run_date.day > quoted.day):
        return f"price dated {price_date}, older than {STALE_MONTHS} months"
    return ""
