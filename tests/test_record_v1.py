"""Older run folders: schema 1 is converted on read into the typed record, unknown schemas are refused.

The schema-1 fixture is run.json as the harness wrote it before the typed record (RunWriter, run.py,
protocol.py, load/steps.py and summary.py at commit 44386a4): flat step mappings without names, the SLO
search with its repeat figures stored beside the probes, a summary with overhead and cost.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from servingbench.profiles import PROFILES
from servingbench.record.results import RunSkipped, list_runs, load_run
from servingbench.record.run_record import SLO_REPEAT, RunRecord, SchemaError, read_run
from servingbench.report.model import run_view
from servingbench.summary import summarize_run
from tests.test_report_data import write_run

RULE = "throughput spread <= 10% and p99 spread <= 25% across 3 consecutive windows of at least 200 requests"
NAN = float("nan")


def latency(n: int, rps: float, p50: float, p99: float, duration: float, errors: int = 0) -> dict:
    return {"requests": n + errors, "ok": n, "errors": errors, "error_rate": errors / (n + errors),
            "throughput_rps": rps, "mean_ms": p50 * 1.1, "p50_ms": p50, "p90_ms": (p50 + p99) / 2,
            "p99_ms": p99, "p999_ms": p99 * 1.2, "max_ms": p99 * 1.5, "duration_s": duration}


def resources(cpu_ms: float, mem: float) -> dict:
    return {"generator_cpu_util": 0.31, "server_cpu_s": 3.1, "server_cpu_util": 0.52,
            "cpu_ms_per_request": cpu_ms, "mem_peak_mib": mem, "mem_mean_mib": mem - 1, "memory_kind": "PSS",
            "processes": 1}


def stability(rps: float, p99: float, n: int, stable: bool | None) -> dict:
    spread = 0.02 if stable is not None else NAN
    return {"window_throughput_rps": [rps] * 3, "window_p99_ms": [p99] * 3, "window_requests": [n // 3] * 3,
            "throughput_spread": spread, "p99_spread": spread, "stable": stable, "rule": RULE}


def closed_v1(users: int, rps: float, p50: float, p99: float, mem: float, stable: bool | None = True) -> dict:
    n = int(rps * 6)
    return {"mode": "closed", "users": users, "window_start": 1000.0 + users, "window_end": 1006.0 + users,
            "window_covered_s": 6.0, "request_budget_spent": False,
            "samples_file": f"load/closed_u{users}.samples.npy", **latency(n, rps, p50, p99, 6.0),
            "status_counts": {"200": n}, **resources(5.0 + users, mem), "generator_limited": False,
            "meets_slo": p99 <= 100.0, **stability(rps, p99, n, stable)}


def open_v1(rate: float, rps: float, p99: float, purpose: str, name: str, seed: int, errors: int = 0) -> dict:
    n = int(rps * 5)
    meets = p99 <= 100.0 and errors / (n + errors) <= 0.001
    return {"mode": "open", "rate_rps": rate, "seed": seed, "window_start": 2000.0, "window_end": 2005.0,
            "samples_file": f"load/{name}.samples.npy", "latency_from": "intended send time",
            **latency(n, rps, p99 / 3, p99, 5.0, errors), "intended_requests": n + errors, "not_answered": 0,
            "send_lag_p99_ms": 0.4, "status_counts": {"200": n}, **resources(4.0, 160.0),
            "generator_limited": False, "meets_slo": meets, **stability(rps, p99, n, True),
            "purpose": purpose}


PRICE = {"instance": "c7i.large", "vcpus": 2, "memory_gib": 4.0, "usd_per_hour": 0.08925,
         "region": "us-east-1", "os": "Linux", "date": "2024-01",
         "source": "AWS EC2 On-Demand pricing page (c7i list price)"}
SHARE = 0.08925 / 2


def run_v1(repeats: int = 1) -> dict:
    """A complete schema-1 run.json; ``repeats`` > 1 confirms the SLO rate with fresh-seed repeats."""
    probes = [open_v1(80.0, 79.0, 60.0, "SLO search", "slo_probe1", 8000),
              open_v1(160.0, 120.0, 900.0, "SLO search", "slo_probe2", 16000)]
    repeated = [(78.0, 50.0), (80.5, 70.0), (79.5, 130.0)] if repeats > 1 else []
    confirm = [open_v1(80.0, a, p, "SLO repeat", f"slo_repeat{k}", 8000 + k)
               for k, (a, p) in enumerate(repeated, 1)]
    confirmations = confirm if repeats > 1 else probes[:1]
    achieved = [s["throughput_rps"] for s in confirmations]
    median = sorted(achieved)[len(achieved) // 2]
    profile = PROFILES["standard" if repeats > 1 else "quick"]
    return {
        "schema_version": 1, "run_id": "20260101T000000Z-baseline-default", "framework": "baseline",
        "preset": "default", "started_at": "2026-01-01T00:00:00+00:00",
        "git": {"commit": "c" * 40, "dirty": False},
        "machine": {"hostname": "vm", "cpu_model": "Test CPU", "logical_cpus": 2, "memory_gib": 7.8,
                    "kernel": "6.1.0", "os": "Linux-6.1.0-x86_64", "python": "3.11.7",
                    "load_average_at_start": [0.52, 0.3, 0.2], "timestamp": 1767225600.5},
        "display_name": "Baseline (Starlette/uvicorn)", "protocol": "JSON POST /predict",
        "notes": "no framework",
        "preset_note": "one worker", "overrides": {}, "tuning_evidence": None,
        "tunables": {"workers": 1, "threads_per_worker": 1, "max_batch_size": 1, "max_batch_delay_ms": 0.0},
        "profile": json.loads(json.dumps(profile.as_dict())),
        "slo": {"p99_ms": 100.0, "max_error_rate": 0.001},
        "cpus": {"server": [0], "loadgen": [1]},
        "harness_versions": {"locust": "2.47.0", "numpy": "2.4.6", "hdrhistogram": "0.10.3", "psutil": "7.1",
                             "onnxruntime": "1.23", "tokenizers": None},
        "model": {"dir": "/cache/model", "manifest": {"source": "all-MiniLM-L6-v2", "model_key": "abc"}},
        "target": None, "loadgen_workers": 1, "loadgen_remote_workers": 0,
        "server_versions": {"python": "3.11.7", "onnxruntime": "1.23", "numpy": "2.4.6",
                            "tokenizers": "0.22"},
        "framework_version": "n/a",
        "reference": {"threads": 1, "cpus": [0], "single_requests": 600, "single_mean_ms": 8.2,
                      "single_p50_ms": 8.0, "single_p99_ms": 12.0, "sequential_rps": 120.0, "batch_size": 32,
                      "batched_sentences_per_s": 240.0},
        "generator_ceiling": {"rps": 2400.0, "p50_ms": 0.7, "users": 16, "seconds": 4.0,
                              "generator_cpu_util": 0.95, "bound": "load generator", "cpus": [1],
                              "workers": 1},
        "time_to_ready_s": 1.234, "ports": {"http": 8123},
        "idle": {"cpu_util": 0.004, "mem_bytes": 157286400, "processes": 1, "memory_kind": "PSS"},
        "parity": {"passed": True, "sentences": 126, "label_mismatches": 0, "max_score_diff": 2e-7,
                   "tolerance": 1e-4, "accuracy": 0.9, "failures": [], "error": None},
        "steps": [closed_v1(1, 90.0, 10.0, 14.0, 150.0), closed_v1(4, 110.0, 33.0, 60.0, 152.0, stable=None),
                  closed_v1(16, 115.0, 130.0, 210.0, 155.0, stable=False)],
        "open_steps": [open_v1(20.0, 19.8, 18.0, "fixed load", "open_fixed", 2000), *probes, *confirm],
        "slo_search": {
            "best_rate_rps": 80.0, "lowest_failing_rps": 160.0, "resolution": 0.5,
            "probes": [{"rate_rps": s["rate_rps"], "p99_ms": s["p99_ms"], "error_rate": s["error_rate"],
                        "achieved_rps": s["throughput_rps"], "passed": s["meets_slo"], "seed": s["seed"],
                        "generator_limited": False} for s in probes],
            "repeats": len(confirmations), "repeats_passed": sum(s["meets_slo"] for s in confirmations),
            "achieved_rps": achieved, "p99_ms": [s["p99_ms"] for s in confirmations],
            "throughput_rps": median, "spread_rps": [min(achieved), max(achieved)],
        },
        "summary": {
            "throughput_at_slo_rps": median, "throughput_at_slo_spread": [min(achieved), max(achieved)],
            "slo_rate_rps": 80.0, "slo_source": "open-loop search", "slo_p99_ms": 100.0,
            "fixed_load_rps": 20.0, "p50_ms_at_fixed_load": 6.0, "p99_ms_at_fixed_load": 18.0,
            "fixed_load_meets_slo": True, "peak_throughput_rps": 115.0, "peak_at_users": 16,
            "p50_ms_at_1_user": 10.0, "p99_ms_at_1_user": 14.0, "cpu_ms_per_request_at_peak": 21.0,
            "cpu_ms_per_request_at_fixed_load": 4.0, "mem_peak_mib": 160.0, "any_generator_limited": False,
            "unstable_steps": 1,
            "overhead": {"latency_ms_at_1_user": 2.0, "throughput_fraction": median / 120.0,
                         "throughput_fraction_of_batched": median / 240.0},
            "cost": {"instance": "c7i.large", "usd_per_hour": SHARE,
                     "usd_per_million": SHARE / (median * 3600) * 1e6,
                     "assumption": "1 vCPU priced as 50% of one c7i.large", "price_source": PRICE["source"],
                     "price_date": PRICE["date"], "price": PRICE},
        },
        "server_log_tail": "INFO: Uvicorn running\n", "stop": {"stop_s": 0.31, "needed_sigkill": [],
                                                                "left_running": [], "left_listening": []},
        "status": "complete", "failure_reason": None, "finished_at": "2026-01-01T00:02:00+00:00",
    }


def publish(root: Path, doc: dict, name: str | None = None) -> Path:
    folder = root / (name or doc.get("run_id") or "run")
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(doc, indent=2))  # NaN written as the harness wrote it
    return folder


def same(a: object, b: object) -> bool:
    """Equal as JSON (NaN equals NaN, tuples equal lists)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def kept(written: object, old: object) -> bool:
    """Every value of ``old`` is in ``written`` unchanged; fields added later (defaults) may sit beside."""
    if isinstance(old, dict) and isinstance(written, dict):
        return all(k in written and kept(written[k], v) for k, v in old.items())
    return same(written, old)


