"""Fixtures for tests that start real servers: the built model and a per-test run folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from shared_model.cache import ensure_model

    return ensure_model()
