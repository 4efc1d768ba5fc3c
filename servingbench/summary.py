"""The headline figures of a run, computed from its recorded steps (and nothing else)."""

from __future__ import annotations

from servingbench.measure.cost import cost_per_million


def summarize_run(record: dict) -> dict:
    """Headline figures of a run: SLO throughput (open-loop search), fixed-load latency, peaks, cost."""
    steps = record.get("steps") or []
    if not steps:
        return {}
    slo_p99 = record["slo"]["p99_ms"]
    best = max(steps, key=lambda s: s["throughput_rps"])
    lowest = min(steps, key=lambda s: s["users"])
    fixed = next((s for s in record.get("open_steps", []) if s.get("purpose") == "fixed load"), None)
    search_result = record.get("slo_search") or {}
    mems = [s["mem_peak_mib"] for s in steps + record.get("open_steps", []) if s.get("mem_peak_mib")]
    summary = {
        "throughput_at_slo_rps": search_result.get("throughput_rps", 0.0),
        "throughput_at_slo_spread": search_result.get("spread_rps"),
        "slo_rate_rps": search_result.get("best_rate_rps"),
        "slo_source": "open-loop search",
        "slo_p99_ms": slo_p99,
        "fixed_load_rps": fixed["rate_rps"] if fixed else None,
        "p50_ms_at_fixed_load": fixed["p50_ms"] if fixed else None,
        "p99_ms_at_fixed_load": fixed["p99_ms"] if fixed else None,
        "fixed_load_meets_slo": fixed["meets_slo"] if fixed else None,
        "peak_throughput_rps": best["throughput_rps"],
        "peak_at_users": best["users"],
        "p50_ms_at_1_user": lowest["p50_ms"],
        "p99_ms_at_1_user": lowest["p99_ms"],
        "cpu_ms_per_request_at_peak": best.get("cpu_ms_per_request"),
        "cpu_ms_per_request_at_fixed_load": fixed.get("cpu_ms_per_request") if fixed else None,
        "mem_peak_mib": max(mems) if mems else None,
        "any_generator_limited": any(s["generator_limited"] for s in steps + record.get("open_steps", [])),
        "unstable_steps": sum(1 for s in steps + record.get("open_steps", []) if s.get("stable") is False),
    }
    reference = record.get("reference") or {}
    if reference:
        summary["overhead"] = {
            "latency_ms_at_1_user": lowest["p50_ms"] - reference["single_p50_ms"],
            "throughput_fraction": summary["throughput_at_slo_rps"] / reference["sequential_rps"],
            "throughput_fraction_of_batched": summary["throughput_at_slo_rps"]
            / reference["batched_sentences_per_s"],
        }
    if summary["mem_peak_mib"]:
        summary["cost"] = cost_per_million(summary["throughput_at_slo_rps"], len(record["cpus"]["server"]),
                                           summary["mem_peak_mib"] / 1024)
    return summary
