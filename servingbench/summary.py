"""The headline figures of a run, computed from its recorded steps (and nothing else)."""

from __future__ import annotations

from servingbench.measure.confidence import min_samples_for
from servingbench.measure.cost import cost_per_million
from servingbench.measure.reference import Reference
from servingbench.record.run_record import ClosedStep, Overhead, RunRecord, Summary

OPEN_LOOP_SOURCE = "open-loop search"


def summarize_run(record: RunRecord) -> Summary | None:
    """Headline figures of a run: SLO throughput (open-loop search), fixed-load latency, peaks, cost.

    None for a run without closed-loop steps: there is nothing to summarise.
    """
    steps = record.steps
    if not steps or record.slo is None:
        return None
    best = max(steps, key=lambda s: s.latency.throughput_rps)
    lowest = min(steps, key=lambda s: s.users)
    fixed = record.fixed_load_step()
    search = record.slo_search
    every = record.all_steps
    mems = [s.resources.mem_peak_mib for s in every if s.resources.mem_peak_mib]
    throughput = search.throughput_rps if search else 0.0
    mem_peak = max(mems) if mems else None
    return Summary(
        throughput_at_slo_rps=throughput,
        throughput_at_slo_spread=search.spread_rps if search else None,
        slo_rate_rps=search.slo_rate_rps if search else None,
        slo_source=OPEN_LOOP_SOURCE,
        slo_p99_ms=record.slo.p99_ms,
        fixed_load_rps=fixed.rate_rps if fixed else None,
        p50_ms_at_fixed_load=fixed.latency.p50_ms if fixed else None,
        p99_ms_at_fixed_load=fixed.latency.p99_ms if fixed else None,
        fixed_load_meets_slo=fixed.meets_slo if fixed else None,
        p99_at_fixed_load_enough=fixed.latency.ok >= min_samples_for(0.99) if fixed else None,
        peak_throughput_rps=best.latency.throughput_rps,
        peak_at_users=best.users,
        p50_ms_at_1_user=lowest.latency.p50_ms,
        p99_ms_at_1_user=lowest.latency.p99_ms,
        cpu_ms_per_request_at_peak=best.resources.cpu_ms_per_request,
        cpu_ms_per_request_at_fixed_load=fixed.resources.cpu_ms_per_request if fixed else None,
        mem_peak_mib=mem_peak,
        any_generator_limited=any(s.generator_limited for s in every),
        unstable_steps=sum(1 for s in every if s.stability is not None and s.stability.stable is False),
        overhead=_overhead(lowest, throughput, record.reference),
        cost=cost_per_million(throughput, len(record.cpus.server), mem_peak / 1024,
                              record.price_family or None) if mem_peak and record.cpus else None,
    )


def _overhead(lowest: ClosedStep, throughput: float, reference: Reference | None) -> Overhead | None:
    """Serving overhead against the in-process reference, when the run measured one."""
    if reference is None:
        return None
    return Overhead(
        latency_ms_at_1_user=lowest.latency.p50_ms - reference.single_p50_ms,
        throughput_fraction=throughput / reference.sequential_rps,
        throughput_fraction_of_batched=throughput / reference.batched_sentences_per_s,
    )
