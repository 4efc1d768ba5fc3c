import os

import pytest

from servingbench.cpusets import format_cpus, parse_cpus, split_cpus

USABLE = sorted(os.sched_getaffinity(0))


def test_parse_ranges_and_lists():
    assert parse_cpus(f"{USABLE[0]}") == (USABLE[0],)
    assert parse_cpus(f"{USABLE[0]}-{USABLE[-1]}") == tuple(range(USABLE[0], USABLE[-1] + 1))


def test_unusable_cpu_is_refused():
    with pytest.raises(ValueError, match="not within the usable CPUs"):
        parse_cpus("4096")


@pytest.mark.skipif(len(USABLE) < 2, reason="needs two CPUs")
def test_default_split_is_disjoint_and_covers_all():
    server, loadgen = split_cpus()
    assert set(server).isdisjoint(loadgen)
    assert sorted(server + loadgen) == USABLE


@pytest.mark.skipif(len(USABLE) < 2, reason="needs two CPUs")
def test_overlap_is_refused():
    cpu = str(USABLE[0])
    with pytest.raises(ValueError, match="overlap"):
        split_cpus(cpu, cpu)


def test_format():
    assert format_cpus((3, 1)) == "1,3"
