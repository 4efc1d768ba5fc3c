"""Schema 1 run.json (the layout before the typed record) converted on read into schema 2.

Why convert rather than refuse: results/ is history. The nightly report judges each run against the median
of up to ten earlier ones, so refusing schema 1 would silence every regression check for ten nights and
drop every older run page from the published reports; and nothing has to be guessed, because schema 2
records the same things under the same names (steps stay flat mappings). The differences:

- a step gains ``name``, the stem of its samples file (closed_u4, slo_probe2, ...);
- the SLO search gains its confirmations, rebuilt from the open-loop steps by the rule the harness used
  (the "SLO repeat" steps, or without repeats the search's probes at the best rate); its repeat counts,
  median and spread were stored beside them and are now derived from them;
- a summary without ``slo_source`` predates the open-loop search: its SLO throughput came from the
  closed-loop steps and it says so; its ``slo_users`` has no place in schema 2 and is dropped;
- keys no harness wrote into a field of the record (top-level guesses such as ``cost``) are dropped.

Parts that are absent stay absent; nothing is invented. A part missing a field it always had makes the
run unreadable (SchemaError), like any broken run.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from servingbench.record.run_record import SCHEMA_VERSION, SLO_PROBE, SLO_REPEAT, RunRecord
from servingbench.record.serial import json_keys

CLOSED_LOOP_SOURCE = "closed-loop steps"
_SAMPLES_SUFFIX = ".samples.npy"


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-1 document as the schema-2 document RunRecord.from_dict reads."""
    out = {k: v for k, v in data.items() if k in json_keys(RunRecord)}
    out["schema_version"] = SCHEMA_VERSION
    out["steps"] = [_step(s) for s in _list(data.get("steps"))]
    out["open_steps"] = [_step(s) for s in _list(data.get("open_steps"))]
    if isinstance(data.get("slo_search"), Mapping):
        out["slo_search"] = _search(data["slo_search"], out["open_steps"])
    out["summary"] = _summary(data.get("summary"))
    return out


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _step(step: Any) -> dict[str, Any]:
    if not isinstance(step, Mapping):
        raise ValueError(f"a step is not a mapping: {step!r}")
    out = dict(step)
    if "name" not in out:
        out["name"] = PurePosixPath(str(out.get("samples_file", ""))).name.removesuffix(_SAMPLES_SUFFIX)
    return out


def _search(search: Mapping[str, Any], open_steps: list[dict]) -> dict[str, Any]:
    best = search.get("best_rate_rps") or 0.0
    repeats = [s for s in open_steps if s.get("purpose") == SLO_REPEAT]
    if not repeats and best > 0:
        repeats = [s for s in open_steps if s.get("purpose") == SLO_PROBE and s.get("rate_rps") == best]
    return {
        "best_rate_rps": best,
        "lowest_failing_rps": search.get("lowest_failing_rps"),
        "resolution": search.get("resolution", float("nan")),
        "probes": _list(search.get("probes")),
        "confirmations": [_probe(s) for s in repeats],
    }


def _probe(step: Mapping[str, Any]) -> dict[str, Any]:
    """A confirming step as the probe it was, with the verdict schema 1 recorded on the step (and counted)."""
    return {"rate_rps": step["rate_rps"], "p99_ms": step["p99_ms"], "error_rate": step["error_rate"],
            "achieved_rps": step["throughput_rps"], "passed": bool(step["meets_slo"]), "seed": step["seed"],
            "generator_limited": bool(step["generator_limited"])}


def _summary(summary: Any) -> dict[str, Any] | None:
    if not isinstance(summary, Mapping) or not summary:
        return None
    out = {k: v for k, v in summary.items() if k != "slo_users"}
    out.setdefault("slo_source", CLOSED_LOOP_SOURCE)
    return out
