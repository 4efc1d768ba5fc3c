"""The report's view of a run: every run.json field the report reads, read here and nowhere else.

run.json grows as the measurement work lands (open-loop search, cost, overhead, repeats). Reading it in
one place keeps a renamed or missing field a one-line fix, and every accessor tolerates absence: an older
run shows a dash, never a crash. Nothing here invents a figure; fallbacks are other measured values,
labelled as what they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPLETE = "complete"
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


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _spread(value: Any) -> tuple[float, float] | None:
    items = _list(value)
    if len(items) != 2:
        return None
    lo, hi = _num(items[0]), _num(items[1])
    if lo is None or hi is None:
        return None
    return (min(lo, hi), max(lo, hi))


def _cpus(value: Any) -> str:
    return ",".join(str(c) for c in _list(value))


@dataclass(frozen=True)
class FixedLoad:
    """Latency at one fixed load: the open-loop rate when measured, else the lowest closed-loop step."""

    label: str
    p50_ms: float | None
    p99_ms: float | None
    step: dict | None = None


@dataclass
class RunView:
    """Headline figures and metadata of one run, as the report shows them."""

    raw: dict
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
    cost: dict
    overhead_latency_ms: float | None
    overhead_latency_note: str
    overhead_throughput_fraction: float | None
    parity_passed: bool | None
    tunables: dict
    repeats: int | None
    repeats_passed: int | None
    """How many of the SLO rate's repeats met the SLO themselves (the headline is their median)."""
    generator_limited: bool
    generator_ceiling: dict
    steps: list[dict] = field(default_factory=list)
    open_steps: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def comparable(self) -> bool:
        """Complete with a passed parity gate: the only runs that rank."""
        return self.complete and self.parity_passed is not False

    @property
    def key(self) -> tuple[str, str]:
        return (self.framework, self.preset)

    @property
    def label(self) -> str:
        return f"{self.framework} ({self.preset})"

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
            "p99_ms_at_fixed_load": self.fixed_load.p99_ms,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "mem_peak_mib": self.mem_peak_mib,
        }.get(name)

    def metric_spread(self, name: str) -> tuple[float, float] | None:
        """The run's own reported spread of a metric (from its repeats), when it has one."""
        return self.throughput_spread if name == "throughput_at_slo_rps" else None

    # --- metadata for methodology and the per-run page -------------------------------------------------
    @property
    def machine(self) -> dict:
        return _dict(self.raw.get("machine"))

    @property
    def machine_text(self) -> str:
        m = self.machine
        if not m:
            return "unknown"
        return (f"{m.get('cpu_model') or 'unknown CPU'}, {m.get('logical_cpus', '?')} logical CPUs, "
                f"{m.get('memory_gib', '?')} GiB RAM, {m.get('os', '?')}, Python {m.get('python', '?')}")

    @property
    def server_cpus(self) -> str:
        return _cpus(_dict(self.raw.get("cpus")).get("server"))

    @property
    def loadgen_cpus(self) -> str:
        return _cpus(_dict(self.raw.get("cpus")).get("loadgen"))

    @property
    def framework_version(self) -> str:
        return str(self.raw.get("framework_version") or "unknown")

    @property
    def runtime_text(self) -> str:
        """The model runtime inside the server's own environment (it may differ between frameworks)."""
        found = _dict(self.raw.get("server_versions"))
        parts = [f"{k} {found[k]}" for k in ("onnxruntime", "tokenizers", "numpy", "python") if found.get(k)]
        return ", ".join(parts)

    @property
    def library_versions(self) -> dict[str, str]:
        """Harness libraries (load generator, statistics) and the model build's libraries."""
        out = {k: str(v) for k, v in _dict(self.raw.get("harness_versions")).items() if v}
        model_versions = _dict(self.model_manifest.get("versions"))
        out.update({f"model build: {k}": str(v) for k, v in model_versions.items() if v})
        return out

    @property
    def model_manifest(self) -> dict:
        return _dict(_dict(self.raw.get("model")).get("manifest"))

    @property
    def model_text(self) -> str:
        m = self.model_manifest
        source = m.get("source") or "all-MiniLM-L6-v2 + sentiment head"
        key = m.get("model_key") and f"key {m['model_key']}"
        extra = ", ".join(str(x) for x in (m.get("dtype"), key) if x)
        return f"{source} (ONNX{', ' + extra if extra else ''})"

    @property
    def git_text(self) -> str:
        g = _dict(self.raw.get("git"))
        commit = g.get("commit") or "unknown"
        return f"{commit}{' (uncommitted changes)' if g.get('dirty') else ''}"

    @property
    def overrides(self) -> dict:
        """Knobs set on the command line beyond the preset, when bench.py records them."""
        return {k: v for k, v in _dict(self.raw.get("overrides")).items() if v is not None}

    @property
    def reproduce_command(self) -> str:
        """The make line that repeats this run's measurement on the same machine."""
        parts = [f"make bench FRAMEWORK={self.framework}", f"PRESET={self.preset}", f"PROFILE={self.profile}"]
        if self.slo_p99_ms is not None:
            parts.append(f"SLO={self.slo_p99_ms:g}")
        if self.server_cpus:
            parts.append(f"SERVER_CPUS={self.server_cpus}")
        if self.loadgen_cpus:
            parts.append(f"LOADGEN_CPUS={self.loadgen_cpus}")
        names = {"workers": "WORKERS", "threads_per_worker": "THREADS", "max_batch_size": "MAX_BATCH_SIZE",
                 "max_batch_delay_ms": "MAX_BATCH_DELAY_MS"}
        parts += [f"{names[k]}={v}" for k, v in self.overrides.items() if k in names]
        if self.raw.get("target"):
            parts.append(f"TARGET={self.raw['target']}")
        workers = self.raw.get("loadgen_workers")
        if isinstance(workers, int) and workers > 1:
            parts.append(f"LOADGEN_WORKERS={workers}")
        return " ".join(parts)

    @property
    def price_row(self) -> tuple[str, str, str, str]:
        """(instance and its list price, region and OS, source, date) of the price table entry used."""
        price = _dict(self.cost.get("price"))
        instance = str(price.get("instance") or self.cost.get("instance") or "?")
        if price:
            spec = (f"{instance}: {price.get('vcpus', '?')} vCPU, {price.get('memory_gib', '?')} GiB, "
                    f"${price.get('usd_per_hour', '?')}/h")
            where = f"on-demand {price.get('os', '')} {price.get('region', '')}".strip()
        else:
            spec, where = f"{instance}: ${self.cost.get('usd_per_hour', '?')}/h", ""
        return (spec, where, str(self.cost.get("price_source") or price.get("source") or "unknown"),
                str(self.cost.get("price_date") or price.get("date") or "undated"))

    @property
    def reference(self) -> dict:
        return _dict(self.raw.get("reference"))

    @property
    def parity(self) -> dict:
        return _dict(self.raw.get("parity"))

    @property
    def slo_search(self) -> dict:
        return _dict(self.raw.get("slo_search"))

    @property
    def slo_probes(self) -> list[dict]:
        return [p for p in _list(self.slo_search.get("probes")) if isinstance(p, dict)]

    @property
    def server_log_tail(self) -> str:
        tail = self.raw.get("server_log_tail")
        if isinstance(tail, str) and tail:
            return tail
        try:
            lines = (self.folder / "server" / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-40:])


