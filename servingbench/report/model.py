"""The report's view of a run: the figures and metadata the report shows, read from its RunRecord.

The record is typed (servingbench.record.run_record) and older schemas arrive already converted, so this
module reads fields, not mappings. What stays here is the report's own judgement: a figure the run did not
measure shows as a dash (None), never a crash; a NaN shows as a dash too; and the few fallbacks are other
measured values, labelled as what they are (latency at one closed-loop user when there was no fixed-load
step, overhead from the reference when the summary has none). Nothing here invents a figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from servingbench.load.ceiling import Ceiling
from servingbench.load.failures import kinds_from_status_counts
from servingbench.measure.capacity import capacity_interval
from servingbench.measure.comparison import RunInterval
from servingbench.measure.cost import Cost, price_age_note
from servingbench.measure.parity import ParityResult
from servingbench.measure.reference import Reference
from servingbench.measure.slo_search import Probe
from servingbench.measure.variants import VariantEvaluation
from servingbench.record.run_record import Machine, RunRecord, SloSearch, Step, Summary
from servingbench.scenarios.records import ScenarioResults

COMPLETE = "complete"
TOO_FEW_SAMPLES = "too few samples"
"""Shown instead of a p99 with no bounded 95% interval; such a p99 is no regression metric either."""
CLOSED_SLO_SOURCE = "closed-loop steps"


def _num(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric, NaN or infinite values."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _spread(value: tuple[float, float] | None) -> tuple[float, float] | None:
    if value is None:
        return None
    lo, hi = _num(value[0]), _num(value[1])
    if lo is None or hi is None:
        return None
    return (min(lo, hi), max(lo, hi))


@dataclass(frozen=True)
class FixedLoad:
    """Latency at one fixed load: the open-loop rate when measured, else the lowest closed-loop step."""

    label: str
    p50_ms: float | None
    p99_ms: float | None
    step: dict | None = None
    p99_enough: bool | None = None
    """False when the fixed load had too few requests for a bounded interval of its p99 (None: unknown)."""

    @property
    def too_few_for_p99(self) -> bool:
        return self.p99_enough is False

    @property
    def p99_shown_ms(self) -> float | None:
        """The p99 the report shows and judges: none on too few samples ("too few samples" instead)."""
        return None if self.too_few_for_p99 else self.p99_ms


@dataclass
class RunView:
    """Headline figures and metadata of one run, as the report shows them."""

    record: RunRecord
    folder: Path
    run_id: str
    framework: str
    display_name: str
    preset: str
    profile: str
    status: str
    reason: str
    started_at: str
    slo_p99_ms: float | None
    throughput_at_slo_rps: float | None
    throughput_spread: tuple[float, float] | None
    slo_source: str
    peak_throughput_rps: float | None
    fixed_load: FixedLoad
    time_to_ready_s: float | None
    mem_peak_mib: float | None
    memory_kind: str
    cpu_ms_per_request: float | None
    cpu_ms_note: str
    slo_rate_rps: float | None
    """The offered arrival rate that passed the SLO search (throughput is what was achieved)."""
    unstable_steps: int
    usd_per_million: float | None
    cost: Cost | None
    overhead_latency_ms: float | None
    overhead_latency_note: str
    overhead_throughput_fraction: float | None
    parity_passed: bool | None
    tunables: dict
    repeats: int | None
    repeats_passed: int | None
    """How many of the SLO rate's repeats met the SLO themselves (the headline is their median)."""
    held: bool
    """A rate held the SLO in every confirmation; runs without one rank below every run with one."""
    interval: RunInterval | None
    """What comparisons rest on (measure.capacity); None when no rate held."""
    generator_limited: bool
    generator_ceiling: Ceiling | None
    resources_covers: str = ""
    """What the steps' server CPU and memory cover: "window" (the measured window), "run" (an older run:
    each step's whole Locust run) or "" (the server was not watched)."""
    steps: list[dict] = field(default_factory=list)
    """Closed-loop steps as run.json writes them (flat mappings), for the tables and plots."""
    open_steps: list[dict] = field(default_factory=list)
    transport: str = "rest"
    """The wire protocol of the load ("rest" or "grpc"): part of the setting, never ranked across."""
    none_held_why: str = ""
    """When no rate held: which rates failed, which stayed undecided, and whether the profile's floor
    ended the search (empty when a rate held, or for runs without a search)."""

    @cached_property
    def raw(self) -> dict:
        """The run as run.json holds it."""
        return self.record.to_dict()

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def comparable(self) -> bool:
        """Complete with a passed parity gate: the only runs that rank."""
        return self.complete and self.parity_passed is not False

    @property
    def measured_steady(self) -> bool:
        """The run measured the steady protocol (a headline to rank); a scenario-only run did not."""
        return not self.record.scenarios_run or "steady" in self.record.scenarios_run

    @property
    def comparable_scenario(self) -> bool:
        """Complete with a passed parity gate: its scenario results may stand beside others'."""
        return self.complete and self.parity_passed is not False

    @property
    def scenario_results(self) -> ScenarioResults:
        """The run's scenario results; an empty set when it ran none, so each scenario reads None."""
        return self.record.scenarios or ScenarioResults()

    @property
    def key(self) -> tuple[str, str, str]:
        """What one row of the comparison stands for: framework, preset and model variant."""
        return (self.framework, self.preset, self.variant)

    @property
    def label(self) -> str:
        extra = ", gRPC" if self.transport == "grpc" else ""
        extra += f", {self.variant}" if self.variant != "fp32" else ""
        return f"{self.framework} ({self.preset}{extra})"

    @property
    def variant(self) -> str:
        """The model variant served (fp32 for runs written before variants existed)."""
        return self.record.model.variant if self.record.model else "fp32"

    @property
    def evaluation(self) -> VariantEvaluation | None:
        return self.record.model.evaluation if self.record.model else None

    @property
    def sort_time(self) -> str:
        """ISO start time then run id: run ids start with a UTC timestamp, so both sort by time."""
        return f"{self.started_at}|{self.run_id}"

    @property
    def tunables_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.tunables.items())

    def metric(self, name: str) -> float | None:
        """A history metric by name (see history.METRICS)."""
        return {
            "throughput_at_slo_rps": self.throughput_at_slo_rps,
            # a p99 on too few samples is not tracked (a regression on it would be the count's noise)
            "p99_ms_at_fixed_load": self.fixed_load.p99_shown_ms,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "mem_peak_mib": self.mem_peak_mib,
        }.get(name)

    def metric_withheld(self, name: str) -> str:
        """Why a history metric has no value although the run measured one ("" when it has one)."""
        return TOO_FEW_SAMPLES if name == "p99_ms_at_fixed_load" and self.fixed_load.too_few_for_p99 else ""

    def metric_spread(self, name: str) -> tuple[float, float] | None:
        """The run's own reported spread of a metric (from its repeats), when it has one."""
        return self.throughput_spread if name == "throughput_at_slo_rps" else None

    # --- metadata for methodology and the per-run page -------------------------------------------------
    @property
    def machine(self) -> Machine | None:
        return self.record.machine

    @property
    def machine_text(self) -> str:
        m = self.machine
        if m is None:
            return "unknown"
        return (f"{m.cpu_model or 'unknown CPU'}, {_or(m.logical_cpus)} logical CPUs, "
                f"{_or(m.memory_gib)} GiB RAM, {m.os or '?'}, Python {m.python or '?'}")

    @property
    def setting(self) -> str:
        """What must be equal for two runs to be ranked or tracked together: machine, SLO, profile, CPUs,
        the wire protocol (REST and gRPC meet only in report/protocols.py's table) and the model variant
        (int8 and fp32 meet only in report/variants.py's)."""
        return self.base_setting + ("; protocol gRPC" if self.transport == "grpc" else "")

    @property
    def base_setting(self) -> str:
        """The setting without the wire protocol: what a REST and a gRPC run must share to be paired."""
        return self.machine_setting + (f"; model {self.variant}" if self.variant != "fp32" else "")

    @property
    def variant_setting(self) -> str:
        """The setting without the model variant: what an fp32 and an int8 run must share to be paired."""
        return self.machine_setting + ("; protocol gRPC" if self.transport == "grpc" else "")

    @property
    def machine_setting(self) -> str:
        """Machine, SLO, profile and CPU sets."""
        m = self.machine
        machine = f"{m.cpu_model or '?'} x{m.logical_cpus}, {m.memory_gib:g} GiB" if m else "unknown machine"
        slo = f"{self.slo_p99_ms:g}" if self.slo_p99_ms is not None else "?"
        return (f"{machine}; SLO {slo} ms; profile {self.profile}; server CPUs {self.server_cpus or '-'}; "
                f"load CPUs {self.loadgen_cpus or '-'}")

    @property
    def server_cpus(self) -> str:
        return ",".join(str(c) for c in self.record.cpus.server) if self.record.cpus else ""

    @property
    def loadgen_cpus(self) -> str:
        return ",".join(str(c) for c in self.record.cpus.loadgen) if self.record.cpus else ""

    @property
    def framework_version(self) -> str:
        return self.record.framework_version or "unknown"

    @property
    def runtime_text(self) -> str:
        """The model runtime inside the server's own environment (it may differ between frameworks)."""
        found = self.record.server_versions
        parts = [f"{k} {found[k]}" for k in ("onnxruntime", "tokenizers", "numpy", "python") if found.get(k)]
        return ", ".join(parts)

    @property
    def library_versions(self) -> dict[str, str]:
        """Harness libraries (load generator, statistics) and the model build's libraries."""
        out = {k: str(v) for k, v in self.record.harness_versions.items() if v}
        model_versions = self.model_manifest.get("versions")
        if isinstance(model_versions, dict):
            out.update({f"model build: {k}": str(v) for k, v in model_versions.items() if v})
        return out

    @property
    def model_manifest(self) -> dict:
        return self.record.model.manifest if self.record.model else {}

    @property
    def model_text(self) -> str:
        m = self.model_manifest
        source = m.get("source") or "all-MiniLM-L6-v2 + sentiment head"
        key = m.get("model_key") and f"key {m['model_key']}"
        extra = ", ".join(str(x) for x in (m.get("dtype"), key) if x)
        return f"{source} (ONNX{', ' + extra if extra else ''})"

    @property
    def git_text(self) -> str:
        g = self.record.git
        commit = (g.commit if g else None) or "unknown"
        return f"{commit}{' (uncommitted changes)' if g and g.dirty else ''}"

    @property
    def overrides(self) -> dict:
        """Knobs set on the command line beyond the preset."""
        return {k: v for k, v in self.record.overrides.items() if v is not None}

    @property
    def reproduce_command(self) -> str:
        """The make line that repeats this run's measurement on the same machine."""
        parts = [f"make bench FRAMEWORK={self.framework}", f"PRESET={self.preset}", f"PROFILE={self.profile}"]
        if self.transport != "rest":
            parts.append(f"PROTOCOL={self.transport}")
        if self.slo_p99_ms is not None:
            parts.append(f"SLO={self.slo_p99_ms:g}")
        if self.server_cpus:
            parts.append(f"SERVER_CPUS={self.server_cpus}")
        if self.loadgen_cpus:
            parts.append(f"LOADGEN_CPUS={self.loadgen_cpus}")
        names = {"workers": "WORKERS", "threads_per_worker": "THREADS", "max_batch_size": "MAX_BATCH_SIZE",
                 "max_batch_delay_ms": "MAX_BATCH_DELAY_MS"}
        parts += [f"{names[k]}={v}" for k, v in self.overrides.items() if k in names]
        if self.record.target:
            parts.append(f"TARGET={self.record.target}")
        if self.record.loadgen_workers > 1:
            parts.append(f"LOADGEN_WORKERS={self.record.loadgen_workers}")
        if self.variant != "fp32":
            parts.append(f"MODEL_VARIANT={self.variant}")
        return " ".join(parts)

    @property
    def price_age(self) -> str:
        """"price dated X, older than 12 months" against the run's own date (old runs are judged too)."""
        cost = self.cost
        if cost is None or cost.no_fit:
            return ""
        try:
            run_date = date.fromisoformat(self.started_at[:10])
        except ValueError:
            run_date = date.today()
        return price_age_note(cost.price_date or (cost.price.date if cost.price else ""), run_date)

    @property
    def price_unverified(self) -> bool:
        """The priced row carries no source page (older runs' rows have none: they count as unverified)."""
        cost = self.cost
        return bool(cost and not cost.no_fit and not (cost.price and cost.price.verified))

    @property
    def price_row(self) -> tuple[str, str, str, str]:
        """(instance and its list price, region and OS, source, date) of the price table entry used."""
        cost = self.cost
        if cost is None:
            return ("?", "", "unknown", "undated")
        price = cost.price
        if price is not None:
            spec = (f"{price.instance}: {price.vcpus} vCPU, {price.memory_gib} GiB, "
                    f"${price.usd_per_hour}/h")
            where = f"on-demand {price.os} {price.region}".strip()
        else:
            spec, where = f"{cost.instance or '?'}: ${cost.usd_per_hour}/h", ""
        return (spec, where, cost.price_source or (price.source if price else "") or "unknown",
                cost.price_date or (price.date if price else "") or "undated")

    @property
    def reference(self) -> Reference | None:
        return self.record.reference

    @property
    def parity(self) -> ParityResult | None:
        return self.record.parity

    @property
    def slo_search(self) -> SloSearch | None:
        return self.record.slo_search

    @property
    def slo_probes(self) -> list[Probe]:
        return list(self.slo_search.probes) if self.slo_search else []

    @property
    def slo_probe_rows(self) -> list[tuple[str, Probe]]:
        """The SLO table's rows: the search probes, then every confirmation, each with what it was."""
        if not self.slo_search:
            return []
        return ([(f"search {i}", p) for i, p in enumerate(self.slo_search.probes, 1)]
                + [(f"confirmation {i}", c) for i, c in enumerate(self.slo_search.confirmations, 1)])

    @property
    def server_log_tail(self) -> str:
        if self.record.server_log_tail:
            return self.record.server_log_tail
        try:
            lines = (self.folder / "server" / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-40:])


