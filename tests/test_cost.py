import math

import pytest

from servingbench.measure.cost import cost_per_million, load_prices, matching_instance


def test_price_table_is_complete_and_dated():
    prices = load_prices()
    assert prices
    for p in prices:
        assert p.usd_per_hour > 0 and p.vcpus > 0 and p.memory_gib > 0
        assert p.date and p.source and p.region


def test_one_vcpu_is_half_of_the_smallest_two_vcpu_instance():
    cost = cost_per_million(100.0, vcpus=1, mem_peak_gib=0.5)
    price = matching_instance(1, 0.5)
    assert cost.instance == price.instance and price.vcpus == 2
    expected = price.usd_per_hour / 2 / (100.0 * 3600) * 1e6
    assert cost.usd_per_million == pytest.approx(expected)
    assert price.instance in cost.assumption and cost.price_date == price.date


def test_memory_can_force_a_bigger_instance():
    small = matching_instance(1, 0.5)
    big = matching_instance(1, small.memory_gib)  # half of the small one's memory is not enough
    assert big.vcpus > small.vcpus


def test_zero_throughput_has_no_cost_figure():
    assert math.isnan(cost_per_million(0.0, 1, 0.1).usd_per_million)


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="no instance of family"):
        matching_instance(1, 0.1, family="z99")
