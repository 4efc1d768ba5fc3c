"""CPU sets for the server and the load generator, which must never share a CPU."""

from __future__ import annotations

import os


def parse_cpus(text: str) -> tuple[int, ...]:
    """'0-2,5' -> (0, 1, 2, 5), checked against the CPUs this process may use."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.update(range(int(lo), int(hi) + 1))
        else:
            cpus.add(int(part))
    usable = os.sched_getaffinity(0)
    if not cpus or not cpus <= usable:
        raise ValueError(f"CPU set {text!r} is not within the usable CPUs {format_cpus(tuple(usable))}")
    return tuple(sorted(cpus))


def format_cpus(cpus: tuple[int, ...]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def split_cpus(
    server: str | None = None, loadgen: str | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Default: the first half of the usable CPUs serve, the rest generate load."""
    usable = tuple(sorted(os.sched_getaffinity(0)))
    if len(usable) < 2 and not (server and loadgen):
        raise ValueError("servingbench needs at least 2 CPUs: one for the server, one for the load generator")
    half = max(1, len(usable) // 2)
    server_cpus = parse_cpus(server) if server else usable[:half]
    loadgen_cpus = parse_cpus(loadgen) if loadgen else tuple(c for c in usable if c not in server_cpus)
    if not loadgen_cpus:
        raise ValueError(f"no CPU left for the load generator (server uses {format_cpus(server_cpus)})")
    overlap = set(server_cpus) & set(loadgen_cpus)
    if overlap:
        raise ValueError(f"server and load generator CPU sets overlap on {format_cpus(tuple(overlap))}")
    return server_cpus, loadgen_cpus
