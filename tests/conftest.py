"""Fixtures shared by the tests that need the built model (real servers, end-to-end benches)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from servingbench.model_cache import ensure_model

    return ensure_model()
