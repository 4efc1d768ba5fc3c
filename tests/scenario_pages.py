"""Checks that the overload and burst figures on a page equal what the raw samples files give.

Shared by the unit test on synthetic samples (tests/test_scenario_pages.py) and the real-server test
(tests/integration/test_scenarios_baseline.py): each figure is recomputed from the samples with the
statistics module, never read back from run.json.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from servingbench.load.failures import count_kinds
from servingbench.measure import stats
from servingbench.measure.recovery import timeline

ROW = re.compile(r'<tr data-(step|t|phase)="([^"]+)"(.*?)</tr>', re.S)
FIELD = re.compile(r'data-field="([a-z_0-9]+)"(?: data-value="([^"]*)")?')


def table_rows(html: str, table_id: str) -> dict[str, dict[str, float | None]]:
    """{row key: {field: value}} of one table of the page (None: the page shows a dash)."""
    start = html.index(f'id="{table_id}"')
    body = html[start:html.index("</table>", start)]
    return {key: {f: (float(v) if v else None) for f, v in FIELD.findall(cells)}
            for _, key, cells in ROW.findall(body)}


def check_overload_page(html: str, folder: Path) -> int:
    """Every overload step's goodput, p50, p99 and request counts on the page equal its samples'."""
    rows = table_rows(html, "overload-table")
    assert rows, "no overload rows on the page"
    for name, fields in rows.items():
        samples = np.load(folder / "load" / f"{name}.samples.npy")
        found = re.search(rf'data-step="{re.escape(name)}" data-samples="[^"]*" data-window="([^"]+)"', html)
        assert found, f"no window for {name}"
        start, end = (float(x) for x in found.group(1).split())
        measure_s = end - start
        window = stats.sent_in_window(samples, start, end)
        good = stats.completed_ok_in_window(samples, start, end)
        pct = stats.exact_percentiles(stats.ok_latencies(window))
        # the window's length read back from two epoch timestamps (~1.8e9 s) carries float64's rounding,
        # ~4e-7 s: relative 1e-6 on a window of a second or more still catches any miscount of one request
        assert fields["goodput_rps"] == pytest.approx(good / measure_s, rel=1e-6), name
        assert fields["completed_ok"] == good and fields["requests"] == window.shape[0], name
        for key in ("p50", "p99"):  # no successful request: NaN, shown as a dash
            want = None if np.isnan(pct[key]) else pytest.approx(pct[key], rel=1e-9)
            assert fields[f"{key}_ms"] == want, (name, key)
    return len(rows)


def check_burst_page(html: str, folder: Path) -> int:
    """The per-second p99 and goodput and the requests lost on the page equal the samples'."""
    samples = np.load(folder / "load" / "burst.samples.npy")
    found = re.search(r'id="burst-timeline" data-window="([^"]+)"', html)
    assert found, "no burst window on the page"
    start, end = (float(x) for x in found.group(1).split())
    measure_s = end - start
    seconds = timeline(samples, start, end)
    rows = table_rows(html, "burst-timeline")
    assert len(rows) == len(seconds)
    for s in seconds:
        fields = rows[repr(float(s.t_s))]
        assert fields["goodput_rps"] == pytest.approx(s.goodput_rps, rel=1e-9), s
        assert fields["p99_ms"] == (pytest.approx(s.p99_ms, rel=1e-9) if s.p99_ms is not None else None), s
    window = stats.sent_in_window(samples, start, start + measure_s)
    lost = sum(count_kinds(window[:, 2]).values())
    assert re.search(rf'id="burst-lost" data-value="{lost}"', html), lost
    return len(seconds)
