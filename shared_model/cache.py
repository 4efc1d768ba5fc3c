"""The built-model cache: the ONNX model is exported once per set of inputs and reused by every framework.

The key is a hash of everything the export reads (its scripts, head.json, the build requirements), so a
changed head or pin gives a new folder and an unchanged one is never rebuilt. Building happens in a temporary
folder renamed into place under a lock; ``.complete`` marks a finished model.

Stdlib only: the harness imports this without numpy. ``python -m shared_model.cache`` prints the model folder.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from servingbench import envs  # noqa: E402

KEY_VERSION = "1"
EXPORT_SCRIPT = HERE / "build" / "export_onnx.py"
# Everything the export reads from this repo: the script, the modules it imports, the head, the env recipe.
INPUT_FILES = [
    EXPORT_SCRIPT,
    HERE / "build" / "torch_model.py",
    HERE / "build" / "env.py",
    HERE / "cache.py",
    HERE / "head" / "head.json",
]
REQUIREMENT_FILES = [HERE / "build" / "requirements.txt", HERE / "build" / "nodeps-requirements.txt"]
FIRST_BUILD_MINUTES = 4


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_digest(folder: Path) -> str:
    """Content hash of a user's model folder (relative names + file contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + _sha256_file(path).encode())
    return digest.hexdigest()


def input_hashes(hf_model: Path | None = None) -> dict[str, str]:
    """sha256 of each export input, by name relative to the repo (recorded in manifest.json)."""
    hashes = {str(p.relative_to(REPO)): _sha256_file(p) for p in INPUT_FILES}
    for req in REQUIREMENT_FILES:
        text = "\n".join(envs.requirement_lines(req))  # -r includes expanded, comments dropped
        hashes[str(req.relative_to(REPO)) + " (lines)"] = hashlib.sha256(text.encode()).hexdigest()
    if hf_model is not None:
        hashes["hf-model"] = _folder_digest(Path(hf_model))
    return hashes


def model_key(hf_model: Path | None = None) -> str:
    """Short sha256 of all export inputs: the name of the model's cache folder."""
    digest = hashlib.sha256(KEY_VERSION.encode())
    for name, value in sorted(input_hashes(hf_model).items()):
        digest.update(f"{name}={value}\n".encode())
    return digest.hexdigest()[:16]


def model_dir(hf_model: Path | None = None) -> Path:
    """Where the exported model for the current inputs lives (it may not be built yet)."""
    prefix = "hf-" if hf_model is not None else ""
    return envs.cache_root() / "models" / f"{prefix}{model_key(hf_model)}"


def is_built(folder: Path) -> bool:
    return (folder / ".complete").exists()


def ensure_model(progress: Callable[[str], None] = print, hf_model: Path | None = None) -> Path:
    """Return the exported model folder, building it first if needed (build env + export, ~minutes)."""
    hf_model = Path(hf_model).resolve() if hf_model is not None else None
    final = model_dir(hf_model)
    if is_built(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(final):
            return final
        progress(f"[model] building the ONNX model (first run, ~{FIRST_BUILD_MINUTES} min) into {final}")
        started = time.monotonic()
        from shared_model.build.env import ensure_build_env

        python = ensure_build_env()
        tmp = final.with_name(final.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [str(python), str(EXPORT_SCRIPT), "--out", str(tmp)]
        if hf_model is not None:
            cmd += ["--hf-model", str(hf_model)]
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-30:]
            raise RuntimeError("exporting the ONNX model failed:\n  " + "\n  ".join(tail))
        (tmp / ".complete").write_text(f"{time.time()}\n")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        progress(f"[model] ready in {time.monotonic() - started:.0f} s: {final}")
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build (if needed) and print the exported model folder.")
    parser.add_argument("--hf-model", type=Path, default=None, help="a user's HF sequence-classifier folder")
    parser.add_argument("--key", action="store_true", help="print the model key only, build nothing")
    args = parser.parse_args(argv)
    if args.key:
        print(model_key(args.hf_model))
        return 0
    try:
        folder = ensure_model(progress=lambda msg: print(msg, file=sys.stderr, flush=True),
                              hf_model=args.hf_model)
    except (RuntimeError, envs.EnvError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