def _or(value: object) -> str:
    return "?" if value is None else str(value)


def _fixed_load(summary: Summary | None, record: RunRecord) -> FixedLoad:
    """The open-loop fixed load when it was measured, else the lowest closed-loop step, labelled as such."""
    rate = _num(summary.fixed_load_rps) if summary else None
    p50 = _num(summary.p50_ms_at_fixed_load) if summary else None
    p99 = _num(summary.p99_ms_at_fixed_load) if summary else None
    if rate is not None and (p50 is not None or p99 is not None):
        step = record.fixed_load_step() or next((s for s in record.open_steps if s.rate_rps == rate), None)
        return FixedLoad(f"{rate:g} req/s open loop", p50, p99, step.to_dict() if step else None,
                         summary.p99_at_fixed_load_enough if summary else None)
    if record.steps:
        lowest = min(record.steps, key=lambda s: s.users)
        users = lowest.users
        return FixedLoad(f"{users} user{'s' if users != 1 else ''} closed loop",
                         _num(lowest.latency.p50_ms), _num(lowest.latency.p99_ms), lowest.to_dict())
    return FixedLoad("", None, None, None)


def _overhead(record: RunRecord, summary: Summary | None) -> tuple[float | None, str, float | None]:
    over = summary.overhead if summary else None
    latency = _num(over.latency_ms_at_1_user) if over else None
    note = "p50 at 1 user minus the in-process single-request p50"
    if latency is None:
        p50_1 = _num(summary.p50_ms_at_1_user) if summary else None
        ref = _num(record.reference.single_p50_ms) if record.reference else None
        latency = p50_1 - ref if p50_1 is not None and ref is not None else None
    return latency, note, _num(over.throughput_fraction) if over else None


