"""Fixtures shared by the tests that need the built model (real servers, end-to-end benches)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Started as a background command of a script (``make test &``), the suite inherits SIGINT ignored,
    and an ignored signal stays ignored across exec: the benches and Locust workers the Ctrl-C tests start
    would never see their SIGINT. A handler (unlike "ignore") is reset to the default in every child."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from servingbench.envs.model_cache import ensure_model

    return ensure_model()


@pytest.fixture(autouse=True)
def _cpu_affinity_unchanged():
    """A test that pins the pytest process (an in-process CLI call does: it moves itself to the load
    generator's CPUs) would leave every later test with one usable CPU; restore it and fail that test."""
    before = os.sched_getaffinity(0)
    yield
    after = os.sched_getaffinity(0)
    if after != before:
        os.sched_setaffinity(0, before)
        pytest.fail(f"the test left the pytest process pinned to CPUs {sorted(after)} "
                    f"(was {sorted(before)}): run the command in a subprocess")


@pytest.fixture()
def requests_file(tmp_path: Path) -> Path:
    """One pre-encoded request (an empty JSON body) for Locust runs against the no-op server."""
    from servingbench.load.locust import read_requests

    path = tmp_path / "requests.json"
    path.write_text('[{"method": "POST", "path": "/predict", "headers": {}, "body": "e30="}]')
    assert read_requests(path)[0].body == b"{}"
    return path
