"""Dollars per million requests, from a dated price table kept in the repo (prices.csv).

A server is priced by the CPU budget it was given: the smallest instance of the chosen family with at
least that many vCPUs and enough memory for the server's peak, pro rata to the vCPUs it used (a
one-vCPU server is half of a two-vCPU instance). The assumption is returned as text so that the
report prints it next to the figure; the table's date and source travel with it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from servingbench.serial import Record

PRICE_TABLE = Path(__file__).resolve().parent / "prices.csv"
DEFAULT_FAMILY = "c7i"


@dataclass(frozen=True)
class Price(Record):
    instance: str
    vcpus: int
    memory_gib: float
    usd_per_hour: float
    region: str
    os: str
    date: str
    source: str

    @property
    def family(self) -> str:
        return self.instance.split(".", 1)[0]


def load_prices(path: Path = PRICE_TABLE) -> list[Price]:
    with open(path, newline="") as fh:
        return [
            Price(r["instance"], int(r["vcpus"]), float(r["memory_gib"]), float(r["usd_per_hour"]),
                  r["region"], r["os"], r["date"], r["source"])
            for r in csv.DictReader(fh)
        ]


def matching_instance(vcpus: int, mem_peak_gib: float, family: str = DEFAULT_FAMILY,
                      prices: list[Price] | None = None) -> Price:
    """Smallest instance of ``family`` whose vCPUs and pro-rata memory cover the server."""
    candidates = sorted((p for p in prices or load_prices() if p.family == family), key=lambda p: p.vcpus)
    if not candidates:
        raise ValueError(f"no instance of family {family!r} in {PRICE_TABLE.name}")
    for price in candidates:
        if price.vcpus >= vcpus and price.memory_gib * min(1.0, vcpus / price.vcpus) >= mem_peak_gib:
            return price
    return candidates[-1]


@dataclass(frozen=True)
class Cost(Record):
    """A run's $ per million requests with the assumption, price and date behind it (printed beside it)."""

    instance: str
    usd_per_hour: float
    """The server's share of the instance's hourly price."""
    usd_per_million: float
    """NaN when nothing met the SLO: no throughput, no cost per request."""
    assumption: str = ""
    price_source: str = ""
    price_date: str = ""
    price: Price | None = None


def cost_per_million(throughput_rps: float, vcpus: int, mem_peak_gib: float,
                     family: str = DEFAULT_FAMILY) -> Cost:
    """$ per million requests at ``throughput_rps`` for a server using ``vcpus`` vCPUs."""
    price = matching_instance(vcpus, mem_peak_gib, family)
    share = min(1.0, vcpus / price.vcpus)
    usd_per_hour = price.usd_per_hour * share
    per_million = usd_per_hour / (throughput_rps * 3600) * 1e6 if throughput_rps > 0 else float("nan")
    return Cost(
        instance=price.instance,
        usd_per_hour=usd_per_hour,
        usd_per_million=per_million,
        assumption=(
            f"{vcpus} vCPU priced as {share:.0%} of one {price.instance} ({price.vcpus} vCPU, "
            f"{price.memory_gib:g} GiB, ${price.usd_per_hour}/h on-demand {price.os}, {price.region}), "
            f"fully busy at {throughput_rps:.1f} req/s; peak memory {mem_peak_gib:.2f} GiB fits"
        ),
        price_source=price.source,
        price_date=price.date,
        price=price,
    )