def _cpu_ms(summary: Summary | None) -> tuple[float | None, str]:
    fixed = _num(summary.cpu_ms_per_request_at_fixed_load) if summary else None
    if fixed is not None:
        return fixed, "at the fixed load"
    return (_num(summary.cpu_ms_per_request_at_peak) if summary else None), "at peak throughput"


def _resources_covers(record: RunRecord) -> str:
    every = [*record.steps, *record.open_steps]
    watched = [s.resources for s in every if s.resources.server_cpu_s is not None]
    if not watched:
        return ""
    return "window" if all(r.resources_start is not None for r in watched) else "run"


def _held(record: RunRecord, throughput: float | None) -> tuple[bool, RunInterval | None]:
    """Whether a rate held, and the run's interval; runs without a search (closed-loop era) have their
    headline alone: one value, one repeat, so nothing is proven against them."""
    search = record.slo_search
    if search is not None:
        return search.held, capacity_interval(record)
    if throughput is None or throughput <= 0:
        return False, None
    return True, RunInterval(low=throughput, high=throughput, median=throughput, repeats=1)


def none_held_why(search: SloSearch | None) -> str:
    """Why no rate held, in words: a search that ran out of provable rates is not one whose every rate
    failed, and the page must not read as if it were."""
    if search is None or search.held:
        return ""
    found = search.outcomes
    parts = [f"{_rates(found['fail'])} req/s failed"] if found["fail"] else []
    if found["pass"]:
        parts.append(f"{_rates(found['pass'])} req/s passed a probe (a rate holds only when every "
                     "confirmation at it passes)")
    if found["undecided"]:
        parts.append(f"{_rates(found['undecided'])} req/s undecided (too few requests within the probe's "
                     "time bound to prove or refute the SLO)")
    floor = search.provable_floor_rps
    if search.stopped_at_floor and floor:
        parts.append(f"the search stopped at this profile's floor: below {floor:.1f} req/s its probes "
                     "cannot pass however fast the server answers; a longer profile decides lower rates")
    return "; ".join(parts)