@pytest.mark.parametrize("repeats", [1, 3])
def test_a_schema_1_run_reads_into_the_typed_record_with_every_value_kept(tmp_path, repeats):
    doc = run_v1(repeats)
    record = load_run(publish(tmp_path, doc))
    assert isinstance(record, RunRecord) and record.schema_version == 2
    assert record.folder == tmp_path / doc["run_id"]
    written = record.to_dict()
    for key, value in doc.items():
        if key not in ("schema_version", "steps", "open_steps", "slo_search"):
            assert kept(written[key], value), key
    for v1_steps, steps in ((doc["steps"], record.steps), (doc["open_steps"], record.open_steps)):
        assert len(steps) == len(v1_steps)
        for old, new in zip(v1_steps, steps, strict=True):
            # schema 2's own, defaulted for v1
            added = {"name", "percentile_ci_ms", "in_flight_at_end", "throughput_is", "monitor_cpu_util",
                     "resources_start", "resources_end", "segments", "fresh_start", "failure_kinds",
                     "held_back_sends", "own_lag_p99_ms", "server_metrics"}
            assert same({k: v for k, v in new.to_dict().items() if k not in added}, old)
            assert getattr(new, "throughput_is", "") == ""  # never claimed as goodput
            assert new.resources.resources_start is None  # never claimed as the window's resources
            assert new.failure_kinds == {} and getattr(new, "held_back_sends", None) is None  # not recorded
            assert new.name == Path(old["samples_file"]).name.removesuffix(".samples.npy")
    too_few = record.steps[1].stability
    assert math.isnan(too_few.throughput_spread) and too_few.stable is None