FIXED_LOAD_PURPOSE = "fixed load"


def _fixed_load(summary: dict, steps: list[dict], open_steps: list[dict]) -> FixedLoad:
    rate = _num(summary.get("fixed_load_rps"))
    p50, p99 = _num(summary.get("p50_ms_at_fixed_load")), _num(summary.get("p99_ms_at_fixed_load"))
    if rate is not None and (p50 is not None or p99 is not None):
        step = next((s for s in open_steps if s.get("purpose") == FIXED_LOAD_PURPOSE), None) or next(
            (s for s in open_steps if _num(s.get("rate_rps")) == rate), None)
        return FixedLoad(f"{rate:g} req/s open loop", p50, p99, step)
    if steps:
        lowest = min(steps, key=lambda s: _num(s.get("users")) or math.inf)
        users = lowest.get("users")
        return FixedLoad(f"{users} user{'s' if users != 1 else ''} closed loop",
                         _num(lowest.get("p50_ms")), _num(lowest.get("p99_ms")), lowest)
    return FixedLoad("", None, None, None)


def _overhead(run: dict, summary: dict) -> tuple[float | None, str, float | None]:
    over = _dict(summary.get("overhead") or run.get("overhead"))
    latency = _num(over.get("latency_ms_at_1_user"))
    note = "p50 at 1 user minus the in-process single-request p50"
    if latency is None:
        p50_1 = _num(summary.get("p50_ms_at_1_user"))
        ref = _num(_dict(run.get("reference")).get("single_p50_ms"))
        latency = p50_1 - ref if p50_1 is not None and ref is not None else None
    return latency, note, _num(over.get("throughput_fraction"))


