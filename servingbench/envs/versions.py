"""Versions of what was measured: the framework and model runtime in its environment, the harness's own."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

from servingbench.adapter import Adapter

RUNTIME_PACKAGES = ("onnxruntime", "tokenizers", "numpy")
"""What runs the model inside every server: reported so that a version difference is visible."""


_VERSIONS_SCRIPT = """
import importlib.metadata as m, json, platform, sys
found = {"python": platform.python_version()}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


def server_versions(adapter: Adapter, python: Path) -> dict:
    """Versions of the framework and of the model runtime in the framework's own environment."""
    names = [n for n in (adapter.package, *RUNTIME_PACKAGES) if n]
    out = subprocess.run([str(python), "-c", _VERSIONS_SCRIPT, *names], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def harness_versions() -> dict:
    names = ["locust", "numpy", "hdrhistogram", "psutil", "onnxruntime", "tokenizers",
             "grpcio", "tritonclient"]  # the gRPC load user and its V2 messages (PROTOCOL=grpc)
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found
