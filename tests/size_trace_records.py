"""Size and trace results with every field set, for the record round-trip and the page tests."""

from __future__ import annotations

from servingbench.scenarios.figures import step_figures
from servingbench.scenarios.records import SizePoint, SizeResult, TraceResult, TraceTimeline
from tests.test_record import opened


def size_result() -> SizeResult:
    points = [SizePoint(tokens=n, tokens_min=n - 2, tokens_max=n, tokens_model=min(n, 128), texts=32,
                        requests_file=f"scenarios/size/size_{n}.requests.json",
                        step=step_figures(opened(20.0, 19.5, 10.0 + n / 4, "scenario size", f"size_{n}"),
                                          f"scenarios/size/size_{n}.samples.npy"))
              for n in (8, 64, 128, 256)]
    return SizeResult(rate_rps=20.0, max_length=128, points=points, padding="pads to the longest",
                      wall_s=51.5)


def trace_result() -> TraceResult:
    step = step_figures(opened(9.5, 9.4, 140.0, "scenario trace", "trace"),
                        "scenarios/trace/trace.samples.npy")
    line = TraceTimeline(offered=[3, 12, 9], goodput=[3, 10, 11], failed=[0, 1, 0],
                         p99_ms=[12.0, 250.0, None], over_slo=[False, True, False])
    return TraceResult(trace="loadtests/traces/diurnal_bursts.csv", trace_sha256="ab" * 32, example=True,
                       speed=2.0, columns="offset_s,text_id", arrivals=24, trace_s=3, tail_s=5.0,
                       slo_p99_ms=100.0, step=step, timeline_start=2000.0, timeline=line, seconds_over_slo=1,
                       goodput_ratio=0.96, peak_rate_rps=12, wall_s=20.0)
