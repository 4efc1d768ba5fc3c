"""Time the first-time creation of every framework environment (and the harness's) in a fresh cache.

Run as a module with a bare python3 from the repository root (``-m`` puts the root on sys.path), with
SERVINGBENCH_CACHE (and, for a cold download cache, PIP_CACHE_DIR / UV_CACHE_DIR) pointed at empty folders
so the shared cache is left alone:

    SERVINGBENCH_CACHE=$(mktemp -d) python3 -m scripts.time_env_setup [FRAMEWORK ...]

Prints one line per environment (seconds, and the installer when venvs.py says which) and the total.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from servingbench.envs import REPO, venvs
from servingbench.frameworks import available, load_adapter


def main() -> int:
    rows = []
    started = time.monotonic()
    names = sys.argv[1:] or [*available(), "harness"]
    for name in names:
        t0 = time.monotonic()
        if name == "harness":
            python = venvs.ensure_env("harness", REPO / "servingbench" / "requirements.txt", project=REPO)
        else:
            adapter = load_adapter(name)
            python = venvs.ensure_env(name, adapter.requirements, adapter.python)
        folder = Path(python).parent.parent
        installer = (folder / ".installer").read_text().strip() if (folder / ".installer").exists() else "pip"
        rows.append({"env": name, "seconds": round(time.monotonic() - t0, 1), "installer": installer})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"total_s": round(time.monotonic() - started, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
