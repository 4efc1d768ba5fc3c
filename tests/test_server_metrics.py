"""The server-side view: Prometheus text parsed, cumulative samples turned into one step's figures,
the server's counter checked against the harness's, segments merged, and a real HTTP scrape."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from servingbench.adapter import MetricsSpec
from servingbench.measure.server_metrics import (
    MetricsScraper,
    ScrapeError,
    ServerMetricsDelta,
    delta,
    merge,
    parse,
    scrape,
    total,
)

TRITON_SPEC = MetricsSpec(port="metrics", requests="nv_inference_request_success",
                          queue_time="nv_inference_queue_duration_us",
                          compute_time="nv_inference_compute_infer_duration_us", time_unit_s=1e-6,
                          batches="nv_inference_exec_count", batched_items="nv_inference_count",
                          labels={"model": "sentiment"})


def triton_text(success: int, queue_us: int, compute_us: int, execs: int, other: int = 0) -> str:
    """A Triton-shaped exposition: counters per model and version, plus another model to be filtered out."""
    return f"""# HELP nv_inference_request_success Number of successful inference requests
# TYPE nv_inference_request_success counter
nv_inference_request_success{{model="sentiment",version="1"}} {success}
nv_inference_request_success{{model="other",version="1"}} {other}
# HELP nv_inference_count Number of inferences performed
# TYPE nv_inference_count counter
nv_inference_count{{model="sentiment",version="1"}} {success}
# HELP nv_inference_exec_count Number of model executions performed
# TYPE nv_inference_exec_count counter
nv_inference_exec_count{{model="sentiment",version="1"}} {execs}
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{{model="sentiment",version="1"}} {queue_us}
# HELP nv_inference_compute_infer_duration_us Cumulative compute inference duration in microseconds
# TYPE nv_inference_compute_infer_duration_us counter
nv_inference_compute_infer_duration_us{{model="sentiment",version="1"}} {compute_us}
"""


def samples(statuses: list[int]) -> np.ndarray:
    rows = np.zeros((len(statuses), 5))
    rows[:, 2] = statuses
    return rows


def test_parse_keeps_sample_names_and_labels() -> None:
    got = parse(triton_text(5, 100, 200, 2, other=7))
    assert got[("nv_inference_request_success", frozenset({("model", "sentiment"), ("version", "1")}))] == 5
    assert total(got, "nv_inference_request_success", {}) == 12
    assert total(got, "nv_inference_request_success", {"model": "sentiment"}) == 5
    assert total(got, 'nv_inference_request_success{model="other"}', {"model": "sentiment"}) == 7
    assert total(got, "no_such_metric", {}) is None
    assert total(got, "", {}) is None


def test_histogram_and_counter_suffixes_are_sample_names() -> None:
    text = """# TYPE req counter
