"""The server's own view of a step: its Prometheus metrics scraped right before and right after the load.

Each adapter that exposes metrics declares where and which sample names mean what (adapter.MetricsSpec);
the text is parsed with prometheus_client's parser, and a step records the difference of the cumulative
samples over the scraped interval (ServerMetricsDelta): requests the server counted, its queue, compute
and request time, and the batches it ran. Per request and per batch figures are derived from those sums.

The scrape brackets the step's whole Locust run (settle time included), so the server's request counter
is compared with *every* request Locust got an answer to in that run, not only the measured window's:
``harness_ok``. A difference is a finding (the counter counts something else, loses requests, or lags),
shown on the run page, never hidden.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from servingbench.adapter import HttpRequest, MetricsSpec
from servingbench.polling import poll_until
from servingbench.record.serial import Record

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Sample name and labels -> value, as one scrape gave them."""
MATCH_TOLERANCE = 0
"""Counters are exact: any difference between the server's count and the harness's is reported."""


class ScrapeError(RuntimeError):
    """The metrics endpoint did not answer with Prometheus text."""


def _name(sample_name: str) -> str:
    """A sample name without a counter's ``_total``: prometheus_client's parser adds ``_total`` to counter
    samples written without it (Triton's ``nv_inference_request_success``), so both spellings must meet."""
    return sample_name.removesuffix("_total")


