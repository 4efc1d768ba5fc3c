import math
from datetime import date

import pytest

from servingbench.measure.cost import (
    NO_FIT,
    SEARCH_FAMILIES,
    Cost,
    Price,
    cost_per_million,
    load_prices,
    matching_instance,
    parse_price_date,
    price_age_note,
    server_share,
    validate_family,
)


def _row(instance: str, vcpus: int, mem: float, usd: float) -> Price:
    return Price(instance, vcpus, mem, usd, "test-region", "Linux", "2026-06", "synthetic test table",
                 "https://example.invalid/test", True)


# A synthetic table for the family logic: its figures are made up for the tests, never used for a run.
TABLE = [
    _row("c7i.large", 2, 4, 1.0), _row("c7i.xlarge", 4, 8, 2.0), _row("c7i.2xlarge", 8, 16, 4.0),
    _row("m7i.large", 2, 8, 1.2), _row("m7i.xlarge", 4, 16, 2.4),
    _row("r7i.large", 2, 16, 1.5), _row("r7i.xlarge", 4, 32, 3.0), _row("r7i.2xlarge", 8, 64, 6.0),
]


def test_price_table_is_complete_dated_and_says_what_is_verified():
    prices = load_prices()
    assert prices
    for p in prices:
        assert p.usd_per_hour > 0 and p.vcpus > 0 and p.memory_gib > 0
        assert p.source and p.region
        parse_price_date(p.date)  # YYYY-MM or YYYY-MM-DD
        assert p.verified == bool(p.source_url), p.instance  # a verified row names its page, and only it
        if not p.verified:
            assert "UNVERIFIED" in p.source


def test_price_dates_are_strict():
    assert parse_price_date("2026-06") == date(2026, 6, 1)
    assert parse_price_date("2026-06-17") == date(2026, 6, 17)
    for bad in ("2026", "June 2026", "2026/06", ""):
        with pytest.raises(ValueError):
            parse_price_date(bad)


def test_40_gib_on_1_vcpu_picks_a_memory_optimised_size():
    price = matching_instance(1, 40.0, prices=TABLE)
    assert price is not None and price.instance == "r7i.2xlarge"
    cost = cost_per_million(100.0, 1, 40.0, prices=TABLE)
    assert cost.share == pytest.approx(40 / 64)  # the memory share, not 1/8 of the vCPUs
    assert cost.usd_per_hour == pytest.approx(6.0 * 40 / 64)
    assert not cost.no_fit and "memory share" in cost.assumption


def test_40_gib_on_1_vcpu_says_none_fits_when_the_family_cannot_hold_it():
    cost = cost_per_million(100.0, 1, 40.0, family="c7i", prices=TABLE)
    assert cost.no_fit.startswith(NO_FIT) and cost.instance == "" and cost.price is None
    assert math.isnan(cost.usd_per_million) and math.isnan(cost.usd_per_hour)
    assert "fits" not in cost.assumption.replace(NO_FIT, "")  # never "fits" for something that does not
    assert matching_instance(1, 40.0, family="c7i", prices=TABLE) is None


def test_nothing_in_the_table_fits_is_said():
    cost = cost_per_million(100.0, 1, 500.0, prices=TABLE)
    assert cost.no_fit.startswith(NO_FIT) and math.isnan(cost.usd_per_million)
    assert Cost.from_dict(cost.to_dict()).no_fit == cost.no_fit


def test_the_memory_share_raises_the_price():
    light = cost_per_million(100.0, 1, 0.5, family="c7i", prices=TABLE)
    heavy = cost_per_million(100.0, 1, 3.5, family="c7i", prices=TABLE)
    assert light.instance == heavy.instance == "c7i.large"
    assert light.share == pytest.approx(0.5) and heavy.share == pytest.approx(3.5 / 4)
    assert heavy.usd_per_million > light.usd_per_million


def test_memory_can_force_a_bigger_instance_within_a_family():
    assert matching_instance(1, 4.5, family="c7i", prices=TABLE).instance == "c7i.xlarge"


def test_default_is_the_cheapest_fitting_share_across_families():
    # 1 vCPU, 6 GiB: c7i.xlarge share 0.75 of 2.0 = 1.5; m7i.large 0.75 of 1.2 = 0.9; r7i.large 0.5 of 1.5
    price = matching_instance(1, 6.0, prices=TABLE)
    assert price.instance == "r7i.large"
    assert server_share(price, 1, 6.0) == pytest.approx(0.5)
    assert set(SEARCH_FAMILIES) == {"c7i", "m7i", "r7i"}


def test_a_family_outside_the_search_is_only_priced_when_asked_for():
    table = [*TABLE, _row("x9z.large", 2, 64, 0.01)]
    assert matching_instance(1, 6.0, prices=table).instance == "r7i.large"
    assert matching_instance(1, 6.0, family="x9z", prices=table).instance == "x9z.large"


def test_unknown_family_is_a_clear_error_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown price family 'z99'.*c7i, m7i, r7i"):
        matching_instance(1, 0.1, family="z99", prices=TABLE)
    with pytest.raises(ValueError, match="valid families"):
        validate_family("c7x", TABLE)
    assert validate_family(None, TABLE) is None and validate_family("m7i", TABLE) == "m7i"


def test_zero_throughput_has_no_cost_figure():
    cost = cost_per_million(0.0, 1, 0.1, prices=TABLE)
    assert math.isnan(cost.usd_per_million) and not cost.no_fit


def test_stale_price_is_flagged():
    assert price_age_note("2024-01", date(2026, 12, 2)) == "price dated 2024-01, older than 12 months"
    assert price_age_note("2026-06-17", date(2026, 12, 2)) == ""
    assert price_age_note("2025-12-01", date(2026, 12, 2)) != ""  # 12 months and a day
    assert price_age_note("2025-12-02", date(2026, 12, 2)) == ""
    assert "undated" in price_age_note("", date(2026, 12, 2))


def test_the_repo_table_prices_a_small_server_and_marks_an_unverified_row():
    cost = cost_per_million(100.0, 1, 0.5)
    assert cost.price is not None and cost.price.family in SEARCH_FAMILIES
    if not cost.price.verified:
        assert "UNVERIFIED" in cost.assumption
