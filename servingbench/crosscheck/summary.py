"""LoadGen's verdict as it wrote it: mlperf_log_summary.txt read into a typed record.

Why parse the summary file rather than ask the library: the file is LoadGen's own statement of the
result (what an MLPerf reviewer reads), the Python bindings return nothing from StartTest, and a kept
summary can be re-read later. The format is "key : value" lines in sections; the validity lines, the
early-stopping text and the latency percentiles (ns) are what the cross-check needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from servingbench.record.serial import Record

PERCENTILE_LINE = re.compile(r"^(\d+(?:\.\d+)?) percentile latency \(ns\)\s*:\s*(\d+)")


class SummaryError(ValueError):
    """Not a LoadGen summary (or one without its result line)."""


@dataclass(frozen=True)
class LoadgenSummary(Record):
    """The figures of one LoadGen run that the cross-check shows and judges."""

    result: str
    """"VALID" or "INVALID": every constraint LoadGen checks (latency percentile, duration, early
    stopping) met, or not."""
    scenario: str
    mode: str
    perf_constraints_met: bool | None
    """The target percentile of the latencies within the bound (Server scenario only)."""
    min_duration_met: bool
    min_queries_met: bool | None
    """None where LoadGen skipped the check ("Skipped")."""
    early_stopping_met: bool
    early_stopping: str
    """LoadGen's early-stopping text (" * Run successful." or how many more queries a pass needs)."""
    recommendations: list[str] = field(default_factory=list)
    completed_qps: float | None = None
    scheduled_qps: float | None = None
    target_qps: float | None = None
    target_latency_ns: int | None = None
    min_duration_ms: int | None = None
    min_query_count: int | None = None
    latency_ns: dict[str, int] = field(default_factory=dict)
    """min, max, mean and "p50" ... "p99.9" of every query's latency from its scheduled time."""
    query_count: int | None = None
    overlatency_count: int | None = None
    """Queries whose latency exceeded the bound (from mlperf_log_detail.txt)."""
    loadgen_version: str = ""

    @property
    def valid(self) -> bool:
        return self.result == "VALID"

    @property
    def p99_ms(self) -> float | None:
        value = self.latency_ns.get("p99")
        return value / 1e6 if value is not None else None


def _flag(value: str) -> bool | None:
    lowered = value.strip().lower()
    return {"yes": True, "no": False}.get(lowered)


def _number(value: str) -> float | None:
    try:
        return float(value.strip())
    except ValueError:
        return None


def _label(percentile: str) -> str:
    return "p" + (percentile.rstrip("0").rstrip(".") if "." in percentile else percentile)


def _pairs(lines: list[str]) -> dict[str, str]:
    """Every "key : value" line, keys stripped (the first occurrence wins)."""
    pairs: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in pairs:
            pairs[key.strip()] = value.strip()
    return pairs


def _block(lines: list[str], title: str) -> list[str]:
    """The lines after ``title`` up to the next blank line or section title."""
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == title) + 1
    except StopIteration:
        return []
    block = []
    for line in lines[start:]:
        if not line.strip() or line.startswith(("=", "Early Stopping Result", "Recommendations")):
            break
        block.append(line.rstrip())
    return block


def parse_summary(text: str) -> LoadgenSummary:
    """mlperf_log_summary.txt as a LoadgenSummary; SummaryError when it has no "Result is" line."""
    lines = text.splitlines()
    pairs = _pairs(lines)
    if pairs.get("Result is") not in ("VALID", "INVALID"):
        raise SummaryError("not a LoadGen summary: no 'Result is : VALID|INVALID' line")
    latency: dict[str, int] = {}
    for name in ("Min", "Max", "Mean"):
        value = _number(pairs.get(f"{name} latency (ns)", ""))
        if value is not None:
            latency[name.lower()] = int(value)
    for line in lines:
        match = PERCENTILE_LINE.match(line.strip())
        if match:
            latency[_label(match.group(1))] = int(match.group(2))
    return LoadgenSummary(
        result=pairs["Result is"],
        scenario=pairs.get("Scenario", ""),
        mode=pairs.get("Mode", ""),
        perf_constraints_met=_flag(pairs.get("Performance constraints satisfied", "")),
        min_duration_met=bool(_flag(pairs.get("Min duration satisfied", ""))),
        min_queries_met=_flag(pairs.get("Min queries satisfied", "")),
        early_stopping_met=bool(_flag(pairs.get("Early stopping satisfied", ""))),
        early_stopping="\n".join(_block(lines, "Early Stopping Result:")),
        recommendations=[line.strip()[2:] for line in _block(lines, "Recommendations:")
                         if line.strip().startswith("* ")],
        completed_qps=_number(pairs.get("Completed samples per second", "")),
        scheduled_qps=_number(pairs.get("Scheduled samples per second", "")),
        target_qps=_number(pairs.get("target_qps", "")),
        target_latency_ns=_int(pairs.get("target_latency (ns)", "")),
        min_duration_ms=_int(pairs.get("min_duration (ms)", "")),
        min_query_count=_int(pairs.get("min_query_count", "")),
        latency_ns=latency,
    )


DETAIL_KEYS = {"result_query_count": "query_count", "result_overlatency_query_count": "overlatency_count",
               "loadgen_version": "loadgen_version"}


def with_detail(summary: LoadgenSummary, detail_text: str) -> LoadgenSummary:
    """The summary with the counts and version that only mlperf_log_detail.txt (":::MLLOG {json}") has."""
    found: dict[str, object] = {}
    for line in detail_text.splitlines():
        if not line.startswith(":::MLLOG "):
            continue
        try:
            entry = json.loads(line[len(":::MLLOG "):])
        except ValueError:
            continue
        name = DETAIL_KEYS.get(entry.get("key"))
        if name and name not in found:
            found[name] = entry.get("value")
    return replace(summary, **found)


def _int(value: str) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None
