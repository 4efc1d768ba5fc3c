"""The typed run record: every class reads back what it writes; the summary is computed from typed steps."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from servingbench import protocol
from servingbench.load.ceiling import Ceiling
from servingbench.measure.coldstart import FirstCorrect, ModelLoad, Spread, StartupSplit
from servingbench.measure.cost import Cost, Price, cost_per_million
from servingbench.measure.goodput_curve import CurveVerdict
from servingbench.measure.parity import ParityResult
from servingbench.measure.probe_verdict import ProbeVerdict
from servingbench.measure.recovery import Recovery, Second
from servingbench.measure.reference import BatchReference, Reference
from servingbench.measure.server_metrics import ServerMetricsDelta
from servingbench.measure.slo_search import Confirmation, SearchResult
from servingbench.measure.stability import Stability
from servingbench.measure.stats import LatencySummary
from servingbench.measure.variants import VariantEvaluation
from servingbench.profiles import PROFILES
from servingbench.record.results import RunWriter, load_run
from servingbench.record.run_record import (
    FIXED_LOAD,
    SCHEMA_VERSION,
    SLO_PROBE,
    SLO_REPEAT,
    ClosedStep,
    CpuSets,
    GitInfo,
    Idle,
    Machine,
    ModelInfo,
    OpenStep,
    Overhead,
    ProbeSegment,
    Resources,
    RunRecord,
    SchemaError,
    Slo,
    SloSearch,
    StopReport,
    Summary,
)
from servingbench.record.serial import json_keys
from servingbench.report.model import run_view
from servingbench.scenarios.records import (
    BatchResult,
    BatchSize,
    BurstPhase,
    BurstResult,
    ColdStart,
    ColdStartResult,
    KeepWarm,
    OverloadResult,
    RateSource,
    ScenarioResults,
    ScenarioStep,
)
from servingbench.summary import summarize_run
from tests.test_report_data import step as closed
from tests.test_variants import EVALUATION


def latency(p50: float, p99: float, rps: float, errors: int = 0) -> LatencySummary:
    n = int(rps * 5)
    return LatencySummary(requests=n + errors, ok=n, errors=errors, error_rate=errors / (n + errors),
                          throughput_rps=rps, mean_ms=p50 * 1.1, p50_ms=p50, p90_ms=(p50 + p99) / 2,
                          p99_ms=p99, p999_ms=p99 * 1.2, max_ms=p99 * 1.5, duration_s=5.0)


def opened(rate: float, rps: float, p99: float, purpose: str, name: str, *, seed: int = 7,
           mem: float | None = 140.0, stable: bool | None = True, limited: bool = False,
           slo_ms: float = 100.0) -> OpenStep:
    return OpenStep(
        name=name, rate_rps=rate, seed=seed, purpose=purpose, window_start=2000.0, window_end=2005.0,
        samples_file=f"load/{name}.samples.npy", latency=latency(p99 / 3, p99, rps),
        intended_requests=int(rate * 5), not_answered=0, send_lag_p99_ms=0.4,
        status_counts={"200": int(rps * 5)},
        resources=Resources(generator_cpu_util=0.3, server_cpu_s=2.0, server_cpu_util=0.4,
                            cpu_ms_per_request=4.0, mem_peak_mib=mem, mem_mean_mib=mem, memory_kind="PSS",
                            processes=2),
        generator_limited=limited, meets_slo=p99 <= slo_ms,
        stability=Stability([rps, rps], [p99, p99], [500, 500], 0.01, 0.02, stable, "the rule"),
        histogram=f"HISTFAAA{name}",
    )


def coldstart_result() -> ColdStartResult:
    sp = Spread(5, 1.2, 1.0, 1.5, 1.1, 1.4, 0.9375)
    start = ColdStart(1, 1700000000.5, FirstCorrect(1.2, 0.9, 20, "HTTP 503: not ready"), 1.25, 12.0, 5.0,
                      170.0, 0.01, 2, "PSS", StartupSplit(0.1, 0.5, 0.6, 0.3, 0.3, 1),
                      [ModelLoad(42, 1700000000.6, 1700000001.1, 1700000001.4)], 0.3,
                      "scenarios/coldstart/start1")
    return ColdStartResult([start], sp, sp, sp, sp, sp, sp, sp, sp, 3.0, 0.05,
                           KeepWarm(0.0446, "c7i.large", 1, 0.17, "1 vCPU", "2024-01", "AWS", True), "events")


def batch_result() -> BatchResult:
    ref = BatchReference(8, 512, 2.0, 256.0, 3.9)
    served = BatchSize(8, 64, 2, "", 512, 2.5, 204.8, 4.8, 0.98, 170.0, 38.0, 60.0, {"p50": [36.0, 40.0]},
                       {"HTTP 503": 1}, "load/batch_k8.samples.npy", ref)
    return BatchResult(512, [served, BatchSize(128, 4, 2, "limit: refuses 128-text requests: HTTP 400")],
                       "on", "the rule", 0.01)


def scenario_step(name: str, rate: float) -> ScenarioStep:
    return ScenarioStep(
        name=name, offered_rps=rate, seed=11, window_start=3000.0, window_end=3006.0,
        samples_file=f"load/{name}.samples.npy", latency=latency(10.0, 40.0, rate, errors=1),
        percentile_ci_ms={"p99": [30.0, None]}, failure_kinds={"timeout": 1}, intended_requests=int(rate * 6),
        completed_ok=int(rate * 6) - 1, in_flight_at_end=2, server_cpu_util=0.9, cpu_ms_per_request=5.5,
        generator_cpu_util=0.2, own_lag_p99_ms=1.5, held_back_sends=3, generator_limited=True, meets_slo=True)


def overload_result() -> OverloadResult:
    verdict = CurveVerdict("collapses under overload", "goodput falls", 60.0, 62.0, 90.0, 30.0, [120.0])
    return OverloadResult(rate=RateSource(60.0, "SLO throughput", "earlier run", "20260101T000000Z-x"),
                          multiples=[0.5, 1.0], warmup_s=2.0, measure_s=6.0,
                          steps=[scenario_step("overload_1_x0.5", 30.0),
                                 scenario_step("overload_2_x1", 60.0)],
                          verdict=verdict, time_scale=0.5)


def burst_result() -> BurstResult:
    return BurstResult(
        rate=RateSource(40.0, "closed-loop peak", "this run", "run"), base_fraction=0.5, burst_fraction=1.5,
        warmup_s=3.0, before_s=6.0, burst_s=6.0, after_s=15.0, step=scenario_step("burst", 26.0),
        phases=[BurstPhase("burst", 6.0, 12.0, 60.0, 360, 355, 58.0, 240.0, [200.0, None], {"HTTP 503": 5})],
        timeline=[Second(0.0, 20, 19, 1, 35.0, 19.0), Second(1.0, 0, 0, 0, None, 0.0)],
        recovery=Recovery(True, 4.0, True, 7, 1, "the rule", "back", 2), over_slo=12, time_scale=0.5)


def full_record() -> RunRecord:
    """A record with every part set to something other than its default."""
    from tests.size_trace_records import size_result, trace_result  # they build on opened() above

    scraped = ServerMetricsDelta("http://127.0.0.1:1/metrics", 100, 100, 101, 0.1, 0.4, None, 25, 100)
    fixed = dataclasses.replace(opened(20.0, 19.8, 30.0, FIXED_LOAD, "open_fixed"), server_metrics=scraped)
    probes = [opened(80.0, 79.0, 60.0, SLO_PROBE, "slo_probe1"),
              opened(160.0, 120.0, 900.0, SLO_PROBE, "slo_probe2")]
    repeats = [opened(80.0, a, p, SLO_REPEAT, f"slo_repeat{i}", seed=8000 + i)
               for i, (a, p) in enumerate([(78.0, 50.0), (80.5, 70.0), (79.0, 130.0)], 1)]
    repeats[2] = dataclasses.replace(repeats[2], fresh_start=True, verdict=ProbeVerdict(
        "undecided", 1200, 9, 0, 0.95, 0.975, 2, 2, 1400, 131.0, "9 of 1200 over the bound; undecided"),
        segments=[ProbeSegment("slo_repeat3", 8003, 2000.0, 2002.0, "load/slo_repeat3.samples.npy", 400),
                  ProbeSegment("slo_repeat3-seg2", 99, 2010.0, 2013.0, "load/slo_repeat3-seg2.samples.npy",
                               800)])
    price = Price("c7i.large", 2, 4.0, 0.0893, "us-east-1", "Linux", "2026-01-01", "AWS",
                  "https://example.invalid/prices", True)
    return RunRecord(
        run_id="20260101T000000Z-baseline-tuned", framework="baseline", preset="tuned",
        started_at="2026-01-01T00:00:00+00:00", git=GitInfo("f" * 40, True),
        machine=Machine("host", "CPU", 2, 8.0, "6.1", "Linux", "3.11.7", [0.5, 0.4, 0.3], 1.5e9),
        display_name="Baseline", protocol="JSON", transport="grpc", notes="a note", preset_note="earned",
        overrides={"workers": 2},
        tuning_evidence={"date": "20261130T000000Z"}, tunables={"workers": 2, "max_batch_size": 1},
        profile={"name": "quick", "users": [1, 4]}, slo=Slo(100.0, 0.001), cpus=CpuSets([0], [1]),
        price_family="c7i",
        harness_versions={"locust": "2.47.0", "tokenizers": None}, model=ModelInfo(
            "/m", {"model_key": "k"}, "int8", VariantEvaluation.from_dict(EVALUATION)),
        target="http://10.0.0.1:8000", loadgen_workers=2, loadgen_remote_workers=1, launch="docker",
        image="servingbench-baseline:x", docker_run="docker run ...", image_command=False,
        container_tunables={"workers": 2},
        server_versions={"onnxruntime": "1.20"}, framework_version="1.10", server_metrics="unavailable: test",
        metrics_endpoint="http://127.0.0.1:1/metrics: test",
        exposed_listeners=["0.0.0.0:40123"],
        reference=Reference(1, [0], 8.0, 12.0, 100.0, 32, 200.0, 500, 8.5),
        generator_ceiling=Ceiling(2500.0, 0.6, 16, 4.0, 0.5, "no-op server", [1], 1),
        time_to_ready_s=1.25, ports={"http": 8123}, idle=Idle(0.01, 150 * 2**20, 2, "PSS"),
        parity=ParityResult(True, 126, 0, 1e-7, 1e-4, 0.9, [{"text": "x"}], None),
        steps=[closed(1, 25.0, 10.0, 30.0), closed(4, 50.0, 40.0, 90.0)],
        open_steps=[fixed, *probes, *repeats],
        slo_search=SloSearch(80.0, 160.0, 0.5, [p.probe(100.0, 0.001) for p in probes],
                             [r.probe(100.0, 0.001) for r in repeats], fresh_start_ready_s=[1.5],
                             fresh_start_note="a note"),
        summary=Summary(79.0, (78.0, 80.5), 80.0, "open-loop search", 100.0, 20.0, 10.0, 30.0, True, 50.0, 4,
                        10.0, 30.0, 5.0, 4.0, 150.0, True, 1, Overhead(2.0, 0.79, 0.395),
                        Cost("c7i.large", 0.04465, 0.157, "1 vCPU", "AWS", "2026-01-01", price, 0.5, "c7i",
                             "not applicable: set only so that every field is exercised")),
        scenarios_run=["steady", "overload"],
        scenarios=ScenarioResults(failed={"overload": "LoadError: Locust failed (exit 1)"},
                                  size=size_result(), trace=trace_result(), coldstart=coldstart_result(),
                                  batch=batch_result(), overload=overload_result(), burst=burst_result()),
        server_log_tail="ready\n", stop=StopReport(0.5, ["1234 python"], [], []), status="complete",
        failure_reason=None, finished_at="2026-01-01T00:05:00+00:00",
    )


def through_json(record):
    """``record`` written as run.json text and read back by its class."""
    return type(record).from_dict(json.loads(json.dumps(record.to_dict())))


def parts(record: RunRecord) -> list:
    r = record
    return [r.git, r.machine, r.slo, r.cpus, r.model, r.reference, r.generator_ceiling, r.idle, r.parity,
            r.stop, *r.steps, *r.open_steps, r.steps[0].latency, r.steps[0].resources,
            r.open_steps[0].stability, r.slo_search, *r.slo_search.probes, *r.slo_search.confirmations,
            r.open_steps[-1].verdict, *r.open_steps[-1].segments, r.summary, r.summary.overhead,
            r.summary.cost, r.summary.cost.price, r.scenarios, r.scenarios.size, *r.scenarios.size.points,
            r.scenarios.size.points[0].step, r.scenarios.trace, r.scenarios.trace.timeline,
            r.scenarios.coldstart, *r.scenarios.coldstart.starts, r.scenarios.coldstart.keep_warm,
            r.scenarios.coldstart.first_correct_s, r.scenarios.coldstart.starts[0].first,
            r.scenarios.coldstart.starts[0].split, *r.scenarios.coldstart.starts[0].loads,
            r.scenarios.batch, *r.scenarios.batch.sizes, r.scenarios.batch.sizes[0].reference,
            *scenario_parts(r.scenarios), r]


def scenario_parts(results: ScenarioResults) -> list:
    over, burst = results.overload, results.burst
    assert over is not None and burst is not None
    return [over, over.rate, over.verdict, *over.steps, over.steps[0].latency, burst, burst.step,
            *burst.phases, *burst.timeline, burst.recovery]


@pytest.mark.parametrize("index", range(len(parts(full_record()))))
def test_every_class_round_trips_exactly(index):
    part = parts(full_record())[index]
    assert part is not None and dataclasses.is_dataclass(part)
    assert type(part).from_dict(part.to_dict()) == part
    assert through_json(part) == part
    assert through_json(part).to_dict() == part.to_dict()


def test_every_field_of_the_full_record_is_set():
    """The round-trip test above covers every field only if none of them is left at its default."""
    record = full_record()
    for f in dataclasses.fields(RunRecord):
        if f.name in ("schema_version", "folder", "failure_reason"):
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        assert getattr(record, f.name) != default, f.name


def test_nan_is_written_as_json_writes_it_and_read_back():
    nan = float("nan")
    step = dataclasses.replace(closed(1, 0.0, 1.0, 1.0), latency=LatencySummary(
        0, 0, 0, 0.0, 0.0, nan, nan, nan, nan, nan, nan, 5.0))
    text = json.dumps(step.to_dict())
    assert '"p99_ms": NaN' in text  # as run.json always had it: Python's json (the report) reads it
    back = ClosedStep.from_dict(json.loads(text))
    assert math.isnan(back.latency.p99_ms) and json.dumps(back.to_dict()) == text


def test_numpy_numbers_are_written_as_python_numbers():
    summary = LatencySummary(np.int64(5), np.int64(5), np.int64(0), np.float64(0.0), np.float64(1.0), 1.0,
                             1.0, 1.0, 1.0, 1.0, 1.0, np.float64(5.0))
    written = summary.to_dict()
    assert type(written["requests"]) is int and type(written["duration_s"]) is float
    json.dumps(written)  # would raise on numpy integers


def test_steps_are_flat_mappings_and_their_histogram_stays_out_of_run_json():
    record = full_record()
    written = record.open_steps[0].to_dict()
    assert written["p99_ms"] == 30.0 and written["mem_peak_mib"] == 140.0 and written["stable"] is True
    assert "histogram" not in json.dumps(record.to_dict()) and "HISTFAAA" not in json.dumps(record.to_dict())
    assert record.histograms()["open_fixed"] == "HISTFAAAopen_fixed"
    record.steps[0] = dataclasses.replace(record.steps[0], histogram="HISTFAAAclosed")
    assert list(record.histograms()) == ["closed_u1"] + [s.name for s in record.open_steps]  # in run order


def test_step_keys_are_those_of_schema_1_plus_the_name():
    closed_v1 = {"mode", "users", "window_start", "window_end", "window_covered_s", "request_budget_spent",
                 "samples_file", "requests", "ok", "errors", "error_rate", "throughput_rps", "mean_ms",
                 "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "duration_s", "status_counts",
                 "generator_cpu_util",
                 "server_cpu_s", "server_cpu_util", "cpu_ms_per_request", "mem_peak_mib", "mem_mean_mib",
                 "memory_kind", "processes", "generator_limited", "meets_slo", "window_throughput_rps",
                 "window_p99_ms", "window_requests", "throughput_spread", "p99_spread", "stable", "rule"}
    open_v1 = (closed_v1 - {"users", "window_covered_s", "request_budget_spent"}) | {
        "rate_rps", "seed", "latency_from", "intended_requests", "not_answered", "send_lag_p99_ms", "purpose"}
    # schema 2 adds the window the resources cover, the monitor's share of the generator's CPU and the
    # failures by kind to every step, the goodput's and the send lag's bookkeeping to open steps (defaults
    # when a schema-1 step is read)
    # and the server's own counters over the step (server_metrics, one nested record)
    window = {"monitor_cpu_util", "resources_start", "resources_end", "server_metrics"}
    assert json_keys(ClosedStep) == closed_v1 | {"name", "percentile_ci_ms", "failure_kinds"} | window
    # schema 2 adds the goodput's bookkeeping to open steps, and to probes the early-stopping verdict, the
    # adaptive probe's segments and the fresh start (defaults when a schema-1 or older step is read)
    verdict = {"outcome", "judged_requests", "overlatency", "failed_requests", "confidence",
               "look_confidence", "looks", "planned_looks", "queries_to_pass", "early_stopping_p99_ms",
               "reason"}
    goodput = {"in_flight_at_end", "throughput_is", "held_back_sends", "own_lag_p99_ms"}
    assert json_keys(OpenStep) == open_v1 | {"name", "percentile_ci_ms", "failure_kinds", "segments",
                                             "fresh_start"} | goodput | verdict | window


def test_a_step_without_stability_reads_back_without_it():
    step = dataclasses.replace(closed(1, 10.0, 5.0, 9.0), stability=None)
    assert "stable" not in step.to_dict() and ClosedStep.from_dict(step.to_dict()).stability is None


def test_reading_refuses_what_the_class_does_not_declare():
    good = full_record().steps[0].to_dict()
    with pytest.raises(ValueError, match=r"unknown field.*p99_msec"):
        ClosedStep.from_dict({**good, "p99_msec": 1.0})
    with pytest.raises(ValueError, match="users"):
        ClosedStep.from_dict({k: v for k, v in good.items() if k != "users"})
    with pytest.raises(ValueError, match="mode 'closed', not 'open'"):
        ClosedStep.from_dict({**good, "mode": "open"})
    with pytest.raises(ValueError, match="expected a list"):
        CpuSets.from_dict({"server": "0", "loadgen": [1]})
    with pytest.raises(SchemaError, match="reads schema 2, not 1"):
        RunRecord.from_dict({**full_record().to_dict(), "schema_version": 1})


def test_the_slo_search_derives_its_headline_from_its_confirmations():
    search = full_record().slo_search
    assert search.repeats == 3 and search.repeats_passed == 2  # 130 ms > 100 ms
    assert search.achieved_rps == [78.0, 80.5, 79.0] and search.p99_ms == [50.0, 70.0, 130.0]
    assert search.throughput_rps == 79.0 and search.spread_rps == (78.0, 80.5)
    two = dataclasses.replace(search, confirmations=search.confirmations[:2])
    assert two.throughput_rps == float(np.median([78.0, 80.5]))
    none = SloSearch.of(SearchResult(0.0, [], 5.0, float("nan")), Confirmation(0.0, [], 5.0))
    assert none.repeats == 0 and none.throughput_rps == 0.0 and none.spread_rps == (0.0, 0.0)
    assert "confirmations" in search.to_dict() and "throughput_rps" not in search.to_dict()  # stored once


# --- the summary from typed steps ------------------------------------------------------------------------
def test_summary_from_typed_steps():
    record = full_record()
    record.open_steps[2] = opened(160.0, 120.0, 900.0, SLO_PROBE, "slo_probe2", mem=300.0, stable=False,
                                  limited=True)
    s = summarize_run(record)
    assert isinstance(s, Summary)
    assert (s.throughput_at_slo_rps, s.throughput_at_slo_spread, s.slo_rate_rps) == (79.0, (78.0, 80.5), 80.0)
    assert s.slo_source == "open-loop search" and s.slo_p99_ms == 100.0
    assert (s.fixed_load_rps, s.p50_ms_at_fixed_load, s.p99_ms_at_fixed_load, s.fixed_load_meets_slo) == (
        20.0, 10.0, 30.0, True)
    assert (s.peak_throughput_rps, s.peak_at_users, s.p50_ms_at_1_user, s.p99_ms_at_1_user) == (
        50.0, 4, 10.0, 30.0)
    assert s.cpu_ms_per_request_at_peak == 5.0 and s.cpu_ms_per_request_at_fixed_load == 4.0
    assert s.mem_peak_mib == 300.0  # the highest of every step, open ones included
    assert s.any_generator_limited is True and s.unstable_steps == 1
    assert s.overhead == Overhead(10.0 - 8.0, 79.0 / 100.0, 79.0 / 200.0)
    assert s.cost == cost_per_million(79.0, 1, 300.0 / 1024, "c7i")  # the run asked for family c7i
    assert through_json(s) == s


def test_summary_invents_nothing_the_run_did_not_measure():
    record = full_record()
    record.reference = None
    record.steps = [dataclasses.replace(st, resources=Resources(0.2)) for st in record.steps]
    record.open_steps = [dataclasses.replace(st, resources=Resources(0.2)) for st in record.open_steps]
    record.slo_search = None
    s = summarize_run(record)
    assert s.overhead is None and s.cost is None and s.mem_peak_mib is None
    assert s.throughput_at_slo_rps == 0.0 and s.throughput_at_slo_spread is None and s.slo_rate_rps is None
    record.steps = []
    assert summarize_run(record) is None


def test_the_slo_search_protocol_records_typed_confirmations(tmp_path):
    """run_slo_search on a synthetic server: probes from the search, confirmations by the repeats rule."""
    from tests.synthetic_server import SyntheticServer, synthetic_context

    for profile, repeats in ((PROFILES["standard"], SLO_REPEAT), (PROFILES["quick"], SLO_PROBE)):
        server = SyntheticServer(capacity_rps=100.0)
        ctx = synthetic_context(tmp_path / profile.name, server)
        steps: list[OpenStep] = []
        search = protocol.run_slo_search(ctx, profile, 60.0, steps, lambda _msg: None)
        assert search.best_rate_rps <= 100.0 and len(search.probes) == profile.slo_probes
        chosen = [s for s in steps if s.purpose == repeats and s.rate_rps == search.best_rate_rps]
        assert search.confirmations == [s.probe(100.0, 0.001) for s in chosen]
        assert search.repeats == (profile.repeats if profile.repeats > 1 else 1)
        assert all(s.histogram and s.verdict for s in steps) and search.repeats_passed == search.repeats
        assert all(through_json(s) == s for s in steps)


# --- run.json through RunWriter and load_run ---------------------------------------------------------------
def test_run_writer_writes_what_load_run_reads(tmp_path):
    writer = RunWriter(tmp_path, "baseline", "default")
    record = full_record()
    for f in dataclasses.fields(RunRecord):
        if f.name not in ("run_id", "framework", "preset", "started_at", "git", "machine", "folder"):
            setattr(writer.record, f.name, getattr(record, f.name))
    final = writer.finish("complete")
    doc = json.loads((final / "run.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 2 and doc["run_id"] == writer.run_id
    back = load_run(final)
    assert back == writer.record and back.folder == final
    assert back.summary == record.summary and back.open_steps == record.open_steps
    assert (final / "steps.csv").read_text().count("\n") == 1 + len(record.steps)
    view = run_view(back)
    assert view.throughput_at_slo_rps == 79.0 and view.repeats == 3 and view.repeats_passed == 2
    assert view.fixed_load.label == "20 req/s open loop" and view.fixed_load.step["name"] == "open_fixed"
    assert view.usd_per_million == 0.157 and view.generator_ceiling.rps == 2500.0


def test_a_launch_record_sets_only_launch_fields_by_their_types(tmp_path):
    """What every kind of Target says about its launch fits the record (a new fact needs a field)."""
    from servingbench.adapter import Tunables
    from servingbench.frameworks import load_adapter
    from servingbench.servers import docker
    from servingbench.servers.container import ContainerServer
    from servingbench.servers.local import LocalServer
    from servingbench.servers.remote import RemoteServer

    adapter = load_adapter("baseline")
    spec = docker.container_spec(adapter, Tunables(), cpus=(0,), mem_limit="1g", ports={"http": 40000},
                                 model_dir=tmp_path, run_id="t1")
    targets = [LocalServer(adapter, "127.0.0.1", 40000, kind="local"),
               ContainerServer(adapter, "127.0.0.1", 40000, kind="docker", spec=spec),
               RemoteServer.from_url(adapter, "http://10.0.0.9:8000")]
    for target in targets:
        record = RunRecord(framework="baseline", preset="default")
        facts = target.launch_record()
        record.set_launch(facts)
        assert {k: getattr(record, k) for k in facts} == facts and record.launch == target.kind
        assert RunRecord.from_dict(record.to_dict()) == record
    assert record.launch == "remote" and "unavailable" in record.server_metrics
    with pytest.raises(ValueError, match=r"not launch fields.*summary"):
        record.set_launch({"summary": {}})


def test_every_field_of_the_scenario_results_is_set():
    """Overload's and burst's records are covered by the round trip only if no field keeps its default."""
    results = full_record().scenarios
    assert results is not None
    for part in [results, *scenario_parts(results)]:
        for f in dataclasses.fields(part):
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            assert getattr(part, f.name) != default, f"{type(part).__name__}.{f.name}"