@pytest.mark.parametrize("repeats", [1, 3])
def test_a_schema_1_slo_search_keeps_its_figures_derived_from_rebuilt_confirmations(tmp_path, repeats):
    doc = run_v1(repeats)
    search = load_run(publish(tmp_path, doc)).slo_search
    old = doc["slo_search"]
    written = search.to_dict()
    written["probes"] = [{k: v for k, v in p.items() if k not in ("fresh_start", "measured_s")}  # newer
                         for p in written["probes"]]
    for key in ("best_rate_rps", "lowest_failing_rps", "resolution", "probes"):
        assert same(written[key], old[key]), key
    for key in ("repeats", "repeats_passed", "achieved_rps", "p99_ms", "throughput_rps", "spread_rps"):
        assert same(getattr(search, key), old[key]), key
    assert search.repeats == repeats and search.repeats_passed == (2 if repeats == 3 else 1)
    confirming = [s for s in doc["open_steps"] if s["purpose"] == SLO_REPEAT] or doc["open_steps"][1:2]
    assert [c.seed for c in search.confirmations] == [s["seed"] for s in confirming]


@pytest.mark.parametrize("repeats", [1, 3])
def test_the_summary_recomputed_from_converted_steps_equals_the_one_schema_1_stored(tmp_path, repeats):
    record = load_run(publish(tmp_path, run_v1(repeats)))
    recomputed = summarize_run(record)
    stored = record.summary
    for name in ("throughput_at_slo_rps", "throughput_at_slo_spread", "slo_rate_rps", "fixed_load_rps",
                 "p99_ms_at_fixed_load", "peak_throughput_rps", "peak_at_users", "p50_ms_at_1_user",
                 "cpu_ms_per_request_at_peak", "cpu_ms_per_request_at_fixed_load", "mem_peak_mib",
                 "unstable_steps", "any_generator_limited", "overhead"):
        assert getattr(recomputed, name) == getattr(stored, name), name
    assert recomputed.cost.usd_per_million == pytest.approx(stored.cost.usd_per_million)