req_total{endpoint="/predict"} 41.0
req_total{endpoint="/livez"} 3.0
# TYPE dur histogram
dur_bucket{endpoint="/predict",le="+Inf"} 41.0
dur_sum{endpoint="/predict"} 5.5
dur_count{endpoint="/predict"} 41.0
"""
    got = parse(text)
    assert total(got, "req_total", {"endpoint": "/predict"}) == 41
    assert total(got, "dur_sum", {"endpoint": "/predict"}) == 5.5


def test_delta_per_request_split_batch_size_and_match() -> None:
    before = parse(triton_text(10, 1_000, 5_000, 10))
    after = parse(triton_text(110, 301_000, 405_000, 35))
    d = delta(TRITON_SPEC, "http://x/metrics", before, after, samples([200] * 100))
    assert d.requests == 100 and d.harness_ok == 100 and d.harness_sent == 100
    assert d.queue_ms == pytest.approx(3.0) and d.compute_ms == pytest.approx(4.0)
    assert d.batch_size == pytest.approx(4.0)  # 100 inferences in 25 executions
    assert d.counter_matches is True


def test_a_counter_that_disagrees_is_a_mismatch() -> None:
    before, after = parse(triton_text(0, 0, 0, 0)), parse(triton_text(98, 0, 0, 98))
    d = delta(TRITON_SPEC, "e", before, after, samples([200] * 100 + [503, -2]))
    assert (d.requests, d.harness_ok, d.harness_sent) == (98, 100, 102)
    assert d.counter_matches is False


def test_family_appearing_with_the_first_request_counts_from_zero() -> None:
    d = delta(TRITON_SPEC, "e", {}, parse(triton_text(7, 70, 70, 7)), samples([200] * 7))
    assert d.requests == 7 and d.counter_matches is True


def test_unreported_parts_stay_none() -> None:
    spec = MetricsSpec(port="http", requests="req_total")
    text = "# TYPE req counter\nreq_total {}\n"
    d = delta(spec, "e", parse(text.format(1)), parse(text.format(5)), None)
    assert d.requests == 4 and d.queue_ms is None and d.batch_size is None and d.counter_matches is None


def test_merge_sums_segments_and_keeps_errors() -> None:
    a = ServerMetricsDelta("e", requests=10, harness_ok=10, harness_sent=10, queue_s=0.1, compute_s=0.2,
                           batches=5)
    b = ServerMetricsDelta("e", requests=30, harness_ok=31, harness_sent=31, queue_s=0.3, compute_s=0.6,
                           batches=5)
    m = merge([a, b])
    assert m.requests == 40 and m.harness_ok == 41 and m.batches == 10 and m.counter_matches is False
    assert m.queue_ms == pytest.approx(10.0) and m.request_ms is None
    assert merge([a, ServerMetricsDelta("e", error="after the step: refused")]).error.endswith("refused")
    assert merge([None]) is None


class _Handler(BaseHTTPRequestHandler):
    body = b""
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_scraper_over_real_http(endpoint) -> None:
    _Handler.status, _Handler.body = 200, triton_text(3, 30, 60, 3).encode()
    scraper = MetricsScraper(TRITON_SPEC, endpoint.server_address[1])
    before = scraper.before()
    _Handler.body = triton_text(8, 80, 160, 4).encode()
    d = scraper.after(before, samples([200] * 5))
    assert d.error is None and d.requests == 5 and d.batch_size == pytest.approx(5.0)
    assert d.endpoint == f"http://127.0.0.1:{endpoint.server_address[1]}/metrics"


def test_scrape_errors_are_named(endpoint) -> None:
    _Handler.status, _Handler.body = 404, b"not here"
    with pytest.raises(ScrapeError, match="HTTP 404"):
        scrape(endpoint.server_address[1], TRITON_SPEC)
    scraper = MetricsScraper(TRITON_SPEC, endpoint.server_address[1])
    d = scraper.after(scraper.before(), None)
    assert d.error.startswith("before the step") and d.requests is None


def test_run_records_why_a_framework_is_not_scraped() -> None:
    from servingbench.frameworks import load_adapter
    from servingbench.run import metrics_scraper
    from servingbench.servers.target import HttpTarget

    baseline = load_adapter("baseline")
    scraper, why = metrics_scraper(baseline, HttpTarget(baseline, "127.0.0.1", 1, kind="local"))
    assert scraper is None and "exposes nothing" in why
    bentoml = load_adapter("bentoml")
    scraper, why = metrics_scraper(bentoml, HttpTarget(bentoml, "10.0.0.1", 80, kind="remote"))
    assert scraper is None and "remote" in why


def test_every_declared_endpoint_port_is_one_the_adapter_opens() -> None:
    from servingbench.frameworks import available, load_adapter

    for name in available():
        adapter = load_adapter(name)
        if adapter.metrics is not None:
            assert adapter.metrics.port in adapter.port_names, name
            assert adapter.metrics.requests, f"{name}: a metrics spec needs a request counter"
        else:
            assert adapter.metrics_absent, name
        if adapter.metrics_switch:
            assert adapter.metrics is not None, f"{name}: a switch without an endpoint to check it by"


def test_observability_pools_each_arm_and_refuses_frameworks_without_a_switch() -> None:
    from servingbench.observability import ObservabilityCost, _arm, check_framework, describe
    from tests.test_record import opened

    with pytest.raises(ValueError, match=r"cannot switch its own metrics off.*frameworks that can"):
        check_framework("baseline")
    rng = np.random.default_rng(1)

    def run(shift: float) -> tuple:
        step = opened(20.0, 20.0, 30.0, "fixed load", "arm")  # window 2000-2005, server CPU 2.0 s
        rows = np.zeros((400, 5))
        rows[:, 0] = np.linspace(2000.0, 2004.0, 400)
        rows[:, 1] = rng.exponential(5.0, 400) + shift
        rows[:, 2] = 200
        return step, rows, "counter present"

    on, off = _arm(True, [run(5.0), run(5.0)]), _arm(False, [run(0.0), run(0.0)])
    assert on.requests == off.requests == 800 and on.failures == 0
    assert on.p99_ms > off.p99_ms and on.p99_low_ms <= on.p99_ms <= on.p99_high_ms
    assert on.cpu_ms_per_request == pytest.approx(4000.0 / 800)
    cost = ObservabilityCost("triton", "a switch", 20.0, 5.0, 1, {}, "d", on, off)
    assert cost.p99_difference_ms == pytest.approx(on.p99_ms - off.p99_ms)
    assert "p99 on - off" in describe(cost)


def test_run_page_shows_the_split_and_a_mismatch_as_a_finding(tmp_path) -> None:
    import json

    from servingbench.report.pages import write_reports
    from tests.test_report_data import write_run

    folder = write_run(tmp_path, "triton", "default", "2026-01-01T00:00:00+00:00")
    doc = json.loads((folder / "run.json").read_text())
    doc["metrics_endpoint"] = "http://127.0.0.1:9/metrics: test"
    good = ServerMetricsDelta("e", 100, 100, 100, 0.3, 0.4, 0.8, 25, 100).to_dict()
    bad = ServerMetricsDelta("e", 97, 100, 101, 0.3, 0.4, 0.8, 25, 97).to_dict()
    doc["steps"][0]["server_metrics"], doc["steps"][1]["server_metrics"] = good, bad
    (folder / "run.json").write_text(json.dumps(doc))
    write_reports(tmp_path, tmp_path / "reports")
    page = (tmp_path / "reports" / "runs" / f"{folder.name}.html").read_text()
    assert 'id="server-metrics"' in page and 'id="counter-mismatch"' in page
    assert "server 97, harness 100" in page and "3.00" in page and "4.00" in page  # ms per request
    doc["steps"][1]["server_metrics"] = good
    (folder / "run.json").write_text(json.dumps(doc))
    write_reports(tmp_path, tmp_path / "reports")
    page = (tmp_path / "reports" / "runs" / f"{folder.name}.html").read_text()
    assert 'id="counter-match"' in page and 'id="counter-mismatch"' not in page


def test_a_lagging_exporter_is_waited_for_before_and_after(endpoint) -> None:
    """Ray-like: the counter publishes late. Before the step the scraper waits for it to stand still;
    after it, until it reaches the harness's count (both bounded)."""
    import time

    spec = MetricsSpec(port="metrics", requests="nv_inference_request_success", labels={"model": "sentiment"},
                       settle_s=3.0, settle_poll_s=0.1, quiet_s=0.5)
    scraper = MetricsScraper(spec, endpoint.server_address[1])
    _Handler.status, _Handler.body = 200, triton_text(3, 0, 0, 3).encode()
    timer = threading.Timer(0.3, lambda: setattr(_Handler, "body", triton_text(4, 0, 0, 4).encode()))
    timer.start()  # the warm-up's last request shows up 0.3 s late
    started = time.monotonic()
    before = scraper.before()
    assert time.monotonic() - started >= 0.75  # 0.3 s until it moved, then 0.5 s standing still
    timer2 = threading.Timer(0.4, lambda: setattr(_Handler, "body", triton_text(9, 0, 0, 9).encode()))
    timer2.start()
    d = scraper.after(before, samples([200] * 5))
    assert d.requests == 5 and d.counter_matches