def run_view(run: dict) -> RunView:
    """Build the view of a run.json record (as returned by results.load_run)."""
    summary = _dict(run.get("summary"))
    steps = [s for s in _list(run.get("steps")) if isinstance(s, dict)]
    open_steps = [s for s in _list(run.get("open_steps")) if isinstance(s, dict)]
    cost = _dict(summary.get("cost") or run.get("cost"))
    parity = _dict(run.get("parity"))
    latency_over, over_note, tp_fraction = _overhead(run, summary)
    repeats = run.get("repeats", _dict(run.get("slo_search")).get("repeats"))
    cpu_fixed = _num(summary.get("cpu_ms_per_request_at_fixed_load"))
    cpu_ms, cpu_note = ((cpu_fixed, "at the fixed load") if cpu_fixed is not None else
                        (_num(summary.get("cpu_ms_per_request_at_peak")), "at peak throughput"))
    slo = _dict(run.get("slo"))
    memory_kind = next((str(s["memory_kind"]) for s in steps if s.get("memory_kind")), "")
    return RunView(
        raw=run,
        folder=Path(run.get("_folder") or "."),
        run_id=str(run.get("run_id") or Path(run.get("_folder") or "run").name),
        framework=str(run.get("framework") or "unknown"),
        display_name=str(run.get("display_name") or run.get("framework") or "unknown"),
        preset=str(run.get("preset") or "default"),
        profile=str(_dict(run.get("profile")).get("name") or "unknown"),
        status=str(run.get("status") or "unknown"),
        reason=str(run.get("failure_reason") or ""),
        started_at=str(run.get("started_at") or ""),
        slo_p99_ms=_num(slo.get("p99_ms")),
        throughput_at_slo_rps=_num(summary.get("throughput_at_slo_rps")),
        # a spread needs repeats: one measurement's [x, x] says nothing about noise
        throughput_spread=_spread(summary.get("throughput_at_slo_spread"))
        if not isinstance(repeats, int) or repeats > 1 else None,
        slo_source=str(summary.get("slo_source") or (CLOSED_SLO_SOURCE if summary else "")),
        peak_throughput_rps=_num(summary.get("peak_throughput_rps")),
        fixed_load=_fixed_load(summary, steps, open_steps),
        time_to_ready_s=_num(run.get("time_to_ready_s")),
        mem_peak_mib=_num(summary.get("mem_peak_mib")),
        memory_kind=memory_kind,
        cpu_ms_per_request=cpu_ms,
        cpu_ms_note=cpu_note,
        slo_rate_rps=_num(summary.get("slo_rate_rps")),
        unstable_steps=int(_num(summary.get("unstable_steps")) or 0),
        usd_per_million=_num(cost.get("usd_per_million")),
        cost=cost,
        overhead_latency_ms=latency_over,
        overhead_latency_note=over_note,
        overhead_throughput_fraction=tp_fraction,
        parity_passed=parity.get("passed") if isinstance(parity.get("passed"), bool) else None,
        tunables=_dict(run.get("tunables")),
        repeats=_int(repeats),
        repeats_passed=_int(_dict(run.get("slo_search")).get("repeats_passed")),
        generator_limited=bool(summary.get("any_generator_limited")),
        generator_ceiling=_dict(run.get("generator_ceiling")),
        steps=steps,
        open_steps=open_steps,
    )
