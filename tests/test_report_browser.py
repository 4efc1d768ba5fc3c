"""The reports in a real browser: a real quick run, built into reports/, opened in headless Chromium.

Chromium is driven over the DevTools protocol (a tiny stdlib websocket client below, no extra package):
console errors, uncaught exceptions and failed loads are collected, key figures on the pages are compared
with run.json, the pages are loaded both from the file system and from a web server serving reports/
alone, and screenshots (laptop and 390 px phone widths) are kept in test-artifacts/.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from servingbench.report.format import fmt

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-port=0", "--remote-allow-origins=*",
]

pytestmark = pytest.mark.slow


# --- a minimal websocket client (RFC 6455): text frames, masking, fragmentation, ping -------------------
class WebSocket:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("websocket closed")
            buf += chunk
        return bytes(buf)

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> str:
        message = bytearray()
        while True:
            b1, b2 = self._exact(2)
            opcode, n = b1 & 0x0F, b2 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            mask = self._exact(4) if b2 & 0x80 else None
            data = self._exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode == 0x9:  # ping: answer and keep reading
                self.sock.sendall(bytes([0x8A, 0x80 | len(data)]) + b"\0\0\0\0" + data)
                continue
            if opcode in (0x1, 0x0):
                message += data
                if b1 & 0x80:
                    return message.decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Page:
    """One browser tab over CDP: navigate, evaluate, screenshot, and every error the page reported."""

    def __init__(self, ws_url: str) -> None:
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(method)

    def goto(self, url: str, width: int = 1280, height: int = 900) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and error log entries since the last goto."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif e["method"] == "Network.loadingFailed":
                out.append(f"load failed: {p.get('errorText')}")
        return out

    def screenshot(self, path: Path, width: int) -> None:
        height = int(self.js("Math.ceil(document.documentElement.scrollHeight)") or 900)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=min(height, 16000),
                  deviceScaleFactor=1, mobile=width < 600)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.ws.close()


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is not installed: run scripts/install-system-deps.sh (make test does)")


@contextlib.contextmanager
def browser() -> Iterator[Page]:
    profile = tempfile.mkdtemp(prefix="sb-chromium-")
    proc = subprocess.Popen([find_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    page = None
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("PUT", "/json/new?about:blank")
        target = json.loads(conn.getresponse().read())
        page = Page(target["webSocketDebuggerUrl"])
        yield page
    finally:
        if page:
            page.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


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


# --- the real run -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A real quick baseline run and the reports built from it by the CLI: (reports, run folder, run.json)."""
    root = tmp_path_factory.mktemp("browser")
    results, reports = root / "results", root / "reports"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bench = subprocess.run(
        [sys.executable, "-m", "servingbench", "bench", "--framework", "baseline", "--profile", "quick",
         "--results", str(results), "--no-report"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-3000:]
    report = subprocess.run([sys.executable, "-m", "servingbench", "report", "--results", str(results),
                             "--out", str(reports)], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    (run_dir,) = [p for p in results.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return reports, run_dir, json.loads((run_dir / "run.json").read_text())


TOO_FEW = "too few samples"
"""What the ranking shows instead of a fixed-load p99 that had too few requests for a bounded interval."""


def _expected(run: dict) -> dict[str, float | str]:
    """The headline figures as run.json states them (older runs: the closed-loop fallbacks)."""
    summary = run["summary"]
    lowest = min(run["steps"], key=lambda s: s["users"])
    too_few = summary.get("p99_at_fixed_load_enough") is False
    return {
        "throughput_at_slo_rps": summary["throughput_at_slo_rps"],
        "p99_ms_at_fixed_load": TOO_FEW if too_few else summary.get("p99_ms_at_fixed_load", lowest["p99_ms"]),
        "p50_ms_at_fixed_load": summary.get("p50_ms_at_fixed_load", lowest["p50_ms"]),
        "time_to_ready_s": run["time_to_ready_s"],
        "mem_peak_mib": summary["mem_peak_mib"],
    }


DIGITS = {"throughput_at_slo_rps": 1, "p99_ms_at_fixed_load": 2, "p50_ms_at_fixed_load": 2,
          "time_to_ready_s": 1, "mem_peak_mib": 0}

RANKING_JS = """JSON.stringify([...document.querySelectorAll('#ranking tbody tr[data-run-id]')].map(tr => ({
  run: tr.dataset.runId,
  cells: Object.fromEntries([...tr.querySelectorAll('td[data-metric]')].map(td =>
      [td.dataset.metric, {text: td.childNodes[0] ? td.childNodes[0].textContent.trim() : '',
                           value: td.dataset.value === undefined ? null : Number(td.dataset.value)}]))})))"""

OVERFLOW_JS = "document.documentElement.scrollWidth - window.innerWidth"

LINKS_JS = """(async () => {
  const out = [];
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    if (href.startsWith('#')) continue;
    const r = await fetch(a.href, {method: 'GET'});
    out.push([href, r.status]);
  }
  return JSON.stringify(out);
})()"""


def test_index_and_run_page_in_chromium(built: tuple[Path, Path, dict]) -> None:
    reports, run_dir, run = built
    run_id = run["run_id"]
    expected = _expected(run)
    index = reports / "index.html"
    run_page = reports / "runs" / f"{run_id}.html"
    assert index.exists() and run_page.exists()
    with browser() as page:
        # the index from the file system, laptop width: figures equal run.json, no errors
        page.goto(index.as_uri())
        assert page.errors() == []
        rows = json.loads(page.js(RANKING_JS))
        assert [r["run"] for r in rows] == [run_id]
        cells = rows[0]["cells"]
        for metric, value in expected.items():
            if metric == "p50_ms_at_fixed_load" or value is None:
                continue
            if value == TOO_FEW:  # the number is withheld: the words stand in its place, with no value
                assert cells[metric] == {"text": TOO_FEW, "value": None}, metric
                continue
            assert cells[metric]["value"] == pytest.approx(value), metric
            assert cells[metric]["text"] == fmt(value, DIGITS[metric]), metric
        # one quick run: one repeat, no neighbour, nothing to call ahead or tied
        assert cells["standing"]["text"] == "–"
        assert page.js("document.querySelector('#regressions') !== null")
        assert page.js("document.querySelectorAll('figure svg').length") >= 3
        page.screenshot(ARTIFACTS / "report-index-1280.png", 1280)

        # the same at a phone's width: the page itself never scrolls sideways (tables scroll in place)
        page.goto(index.as_uri(), width=390, height=844)
        assert page.errors() == []
        assert page.js(OVERFLOW_JS) <= 0
        page.screenshot(ARTIFACTS / "report-index-390.png", 390)

        # the run's page: headline and steps equal run.json
        page.goto(run_page.as_uri())
        assert page.errors() == []
        tput = page.js("document.getElementById('throughput-at-slo').textContent")
        assert tput == fmt(expected["throughput_at_slo_rps"], 1)
        p99 = page.js("document.getElementById('p99-fixed').textContent")
        p99_expected = expected["p99_ms_at_fixed_load"]
        assert p99 == (TOO_FEW if p99_expected == TOO_FEW else fmt(p99_expected, 2))
        assert page.js("document.getElementById('status').textContent.trim()") == run["status"]
        steps = json.loads(page.js("""JSON.stringify(
            [...document.querySelectorAll('#steps tbody tr')].map(tr => ({users: Number(tr.dataset.users),
              tput: tr.querySelector('[data-field=throughput_rps]').textContent,
              p99: tr.querySelector('[data-field=p99_ms]').textContent})))"""))
        assert [s["users"] for s in steps] == [s["users"] for s in run["steps"]]
        for shown, step in zip(steps, run["steps"], strict=True):
            assert shown["tput"] == fmt(step["throughput_rps"], 1)
            assert shown["p99"] == fmt(step["p99_ms"], 2)
        assert page.js("document.getElementById('reproduce-cmd').textContent").startswith(
            "make bench FRAMEWORK=baseline PRESET=default PROFILE=quick")
        page.screenshot(ARTIFACTS / "report-run-1280.png", 1280)
        page.goto(run_page.as_uri(), width=390, height=844)
        assert page.errors() == []
        assert page.js(OVERFLOW_JS) <= 0
        page.screenshot(ARTIFACTS / "report-run-390.png", 390)

        # the page kept inside the run folder works too
        page.goto((run_dir / "report.html").as_uri())
        assert page.errors() == []
        assert page.js("document.getElementById('run-id').textContent") == run_id

        # reports/ published alone behind a web server: every link on both pages answers 200
        with serve(reports) as base:
            for url in (f"{base}/index.html", f"{base}/runs/{run_id}.html"):
                page.goto(url)
                assert page.errors() == []
                statuses = json.loads(page.js(LINKS_JS))
                assert statuses, url
                assert [h for h, status in statuses if status != 200] == [], url