def test_a_schema_1_run_shows_the_same_figures_in_the_report(tmp_path):
    view = run_view(load_run(publish(tmp_path, run_v1(3))))
    assert view.throughput_at_slo_rps == 79.5 and view.throughput_spread == (78.0, 80.5)
    assert (view.repeats, view.repeats_passed) == (3, 2) and view.slo_rate_rps == 80.0
    assert (view.fixed_load.label, view.fixed_load.p99_ms) == ("20 req/s open loop", 18.0)
    assert view.fixed_load.step["name"] == "open_fixed"
    assert view.usd_per_million == pytest.approx(SHARE / (79.5 * 3600) * 1e6)
    assert view.price_row[2] == PRICE["source"] and view.overhead_latency_ms == 2.0
    assert view.generator_ceiling.rps == 2400.0 and view.unstable_steps == 1 and view.memory_kind == "PSS"
    assert view.machine_text.startswith("Test CPU, 2 logical CPUs")


def test_closed_loop_era_runs_say_where_their_slo_figure_came_from(tmp_path):
    record = load_run(write_run(tmp_path, schema=1, samples=False))
    assert record.summary.slo_source == "closed-loop steps" and record.summary.throughput_at_slo_rps == 50.0
    assert [s.name for s in record.steps] == ["closed_u1", "closed_u4"] and record.slo_search is None


def test_a_run_json_without_a_schema_version_is_schema_1(tmp_path):
    doc = run_v1()
    del doc["schema_version"]
    assert load_run(publish(tmp_path, doc)).summary.throughput_at_slo_rps == 79.0


def test_a_newer_schema_is_refused_with_what_to_do(tmp_path):
    folder = publish(tmp_path, {**run_v1(), "schema_version": 3, "something_new": {}})
    with pytest.raises(SchemaError) as refused:
        load_run(folder)
    message = str(refused.value)
    assert str(folder) in message and "schema 3" in message and "reads schemas 1 and 2" in message
    assert "make bench FRAMEWORK=baseline PRESET=default PROFILE=quick" in message


def test_list_runs_skips_an_unreadable_run_loudly_and_keeps_the_others(tmp_path):
    good = write_run(tmp_path, samples=False)
    publish(tmp_path, {**run_v1(), "schema_version": 99}, name="20260102T000000Z-baseline-default")
    with pytest.warns(RunSkipped, match="20260102T000000Z-baseline-default.*schema 99"):
        runs = list_runs(tmp_path)
    assert [r.folder for r in runs] == [good]


def test_a_schema_1_run_that_does_not_fit_is_an_error_naming_its_file(tmp_path):
    doc = run_v1()
    del doc["steps"][0]["users"]
    with pytest.raises(SchemaError, match=r"run\.json \(schema 1\) does not fit.*users"):
        read_run(doc, tmp_path)
