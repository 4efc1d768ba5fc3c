"""Discovery of framework adapters: every ``frameworks/<name>/adapter.py`` that defines ``ADAPTER``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from servingbench.adapter import Adapter

FRAMEWORKS_DIR = Path(__file__).resolve().parent.parent / "frameworks"


class UnknownFramework(ValueError):
    """A name that is not a folder under frameworks/; the message lists the valid ones."""


def available() -> list[str]:
    """Names of all frameworks, sorted, found by their adapter.py."""
    return sorted(p.parent.name for p in FRAMEWORKS_DIR.glob("*/adapter.py"))


def load_adapter(name: str) -> Adapter:
    """Import ``frameworks/<name>/adapter.py`` and return its ADAPTER."""
    path = FRAMEWORKS_DIR / name / "adapter.py"
    if not path.is_file():
        raise UnknownFramework(
            f"unknown framework {name!r}. Valid frameworks: {', '.join(available())}"
        )
    spec = importlib.util.spec_from_file_location(f"servingbench_adapter_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    adapter = getattr(module, "ADAPTER", None)
    if not isinstance(adapter, Adapter):
        raise TypeError(f"{path} must define ADAPTER, an instance of servingbench.adapter.Adapter")
    if adapter.name != name:
        raise TypeError(f"{path}: ADAPTER.name is {adapter.name!r}, expected the folder name {name!r}")
    return adapter