def _rates(rates: list[float]) -> str:
    return ", ".join(f"{r:g}" for r in sorted(rates, reverse=True))


def step_row(step: Step) -> dict:
    """A step as run.json writes it, with its failures by kind: runs written before kinds were stored
    have them read from their status counts (0 and -1 there keep their old, coarser meanings)."""
    row = step.to_dict()
    if not row.get("failure_kinds"):
        row["failure_kinds"] = kinds_from_status_counts(step.status_counts)
    return row


def run_view(record: RunRecord) -> RunView:
    """Build the view of a run (as results.load_run returns it)."""
    summary = record.summary
    search = record.slo_search
    repeats = search.repeats if search else None
    latency_over, over_note, tp_fraction = _overhead(record, summary)
    cpu_ms, cpu_note = _cpu_ms(summary)
    folder = record.folder or Path(".")
    throughput = _num(summary.throughput_at_slo_rps) if summary else None
    held, interval = _held(record, throughput)
    return RunView(
        record=record,
        folder=folder,
        run_id=record.run_id or folder.name or "run",
        framework=record.framework or "unknown",
        transport=record.transport or "rest",
        display_name=record.display_name or record.framework or "unknown",
        preset=record.preset or "default",
        profile=str(record.profile.get("name") or "unknown"),
        status=record.status or "unknown",
        reason=record.failure_reason or "",
        started_at=record.started_at,
        slo_p99_ms=_num(record.slo.p99_ms) if record.slo else None,
        throughput_at_slo_rps=throughput,
        # a spread needs repeats: one measurement's [x, x] says nothing about noise
        throughput_spread=_spread(summary.throughput_at_slo_spread)
        if summary and (repeats is None or repeats > 1) else None,
        slo_source=(summary.slo_source or CLOSED_SLO_SOURCE) if summary else "",
        peak_throughput_rps=_num(summary.peak_throughput_rps) if summary else None,
        fixed_load=_fixed_load(summary, record),
        time_to_ready_s=_num(record.time_to_ready_s),
        mem_peak_mib=_num(summary.mem_peak_mib) if summary else None,
        memory_kind=next((s.resources.memory_kind for s in record.steps if s.resources.memory_kind), ""),
        cpu_ms_per_request=cpu_ms,
        cpu_ms_note=cpu_note,
        slo_rate_rps=_num(summary.slo_rate_rps) if summary else None,
        unstable_steps=summary.unstable_steps if summary else 0,
        usd_per_million=_num(summary.cost.usd_per_million) if summary and summary.cost else None,
        cost=summary.cost if summary else None,
        overhead_latency_ms=latency_over,
        overhead_latency_note=over_note,
        overhead_throughput_fraction=tp_fraction,
        parity_passed=record.parity.passed if record.parity else None,
        tunables=record.tunables,
        repeats=repeats,
        repeats_passed=search.repeats_passed if search else None,
        held=held,
        interval=interval,
        generator_limited=bool(summary and summary.any_generator_limited),
        generator_ceiling=record.generator_ceiling,
        resources_covers=_resources_covers(record),
        steps=[step_row(s) for s in record.steps],
        open_steps=[step_row(s) for s in record.open_steps],
        none_held_why=none_held_why(search) if not held else "",
    )
