"""A bounded configuration search that earns each framework's ``tuned`` preset by measurement.

Candidates are the framework's defaults, then workers (or replicas) crossed with batching off and on at a
few batch sizes and delays;
each candidate the framework accepts is benchmarked with the short ``tune`` profile (start, parity
gate, SLO search) until the time budget is spent. The candidate with the highest throughput at the
SLO wins; the whole search table is kept in ``results/tuning/<id>/tuning.json`` and the winner is
written to ``frameworks/<name>/tuned.json``, which the ``tuned`` preset then uses, with its evidence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from servingbench.adapter import Adapter, Tunables
from servingbench.presets import TUNED_FILE
from servingbench.profiles import Profile
from servingbench.record import RunRecord
from servingbench.results import load_run
from servingbench.run import BenchConfig, run_bench

TABLE_COLUMNS = ("tunables", "status", "throughput_at_slo_rps", "p99_ms_at_fixed_load")
BATCH_CHOICES: tuple[tuple[int, float], ...] = ((16, 0.0), (8, 2.0), (16, 5.0), (32, 10.0))
"""(max batch size, max delay ms). A delay of 0 batches only what queued while the model ran; frameworks
that cannot express it refuse it in validate() and it is skipped."""

TUNE_PROFILE = Profile(
    "tune", "configuration search: one closed step to find the range, then the SLO search",
    warmup_s=3, users=(8,), step_warmup_s=2, step_s=5, windows=2, reference_s=0, fixed_rate_rps=20,
    open_warmup_s=2, open_s=5, slo_probes=4, probe_s=6, repeats=1, ceiling_s=0,
    slo_confidence=0.9, probe_max_s=18, probe_looks=2,  # a pass needs 299 clean requests: >= 17 req/s
)


def candidates(adapter: Adapter, cpus: int) -> list[Tunables]:
    """The framework's own defaults first, then every configuration of the grid it accepts.

    Each candidate is the default preset with the grid's knobs set (what ``make bench`` runs for those
    overrides), so a framework's extra knobs keep their defaults and equal configurations run once.
    """
    default = adapter.presets()["default"].tunables
    grid = [default]
    for workers in sorted({1, cpus, 2 * cpus}):
        grid.append(Tunables(workers=workers))
        grid += [Tunables(workers=workers, max_batch_size=b, max_batch_delay_ms=d) for b, d in BATCH_CHOICES]
    accepted, seen = [], set()
    for tunables in grid:
        effective = replace(default, **asdict(tunables))
        key = json.dumps(asdict(effective), sort_keys=True)
        if key in seen:
            continue
        try:
            adapter.validate(effective)
        except ValueError:
            continue
        seen.add(key)
        accepted.append(effective)
    return accepted


def tune(adapter: Adapter, base: BenchConfig, model_dir: Path, budget_s: float, out_root: Path,
         out: Callable[[str], None] = print) -> dict:
    """Run candidates until the budget is spent; returns the search table and the winner."""
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out_root / f"{stamp}-{adapter.name}"
    folder.mkdir(parents=True, exist_ok=True)
    table = []
    grid = candidates(adapter, len(base.server_cpus))
    for i, tunables in enumerate(grid, 1):
        spent = time.monotonic() - started
        if spent > budget_s:
            out(f"[tune {adapter.name}] budget of {budget_s / 60:.0f} min spent after {i - 1} candidates")
            break
        out(f"[tune {adapter.name}] candidate {i}/{len(grid)}: {tunables} "
            f"({(budget_s - spent) / 60:.1f} min of budget left)")
        config = replace(base, framework=adapter.name, preset="default", profile=TUNE_PROFILE,
                         overrides=asdict(tunables), results_root=folder)
        table.append(candidate_row(tunables, load_run(run_bench(config, model_dir, out))))
        if table[-1]["status"] == "interrupted":
            break
    done = [row for row in table if row["status"] == "complete"]
    best = max(done, key=lambda r: r["throughput_at_slo_rps"], default=None)
    result = {
        "framework": adapter.name,
        "date": stamp,
        "budget_s": budget_s,
        "elapsed_s": round(time.monotonic() - started, 1),
        "profile": TUNE_PROFILE.as_dict(),
        "slo_p99_ms": base.slo_p99_ms,
        "server_cpus": list(base.server_cpus),
        "candidates_total": len(grid),
        "default_tunables": asdict(adapter.presets()["default"].tunables),
        "table": table,
        "best": best,
    }
    (folder / "tuning.json").write_text(json.dumps(result, indent=2))
    return result


def candidate_row(tunables: Tunables, record: RunRecord | None) -> dict:
    """One line of the search table, from the candidate's run (None: no readable run)."""
    summary = record.summary if record else None
    return {
        "tunables": asdict(tunables),
        "status": record.status if record else "failed",
        "failure_reason": ((record.failure_reason if record else None) or "")[:500] or None,
        "throughput_at_slo_rps": summary.throughput_at_slo_rps if summary else 0.0,
        "p99_ms_at_fixed_load": summary.p99_ms_at_fixed_load if summary else None,
        "time_to_ready_s": record.time_to_ready_s if record else None,
        "run_id": record.run_id if record else None,
    }


def write_tuned_preset(adapter: Adapter, result: dict) -> Path | None:
    """Record the winner as the adapter's tuned preset (``frameworks/<name>/tuned.json``)."""
    best = result.get("best")
    if not best:
        return None
    default_tunables = result.get("default_tunables") or asdict(adapter.presets()["default"].tunables)
    default = next((r for r in result["table"] if r["tunables"] == default_tunables), None)
    path = adapter.folder / TUNED_FILE
    path.write_text(json.dumps({
        "tunables": best["tunables"],
        "throughput_at_slo_rps": best["throughput_at_slo_rps"],
        "default_throughput_at_slo_rps": default["throughput_at_slo_rps"] if default else None,
        "slo_p99_ms": result["slo_p99_ms"],
        "server_cpus": len(result["server_cpus"]),
        "searched": f"{len(result['table'])} of {result['candidates_total']} candidates",
        "date": result["date"],
        "profile": result.get("profile", {}).get("name"),
        "table": [{k: row.get(k) for k in TABLE_COLUMNS} for row in result["table"]],
    }, indent=2) + "\n")
    return path
