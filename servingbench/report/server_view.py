"""The run page's server-side view: each step's own counters from the framework (measure.server_metrics).

A row per measured step that was scraped; a mismatch between the server's request count and the
harness's is a finding, listed above the table, never smoothed over.
"""

from __future__ import annotations

from dataclasses import dataclass

from servingbench.measure.server_metrics import ServerMetricsDelta
from servingbench.report.model import RunView


@dataclass(frozen=True)
class ServerRow:
    step: str
    what: str
    """"closed, 4 users" or "open, 20 req/s (fixed load)"."""
    metrics: ServerMetricsDelta


def server_rows(view: RunView) -> list[ServerRow]:
    """The scraped steps of a run in the order they ran (closed-loop steps, then open-loop ones)."""
    rows = [ServerRow(s.name, f"closed, {s.users} users", s.server_metrics)
            for s in view.record.steps if s.server_metrics is not None]
    rows += [ServerRow(s.name, f"open, {s.rate_rps:g} req/s" + (f" ({s.purpose})" if s.purpose else ""),
                       s.server_metrics) for s in view.record.open_steps if s.server_metrics is not None]
    return rows


def mismatches(rows: list[ServerRow]) -> list[ServerRow]:
    """Steps whose server-side request count differs from the harness's successful responses."""
    return [r for r in rows if r.metrics.counter_matches is False]
