"""REST vs gRPC per framework: the one place runs of different transports are set side by side.

The ranking and the history never mix transports (RunView.setting names gRPC); this table pairs, per
framework and preset, the newest complete, parity-passed REST run with the newest gRPC run of the same
setting (machine, SLO, profile, CPU sets) and shows what each measured: throughput at the SLO with its
bracket, p99 at the fixed load with its 95% interval, CPU-ms per request, and the verdict of
measure.comparison on their throughput intervals (ahead, tied or unproven: never a bare difference).
"""

from __future__ import annotations

from dataclasses import dataclass

from servingbench.measure import comparison as stat
from servingbench.report.model import RunView


@dataclass(frozen=True)
class ProtocolFigures:
    """What one run of the pair measured, as the table shows it."""

    run: RunView
    throughput_rps: float | None
    bracket: tuple[float, float | None] | None
    """(highest rate that held, lowest that failed; None: none failed)."""
    p99_ms: float | None
    p99_ci_ms: tuple[float | None, float | None] | None
    cpu_ms_per_request: float | None

    @classmethod
    def of(cls, run: RunView) -> ProtocolFigures:
        search = run.record.slo_search
        bracket = search.bracket_rps if search is not None else None
        step = run.fixed_load.step or {}
        ci = ((step.get("latency") or {}).get("percentile_ci_ms") or {}).get("p99")
        return cls(run, run.throughput_at_slo_rps, bracket, run.fixed_load.p99_shown_ms,
                   (ci[0], ci[1]) if isinstance(ci, list | tuple) and len(ci) == 2 else None,
                   run.cpu_ms_per_request)


@dataclass(frozen=True)
class ProtocolRow:
    framework: str
    preset: str
    rest: ProtocolFigures
    grpc: ProtocolFigures
    verdict: str
    """"gRPC ahead", "REST ahead", "tied", "unproven" or why there is no verdict."""
    why: str


def protocol_rows(views: list[RunView]) -> list[ProtocolRow]:
    """One row per (framework, preset, setting) that has both a REST and a gRPC run, newest of each."""
    newest: dict[tuple[str, str, str, str], RunView] = {}
    for view in sorted(views, key=lambda v: v.sort_time):
        if view.comparable:
            newest[(view.framework, view.preset, view.base_setting, view.transport)] = view
    rows = []
    for (framework, preset, setting, transport), rest in sorted(newest.items()):
        grpc = newest.get((framework, preset, setting, "grpc"))
        if transport != "rest" or grpc is None:
            continue
        verdict, why = _verdict(rest, grpc)
        rows.append(ProtocolRow(framework, preset, ProtocolFigures.of(rest), ProtocolFigures.of(grpc),
                                verdict, why))
    return rows


def _verdict(rest: RunView, grpc: RunView) -> tuple[str, str]:
    if not (rest.held and grpc.held):
        return "no verdict", "a rate must hold the SLO in every confirmation of both runs"
    if rest.interval is None or grpc.interval is None:
        return "unproven", "a run has no usable confirmations to build an interval from"
    result = stat.compare(grpc.interval, rest.interval, names=("gRPC", "REST"), unit="req/s")
    if result.verdict == "ahead":
        return f"{result.better} ahead", result.explain()
    return result.verdict, result.explain()