def parse(text: str) -> Samples:
    """Prometheus text exposition -> samples (prometheus_client's parser; histogram _sum/_count kept)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(_name(sample.name), frozenset(sample.labels.items()))] = float(sample.value)
    return out


def selector(spec_name: str, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """``name{k="v",...}`` -> (name, its labels); a bare name takes ``labels`` (the spec's default)."""
    if "{" not in spec_name:
        return spec_name, dict(labels)
    name, _, rest = spec_name.partition("{")
    pairs = [p.split("=", 1) for p in rest.rstrip("}").split(",") if p.strip()]
    return name, {k.strip(): v.strip().strip('"') for k, v in pairs}


def total(samples: Samples, name: str, labels: Mapping[str, str]) -> float | None:
    """Sum of the samples called ``name`` whose labels include ``labels``; None when there is none.

    ``name`` may carry its own selector (``name{k="v"}``), which then replaces ``labels``.
    """
    if not name:
        return None
    name, wanted = selector(name, labels)
    name, want = _name(name), set(wanted.items())
    found = [v for (n, lab), v in samples.items() if n == name and want <= lab]
    return sum(found) if found else None


def scrape(port: int, spec: MetricsSpec, host: str = "127.0.0.1", timeout: float = 5.0) -> Samples:
    """One GET of the metrics endpoint, parsed; raises ScrapeError on anything but Prometheus text."""
    from servingbench.servers.net import http_send

    try:
        status, body = http_send(host, port, HttpRequest("GET", spec.path, b"", {}), timeout)
    except OSError as exc:
        raise ScrapeError(f"{spec.path} on port {port}: {type(exc).__name__}: {exc}") from exc
    if status != 200:
        raise ScrapeError(f"{spec.path} on port {port} answered HTTP {status}")
    try:
        return parse(body.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ScrapeError(f"{spec.path} on port {port}: not Prometheus text ({exc})") from exc


@dataclass(frozen=True)
class ServerMetricsDelta(Record):
    """What the server's own counters say happened over one step's Locust run (after minus before)."""

    endpoint: str
    requests: float | None = None
    """Inference requests the server counted (its request counter's increase)."""
    harness_ok: int | None = None
    """Successful responses Locust recorded over the same run (settle time included)."""
    harness_sent: int | None = None
    """Every request Locust recorded over the run, failed ones included."""
    queue_s: float | None = None
    compute_s: float | None = None
    request_s: float | None = None
    """Server-side request duration, where the framework times whole requests rather than the parts."""
    batches: float | None = None
    """Model executions (batches) the server ran; achieved batch size = batched_items / batches."""
    batched_items: float | None = None
    error: str | None = None
    """Why there are no figures (the scrape failed before or after)."""

    def per_request_ms(self, seconds: float | None) -> float | None:
        if seconds is None or not self.requests:
            return None
        return seconds * 1000 / self.requests

    @property
    def queue_ms(self) -> float | None:
        return self.per_request_ms(self.queue_s)

    @property
    def compute_ms(self) -> float | None:
        return self.per_request_ms(self.compute_s)

    @property
    def request_ms(self) -> float | None:
        return self.per_request_ms(self.request_s)

    @property
    def batch_size(self) -> float | None:
        items = self.batched_items if self.batched_items is not None else self.requests
        return items / self.batches if self.batches and items is not None else None

    @property
    def counter_matches(self) -> bool | None:
        """The server's request count equals the harness's successful responses (None: nothing to compare)."""
        if self.requests is None or self.harness_ok is None:
            return None
        return abs(self.requests - self.harness_ok) <= MATCH_TOLERANCE


def _increase(spec: MetricsSpec, before: Samples, after: Samples, name: str) -> float | None:
    a, b = total(before, name, spec.labels), total(after, name, spec.labels)
    if b is None:
        return None
    return b - (a or 0.0)  # a family that appears with the first request starts from zero


def delta(spec: MetricsSpec, endpoint: str, before: Samples, after: Samples,
          load_samples: np.ndarray | None) -> ServerMetricsDelta:
    """The step's record from two scrapes and the Locust run's raw samples (status in column 2)."""
    unit = spec.time_unit_s
    times = {k: _increase(spec, before, after, getattr(spec, k)) for k in ("queue_time", "compute_time",
                                                                           "request_time")}
    ok = sent = None
    if load_samples is not None:
        ok, sent = int((load_samples[:, 2] == 200).sum()), int(load_samples.shape[0])
    return ServerMetricsDelta(
        endpoint=endpoint,
        requests=_increase(spec, before, after, spec.requests),
        harness_ok=ok, harness_sent=sent,
        queue_s=None if times["queue_time"] is None else times["queue_time"] * unit,
        compute_s=None if times["compute_time"] is None else times["compute_time"] * unit,
        request_s=None if times["request_time"] is None else times["request_time"] * unit,
        batches=_increase(spec, before, after, spec.batches),
        batched_items=_increase(spec, before, after, spec.batched_items),
    )


class MetricsScraper:
    """Scrapes one server's endpoint around each step (StepContext.metrics)."""

    def __init__(self, spec: MetricsSpec, port: int, host: str = "127.0.0.1") -> None:
        self.spec, self.port, self.host = spec, port, host
        self.endpoint = f"http://{host}:{port}{spec.path}"

    def before(self) -> Samples | ScrapeError:
        try:
            return self._quiet()
        except ScrapeError as exc:
            return exc

    def _quiet(self) -> Samples:
        """The scrape before a step; with ``quiet_s``, once the counter has stood still that long."""
        first = scrape(self.port, self.spec, self.host)
        if self.spec.quiet_s <= 0:
            return first
        count, still_since = self._count(first), time.monotonic()
        scrapes = itertools.chain([first], iter(lambda: scrape(self.port, self.spec, self.host), None))

        def next_scrape() -> Samples:
            """The first attempt is the scrape just taken; a moving counter restarts the quiet period."""
            nonlocal count, still_since
            now = next(scrapes)
            if self._count(now) != count:
                count, still_since = self._count(now), time.monotonic()
            return now

        spec = self.spec
        polled = poll_until(next_scrape, until=lambda _: time.monotonic() - still_since >= spec.quiet_s,
                            timeout_s=spec.quiet_s + spec.settle_s, interval_s=spec.settle_poll_s)
        return polled.value if polled.value is not None else first

    def _count(self, samples: Samples) -> float | None:
        return total(samples, self.spec.requests, self.spec.labels)

    def after(self, before: Samples | ScrapeError, load_samples: np.ndarray | None) -> ServerMetricsDelta:
        """The step's delta; a lagging exporter (spec.settle_s) is polled until its counter stops moving."""
        if isinstance(before, ScrapeError):
            return ServerMetricsDelta(self.endpoint, error=f"before the step: {before}")
        expected = int((load_samples[:, 2] == 200).sum()) if load_samples is not None else None
        try:
            after = self._settled(before, expected)
        except ScrapeError as exc:
            return ServerMetricsDelta(self.endpoint, error=f"after the step: {exc}")
        return delta(self.spec, self.endpoint, before, after, load_samples)

    def _settled(self, before: Samples, expected: int | None) -> Samples:
        """The scrape after a step; an exporter that publishes late (``settle_s`` > 0) is polled until its
        counter has risen by the harness's count, or the bound ends (then what it says is what is shown)."""
        if expected is None:
            return scrape(self.port, self.spec, self.host)
        spec = self.spec
        polled = poll_until(lambda: scrape(self.port, spec, self.host),
                            until=lambda after: _increase(spec, before, after, spec.requests) == expected,
                            timeout_s=spec.settle_s, interval_s=spec.settle_poll_s)
        assert polled.value is not None  # the check returns or raises (not retried): always a value
        return polled.value


def merge(deltas: list[ServerMetricsDelta | None]) -> ServerMetricsDelta | None:
    """One delta for a probe's segments: sums of what every segment measured (None parts stay None)."""
    present = [d for d in deltas if d is not None]
    if not present:
        return None
    errors = [d.error for d in present if d.error]
    if errors:
        return ServerMetricsDelta(present[0].endpoint, error=errors[0])

    def add(name: str) -> float | None:
        values = [getattr(d, name) for d in present]
        return None if any(v is None for v in values) else sum(values)

    return ServerMetricsDelta(present[0].endpoint, requests=add("requests"), harness_ok=add("harness_ok"),
                              harness_sent=add("harness_sent"), queue_s=add("queue_s"),
                              compute_s=add("compute_s"), request_s=add("request_s"), batches=add("batches"),
                              batched_items=add("batched_items"))
