"""Discovery of framework adapters: every ``frameworks/<name>/adapter.py`` that defines ``ADAPTER``."""

from __future__ import annotations

import importlib.util
import sys
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
    module_name = f"servingbench_adapter_{name}"
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # so inspect and pickling can find the adapter's class
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    adapter = getattr(module, "ADAPTER", None)
    if not isinstance(adapter, Adapter):
        raise TypeError(f"{path} must define ADAPTER, an instance of servingbench.adapter.Adapter")
    if adapter.name != name:
        raise TypeError(f"{path}: ADAPTER.name is {adapter.name!r}, expected the folder name {name!r}")
    return adapter
