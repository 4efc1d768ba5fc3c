"""The reports in a real browser: Playwright driving the system Chromium over results folders built here.

The results are written the way record/results.py publishes them (tests/test_report_data.py: ranked runs with
repeats, a tie, an unproven lead, costs, a failed run), and reports/ is built from them by the CLI. Then
headless Chromium (/usr/bin/chromium, Playwright's ``executable_path``: its own browser download is never
used) opens the pages from the file system and from a web server serving reports/ alone, and checks: no
console errors, uncaught exceptions or failed loads; every number in the ranking equals the results files;
every link answers; the ranking fits a 1,280 px window with no sideways scroll and the page stays usable
at a 390 px phone width. Screenshots go to $SERVINGBENCH_TEST_ARTIFACTS, else pytest's temporary folder.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

from servingbench.report.format import fmt
from tests.test_report_data import held_search, write_run

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is not installed: run scripts/install-system-deps.sh (make test does)")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are kept: $SERVINGBENCH_TEST_ARTIFACTS (CI uploads it), else pytest's tmp dir."""
    given = os.environ.get("SERVINGBENCH_TEST_ARTIFACTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """One page of a fresh browser context, with every error it reported since the last ``goto``."""

    def __init__(self, browser: object, viewport: dict) -> None:
        self.context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type in ("error", "assert") and self.problems.append(
            f"console.{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"load failed: {r.url} {r.failure}"))

    def goto(self, url: str) -> Tab:
        self.problems.clear()
        response = self.page.goto(url, wait_until="load")
        assert response is None or response.ok, url  # file:// pages have no response
        return self

    def js(self, expression: str) -> object:
        return self.page.evaluate(expression)

    def shot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def tab(browser: object) -> Iterator[Tab]:
    t = Tab(browser, LAPTOP)
    yield t
    t.close()


@pytest.fixture()
def phone(browser: object) -> Iterator[Tab]:
    t = Tab(browser, PHONE)
    yield t
    t.close()


def _held(root: Path, name: str, preset: str, achieved: list[float], usd: float, p99: float) -> None:
    tput = sorted(achieved)[len(achieved) // 2]
    cost = {"instance": "c7i.large", "usd_per_hour": 0.0446, "usd_per_million": usd, "assumption": "1 vCPU",
            "price_source": "a page", "price_date": "2026-10-01"}
    write_run(root, name, preset, tput=tput, p99_1=p99,
              summary_extra={"throughput_at_slo_spread": [min(achieved), max(achieved)], "cost": cost,
                             "fixed_load_rps": 20, "p50_ms_at_fixed_load": round(p99 / 3, 3),
                             "p99_ms_at_fixed_load": p99},
              extra={"slo_search": held_search(achieved, achieved[0])})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """results/ with six configurations and a failed run, and reports/ built from it by the CLI."""
    root = tmp_path_factory.mktemp("browser")
    results, reports = root / "results", root / "reports"
    results.mkdir()
    _held(results, "alpha", "tuned", [140.0, 141.0, 142.0], 0.09, 55.0)
    _held(results, "alpha", "default", [99.0, 100.0, 101.0], 0.12, 40.0)
    _held(results, "beta", "default", [94.0, 95.0, 96.0], 0.1263, 30.0)
    _held(results, "gamma", "tuned", [59.0, 60.0, 61.0], 0.2, 70.0)
    _held(results, "rayserve", "default", [30.0], 0.5, 90.0)
    _held(results, "torchserve", "tuned-with-a-long-preset-name", [44.0, 45.0, 46.0], 0.3, 65.4321)
    write_run(results, "seldon", "default", status="failed", reason="LaunchError: port busy " * 20)
    report = subprocess.run([sys.executable, "-m", "servingbench", "report", "--results", str(results),
                             "--out", str(reports)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    return reports, results


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """reports/ alone behind a plain web server, as GitHub Pages would publish it."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


RANKING_JS = """[...document.querySelectorAll('#ranking tbody tr:has(td[data-metric=rank])')].map(tr => ({
  run: tr.dataset.runId, rank: tr.querySelector('[data-metric=rank]').textContent.trim(),
  cells: Object.fromEntries([...tr.querySelectorAll('td[data-metric]')].map(td =>
      [td.dataset.metric, {text: td.childNodes[0] ? td.childNodes[0].textContent.trim() : '',
                           value: td.dataset.value === undefined ? null : Number(td.dataset.value)}]))}))"""

LINKS_JS = """async () => {
  const out = [];
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href') || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href');
    if (!href || href.startsWith('#')) continue;
    const r = await fetch(new URL(href, document.baseURI));
    await r.arrayBuffer();  // read it whole: a body left streaming is aborted by the next navigation
    out.push([href, r.status]);
  }
  return out;
}"""

OVERFLOW_JS = "document.documentElement.scrollWidth - window.innerWidth"
RANKING_OVERFLOW_JS = """(() => { const right = e => e.getBoundingClientRect().right;
  return right(document.getElementById('ranking')) - right(document.querySelector('main')); })()"""
SCROLLS_JS = """(() => { const s = document.getElementById('ranking').parentElement;
  return s.scrollWidth - s.clientWidth; })()"""

TOO_FEW = "too few samples"
# metric -> (where in run.json, digits shown, prefix)
SHOWN = {
    "throughput_at_slo_rps": (("summary", "throughput_at_slo_rps"), 1, ""),
    "p50_ms_at_fixed_load": (("summary", "p50_ms_at_fixed_load"), 2, ""),
    "p99_ms_at_fixed_load": (("summary", "p99_ms_at_fixed_load"), 2, ""),
    "cpu_ms_per_request": (("summary", "cpu_ms_per_request_at_peak"), 2, ""),
    "usd_per_million": (("summary", "cost", "usd_per_million"), 2, "$"),
    "mem_peak_mib": (("summary", "mem_peak_mib"), 0, ""),
    "time_to_ready_s": (("time_to_ready_s",), 1, ""),
}


def _field(doc: dict, path: tuple[str, ...]) -> object:
    for key in path:
        doc = doc[key]
    return doc


def test_index_has_no_errors_and_every_ranking_number_equals_the_results(built, tab, artifacts):
    reports, results = built
    tab.goto((reports / "index.html").as_uri())
    assert tab.problems == []
    rows = tab.js(RANKING_JS)
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    for row in rows:
        run = json.loads((results / row["run"] / "run.json").read_text())
        for metric, (path, digits, prefix) in SHOWN.items():
            expected = _field(run, path)
            cell = row["cells"][metric]
            assert cell["value"] == pytest.approx(expected), (row["run"], metric)
            assert cell["text"] == prefix + fmt(expected, digits), (row["run"], metric)
    sentences = tab.js("[...document.querySelectorAll('#verdict [data-sentence]')].map(p => p.textContent)")
    assert len(sentences) == 3 and "fastest" in sentences[0] and "Caveats" in sentences[2]
    points = "#plot-pareto-speed svg a, #plot-pareto-cost svg a"
    assert tab.js(f"document.querySelectorAll('{points}').length") >= 6
    tab.shot(artifacts / "report-index-1280.png")


def test_the_ranking_fits_1280_px_and_the_page_works_at_a_phone_width(built, tab, phone, artifacts):
    reports, _ = built
    index = (reports / "index.html").as_uri()
    tab.goto(index)
    assert tab.js(OVERFLOW_JS) <= 0
    assert tab.js(SCROLLS_JS) <= 0, "the ranking scrolls sideways at 1,280 px"
    assert tab.js(RANKING_OVERFLOW_JS) <= 0
    # the details moved out of the ranking open on a click, and the page still does not scroll sideways
    tab.page.click("#ranking-details > summary")
    assert tab.page.is_visible("#ranking-more") and tab.js(OVERFLOW_JS) <= 0

    phone.goto(index)
    assert phone.problems == []
    assert phone.js(OVERFLOW_JS) <= 0, "the page scrolls sideways at 390 px (tables must scroll in place)"
    assert phone.page.is_visible("#verdict") and phone.page.is_visible("#ranking")
    box = phone.page.locator("#verdict").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    phone.shot(artifacts / "report-index-390.png")


def test_run_page_has_no_errors_and_shows_the_run(built, tab, phone, artifacts):
    reports, results = built
    run_id = tab.goto((reports / "index.html").as_uri()).js("document.querySelector('#ranking a').href")
    run_id = Path(str(run_id)).stem
    run = json.loads((results / run_id / "run.json").read_text())
    tab.goto((reports / "runs" / f"{run_id}.html").as_uri())
    assert tab.problems == []
    assert tab.js("document.getElementById('run-id').textContent") == run_id
    assert tab.js("document.getElementById('throughput-at-slo').textContent") == fmt(
        run["summary"]["throughput_at_slo_rps"], 1)
    assert tab.js("document.getElementById('p99-fixed').textContent") == fmt(
        run["summary"]["p99_ms_at_fixed_load"], 2)
    steps = tab.js("""[...document.querySelectorAll('#steps tbody tr')].map(tr => ({
        users: Number(tr.dataset.users), tput: tr.querySelector('[data-field=throughput_rps]').textContent,
        p99: tr.querySelector('[data-field=p99_ms]').textContent}))""")
    assert [s["users"] for s in steps] == [s["users"] for s in run["steps"]]
    for shown, step in zip(steps, run["steps"], strict=True):
        assert (shown["tput"], shown["p99"]) == (fmt(step["throughput_rps"], 1), fmt(step["p99_ms"], 2))
    assert tab.js(OVERFLOW_JS) <= 0
    tab.shot(artifacts / "report-run-1280.png")
    phone.goto((reports / "runs" / f"{run_id}.html").as_uri())
    assert phone.problems == [] and phone.js(OVERFLOW_JS) <= 0
    phone.shot(artifacts / "report-run-390.png")
    # the page kept inside the run folder works too, and links back to the index
    tab.goto((results / run_id / "report.html").as_uri())
    assert tab.problems == [] and tab.js("document.getElementById('run-id').textContent") == run_id


def test_every_link_resolves_when_reports_are_published_alone(built, tab):
    reports, _ = built
    run_ids = sorted(p.stem for p in (reports / "runs").glob("*.html"))
    with serve(reports) as base:
        for url in [f"{base}/index.html", *(f"{base}/runs/{r}.html" for r in run_ids[:2])]:
            tab.goto(url)
            assert tab.problems == [], url
            statuses = tab.page.evaluate(LINKS_JS)
            assert len(statuses) >= 5, url
            assert [h for h, status in statuses if status != 200] == [], url
