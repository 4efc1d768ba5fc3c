"""Small run folders for the report tests, written the way record/results.py publishes them.

Only test data: the figures are chosen by the tests, so each assertion knows exactly what a page must show.
Runs are schema 2 (the typed record) unless a test asks for ``schema=1``: the closed-loop-era layout of
schema 1 that older results/ folders hold, which the reader converts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from servingbench.measure.parity import ParityResult
from servingbench.measure.reference import Reference
from servingbench.measure.slo_search import Probe
from servingbench.measure.stats import LatencySummary
from servingbench.record.run_record import (
    ClosedStep,
    CpuSets,
    GitInfo,
    Machine,
    ModelInfo,
    Resources,
    RunRecord,
    Slo,
    SloSearch,
    Summary,
)


def step(users: int, rps: float, p50: float, p99: float, *, t0: float = 1000.0, cpu_ms: float = 5.0,
         mem: float = 150.0, slo_ms: float = 100.0) -> ClosedStep:
    n = int(rps * 5)
    return ClosedStep(
        name=f"closed_u{users}", users=users, window_start=t0, window_end=t0 + 5.0, window_covered_s=5.0,
        request_budget_spent=False, samples_file=f"load/closed_u{users}.samples.npy",
        latency=LatencySummary(requests=n, ok=n, errors=0, error_rate=0.0, throughput_rps=rps, mean_ms=p50,
                               p50_ms=p50, p90_ms=(p50 + p99) / 2, p99_ms=p99, p999_ms=p99, max_ms=p99,
                               duration_s=5),
        status_counts={"200": n},
        resources=Resources(generator_cpu_util=0.2, server_cpu_s=1.0, server_cpu_util=0.5,
                            cpu_ms_per_request=cpu_ms, mem_peak_mib=mem, mem_mean_mib=mem, memory_kind="PSS",
                            processes=1, monitor_cpu_util=0.01, resources_start=t0, resources_end=t0 + 5.0),
        generator_limited=False, meets_slo=p99 <= slo_ms,
    )


def searched(achieved: list[float], passed: int | None = None, rate: float = 60.0) -> dict:
    """An SLO search as run.json holds it: one confirmation per ``achieved``, ``passed`` within the SLO."""
    passed = len(achieved) if passed is None else passed
    confirmations = [Probe(rate, 50.0 if i < passed else 150.0, 0.0, a, i < passed, 6000 + i)
                     for i, a in enumerate(achieved)]
    return SloSearch(rate, rate * 1.2, 0.2, [Probe(rate, 50.0, 0.0, achieved[0], True, 6000)],
                     confirmations).to_dict()


def held_search(achieved: list[float], rate: float, failing: float | None = None) -> dict:
    """A search that held ``rate`` in every confirmation (goodput ``achieved``) and failed at ``failing``
    (5% above by default; None: never failed), as run.json holds it. No steps: verdicts count as recorded."""
    failing = rate * 1.05 if failing is None else failing
    probes = [Probe(rate, 50.0, 0.0, achieved[0], True, 7000)]
    if failing:
        probes.append(Probe(failing, 150.0, 0.0, failing * 0.9, False, 7001))
    confirmations = [Probe(rate, 50.0, 0.0, a, True, 7002 + i) for i, a in enumerate(achieved)]
    resolution = (failing - rate) / failing if failing else float("nan")
    return SloSearch(rate, failing or None, resolution, probes, confirmations, held_rate_rps=rate).to_dict()


def none_held(rate: float = 50.0) -> dict:
    """A search whose every confirmation failed: no rate held."""
    failed = Probe(rate, 150.0, 0.0, rate * 0.8, False, 7100)
    return SloSearch(rate, rate, 0.0, [Probe(rate, 60.0, 0.0, rate, True, 7099)], [failed],
                     held_rate_rps=0.0).to_dict()


def _record(run_id: str, framework: str, preset: str, started: str, status: str, reason: str | None,
            profile: str) -> RunRecord:
    return RunRecord(
        run_id=run_id, framework=framework, preset=preset, display_name=framework.capitalize(),
        started_at=started, finished_at=started, status=status, failure_reason=reason,
        git=GitInfo(commit="a" * 40, dirty=False),
        machine=Machine(cpu_model="Test CPU", logical_cpus=2, memory_gib=8.0, os="Linux-test",
                        python="3.11.7"),
        tunables={"workers": 1, "threads_per_worker": 1, "max_batch_size": 1, "max_batch_delay_ms": 0.0},
        profile={"name": profile, "description": "test", "warmup_s": 3, "users": [1, 4], "step_warmup_s": 2,
                 "step_s": 5, "reference_s": 4, "max_requests_per_step": 1000},
        slo=Slo(p99_ms=100.0, max_error_rate=0.001),
        cpus=CpuSets(server=[0], loadgen=[1]),
        harness_versions={"locust": "2.47.0", "numpy": "2.4.6"},
        model=ModelInfo(dir="/models/x", manifest={"source": "test model", "model_key": "abc"}),
        framework_version="1.2.3",
    )


def _measured(record: RunRecord, steps: list[ClosedStep], tput: float, p99_1: float, cpu_ms: float,
              mem: float, parity: bool, reference_rps: float) -> None:
    record.time_to_ready_s = 3.0
    record.reference = Reference(threads=1, cpus=[0], single_p50_ms=8.0, single_p99_ms=12.0,
                                 sequential_rps=reference_rps, batch_size=32, batched_sentences_per_s=200.0)
    record.parity = ParityResult(passed=parity, sentences=10, label_mismatches=0 if parity else 3,
                                 max_score_diff=1e-7, tolerance=1e-4, accuracy=0.9)
    record.steps = steps
    record.summary = Summary(peak_throughput_rps=tput, peak_at_users=4, throughput_at_slo_rps=tput,
                             slo_source="open-loop search", slo_p99_ms=100.0, p50_ms_at_1_user=10.0,
                             p99_ms_at_1_user=p99_1, cpu_ms_per_request_at_peak=cpu_ms, mem_peak_mib=mem)


def _schema1(record: RunRecord, steps: list[ClosedStep], tput: float, p99_1: float, cpu_ms: float,
             mem: float) -> dict:
    """The closed-loop-era schema-1 document of the same run (no step names, summary with slo_users)."""
    doc = record.to_dict()
    doc["schema_version"] = 1
    for key in ("slo_search", "summary", "open_steps", "idle", "stop", "generator_ceiling"):
        doc.pop(key)
    schema2 = {"name", "monitor_cpu_util", "resources_start", "resources_end"}
    doc["steps"] = [{k: v for k, v in s.to_dict().items() if k not in schema2} for s in steps]
    if record.status == "complete":
        doc["summary"] = {"peak_throughput_rps": tput, "peak_at_users": 4, "throughput_at_slo_rps": tput,
                          "slo_users": 4, "p50_ms_at_1_user": 10.0, "p99_ms_at_1_user": p99_1,
                          "cpu_ms_per_request_at_peak": cpu_ms, "mem_peak_mib": mem,
                          "any_generator_limited": False}
    return doc


def write_run(
    root: Path,
    framework: str = "baseline",
    preset: str = "default",
    started: str = "2026-01-01T00:00:00+00:00",
    *,
    status: str = "complete",
    reason: str | None = None,
    tput: float = 50.0,
    p99_1: float = 30.0,
    cpu_ms: float = 5.0,
    mem: float = 150.0,
    profile: str = "quick",
    parity: bool = True,
    extra: dict | None = None,
    summary_extra: dict | None = None,
    samples: bool = True,
    schema: int = 2,
    reference_rps: float = 100.0,
) -> Path:
    """A published run folder ``root/<run_id>`` with run.json, steps, samples and a server log.

    ``extra`` replaces top-level fields of run.json and ``summary_extra`` fields of its summary, in the
    schema's own layout; a schema-2 result must still read back as a RunRecord.
    """
    stamp = started[:19].replace("-", "").replace(":", "") + "Z"
    run_id = f"{stamp}-{framework}-{preset}"
    folder = root / run_id
    (folder / "load").mkdir(parents=True)
    (folder / "server").mkdir()
    (folder / "server" / "server.log").write_text("INFO started\nINFO ready\n")
    record = _record(run_id, framework, preset, started, status, reason, profile)
    steps = [step(1, tput / 2, 10.0, p99_1, cpu_ms=cpu_ms, mem=mem),
             step(4, tput, 40.0, 90.0, cpu_ms=cpu_ms, mem=mem)]
    if status == "complete":
        _measured(record, steps, tput, p99_1, cpu_ms, mem, parity, reference_rps)
        if samples:
            _write_samples(folder, steps)
    doc = _schema1(record, record.steps, tput, p99_1, cpu_ms, mem) if schema == 1 else record.to_dict()
    if summary_extra:
        doc["summary"] = {**doc["summary"], **summary_extra}
    doc.update(extra or {})
    if schema == 2:
        doc = RunRecord.from_dict(doc).to_dict()  # the test's fields are schema 2's
    (folder / "run.json").write_text(json.dumps(doc, indent=2))
    return folder


def _write_samples(folder: Path, steps: list[ClosedStep]) -> None:
    rng = np.random.default_rng(0)
    for s in steps:
        n = 50
        lat = rng.uniform(s.latency.p50_ms / 2, s.latency.p99_ms, n)
        start = np.linspace(s.window_start, s.window_end - 0.5, n)
        np.save(folder / s.samples_file, np.column_stack([start, lat, np.full(n, 200.0)]))
