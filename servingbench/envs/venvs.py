"""Virtual environments: one per framework, one for the harness, one for the model build.

Each environment is created on first use from a pinned requirements file and cached outside the work
tree under a key made of the interpreter and the full text of its requirements (``-r`` includes
followed), so it is reused while they are unchanged and rebuilt when they change. New environments are
made with uv (pinned in uv-requirements.txt, itself installed by pip into a small cached environment),
except those that need torch: this machine's CPU build of torch is a local file only pip's configuration
finds, and uv would download a multi-GB CUDA build. pip also makes everything when uv is unavailable.

Stdlib only: the Makefile calls it (``python3 -m servingbench.envs``) with a bare python3 to bootstrap the
harness itself.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from servingbench.envs import REPO

ENV_LAYOUT_VERSION = "1"
UV_REQUIREMENTS = REPO / "servingbench" / "uv-requirements.txt"
TORCH = re.compile(r"^torch\s*($|[=<>~!;\[ ])")
"""A requirement line for torch itself (not torch-model-archiver, torchvision...)."""


def cache_root() -> Path:
    """Where environments and built models live: $SERVINGBENCH_CACHE or ~/.cache/servingbench."""
    root = os.environ.get("SERVINGBENCH_CACHE") or Path.home() / ".cache" / "servingbench"
    return Path(root)


def default_python() -> str:
    """The interpreter new environments are made from unless an adapter asks for another."""
    return os.environ.get("SERVINGBENCH_PYTHON") or shutil.which("python3.11") or sys.executable


def requirement_lines(path: Path, seen: set[Path] | None = None) -> list[str]:
    """The requirement lines of a file with ``-r`` includes expanded (comments dropped)."""
    seen = seen or set()
    path = path.resolve()
    if path in seen:
        return []
    seen.add(path)
    lines: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("--") else raw.strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += requirement_lines(path.parent / line.split(None, 1)[1], seen)
        else:
            lines.append(line)
    return lines


def nodeps_file(requirements: Path) -> Path | None:
    """The companion ``<name>-nodeps.txt`` beside a requirements file, if there is one: pins installed
    with ``--no-deps`` after the requirements. For a package whose declared dependency range clashes with
    the framework's although the code the benchmark runs never imports it (Seldon: onnxruntime 1.30 declares
    protobuf>=4.25.8, seldon-core 1.18 needs protobuf<4, and an inference session does not touch
    protobuf), so that every framework runs the same model runtime. Works alike with pip and uv."""
    companion = requirements.with_name(f"{requirements.stem}-nodeps.txt")
    return companion if companion.is_file() else None


def all_requirement_lines(requirements: Path) -> list[str]:
    """Every line that defines an environment: its requirements, then its ``--no-deps`` companion's."""
    companion = nodeps_file(requirements)
    extra = [f"--no-deps {line}" for line in requirement_lines(companion)] if companion else []
    return requirement_lines(requirements) + extra


def python_identity(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys, platform; print(sys.version, platform.machine(), sys.prefix)"],
        capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def project_identity(project: Path | None) -> list[str]:
    """An editable install belongs to one checkout: its path and its pyproject.toml are part of the key."""
    if project is None:
        return []
    project = project.resolve()
    return [f"editable {project}", (project / "pyproject.toml").read_text()]


def env_key(name: str, requirements: Path, python: str, project: Path | None = None) -> str:
    digest = hashlib.sha256()
    parts = (ENV_LAYOUT_VERSION, name, python_identity(python), *all_requirement_lines(requirements),
             *project_identity(project))
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def env_dir(name: str, requirements: Path, python: str | None = None, project: Path | None = None) -> Path:
    python = python or default_python()
    return cache_root() / "envs" / f"{name}-{env_key(name, requirements, python, project)}"


def env_python(folder: Path) -> Path:
    return folder / "bin" / "python"


def pip_reason(requirements: Path) -> str:
    """Why an environment must be made with pip ("" when uv can make it).

    torch comes from this machine's local CPU build, which only pip's configuration points at: uv reads
    no pip configuration, so it would download a multi-GB CUDA build instead (FRAMEWORK_NOTES.md).
    """
    if any(TORCH.match(line) for line in requirement_lines(requirements)):
        return "it needs torch, whose local CPU build only pip finds"
    return ""


def uv_binary() -> Path | None:
    """The pinned uv (uv-requirements.txt), installed by pip into its own cached environment on first
    use; None when SERVINGBENCH_INSTALLER=pip or it cannot be installed (then pip makes everything)."""
    if os.environ.get("SERVINGBENCH_INSTALLER", "").lower() == "pip":
        return None
    try:
        uv = ensure_env("uv", UV_REQUIREMENTS, quiet=True, installer="pip").parent / "uv"
    except (EnvError, OSError, subprocess.CalledProcessError):
        return None
    return uv if uv.is_file() else None


def _uv_version(uv: Path) -> str:
    out = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=False)
    return " ".join(out.stdout.split()[:2]) or "uv"  # "uv 0.13.8"


def _pip_steps(python: str, tmp: Path, requirements: Path, project: Path | None) -> list[list[str]]:
    pip = [str(env_python(tmp)), "-m", "pip", "--disable-pip-version-check"]
    steps = [[python, "-m", "venv", str(tmp)], [*pip, "install", "-r", str(requirements)]]
    if (companion := nodeps_file(requirements)) is not None:
        steps.append([*pip, "install", "--no-deps", "-r", str(companion)])
    if project is not None:  # the checkout's own packages and console script, no new downloads
        steps.append([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(project.resolve())])
    return steps


def _uv_steps(uv: Path, python: str, tmp: Path, requirements: Path, project: Path | None) -> list[list[str]]:
    # bytecode compiled at install, as pip does: a server's first start (its time to ready) stays the same
    install = [str(uv), "pip", "install", "--python", str(env_python(tmp)), "--compile-bytecode"]
    # --seed: pip in the venv as `python -m venv` gives it (tools and the model build's corpus download run
    # `python -m pip` in an environment)
    steps = [[str(uv), "venv", "-q", "--seed", "--python", python, str(tmp)],
             [*install, "-r", str(requirements)]]
    if (companion := nodeps_file(requirements)) is not None:
        steps.append([*install, "--no-deps", "-r", str(companion)])
    if project is not None:
        steps.append([*install, "--no-deps", "-e", str(project.resolve())])
    return steps


def _choose(name: str, requirements: Path, installer: str | None) -> tuple[Path | None, str]:
    """(uv binary or None for pip, the words that say which installer and why)."""
    if installer == "pip" or name == "uv":
        return None, "pip"
    why = pip_reason(requirements)
    if why:
        return None, f"pip ({why})"
    uv = uv_binary()
    if uv is None:
        return None, "pip (uv unavailable: SERVINGBENCH_INSTALLER=pip, or uv could not be installed)"
    return uv, _uv_version(uv)


def _install(name: str, steps: list[list[str]], log: Path, requirements: Path) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}  # uv uses the interpreter given, never its own
    with open(log, "w") as out:
        for step in steps:
            result = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, env=env)
            if result.returncode != 0:
                tail = log.read_text(errors="replace").splitlines()[-25:]
                raise EnvError(
                    f"installing the {name} environment failed ({' '.join(step[1:4])} ...).\n"
                    f"Last lines of {log}:\n  " + "\n  ".join(tail) +
                    "\nFix the pins in " + _rel(requirements) + " and run again (SERVINGBENCH_INSTALLER=pip "
                    "makes it with pip instead of uv)."
                )


def ensure_env(name: str, requirements: Path, python: str | None = None, quiet: bool = False,
               project: Path | None = None, installer: str | None = None) -> Path:
    """Return the interpreter of the environment for ``requirements``, creating it if needed.

    ``project``: a checkout to install editable after the requirements: the harness environment gets the
    ``servingbench`` package and console script of the checkout that made it. New environments are made
    with uv unless they need pip (``pip_reason``), ``installer="pip"`` asks for it, or uv is unavailable;
    the installer used is said and kept in ``.installer``. Creation happens in a temporary folder renamed
    into place at the end, under a lock, so an interrupted install never leaves an environment that looks
    complete.
    """
    python = python or default_python()
    final = env_dir(name, requirements, python, project)
    if (final / ".complete").exists():
        return env_python(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / ".complete").exists():
            return env_python(final)
        tmp = final.with_name(final.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.monotonic()
        say = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
        uv, used = _choose(name, requirements, installer)
        say(f"[env] creating the {name} environment from {_rel(requirements)} with {used} "
            f"(first use; cached in {final})")
        steps = (_uv_steps(uv, python, tmp, requirements, project) if uv
                 else _pip_steps(python, tmp, requirements, project))
        subprocess.run(steps[0], check=True, stdout=subprocess.DEVNULL)
        _install(name, steps[1:], tmp / "install.log", requirements)
        # venvs are not relocatable: rewrite the scripts' shebangs to the final path.
        _relocate(tmp, final)
        (tmp / ".installer").write_text(used + "\n")
        (tmp / ".complete").write_text(f"{time.time()}\n")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        say(f"[env] {name} ready in {time.monotonic() - started:.0f} s ({used.split(' (')[0]})")
    return env_python(final)


class EnvError(RuntimeError):
    """An environment could not be created; the message says why and what to do."""


def _relocate(tmp: Path, final: Path) -> None:
    old, new = str(tmp).encode(), str(final).encode()
    for script in (tmp / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if old in data:
            script.write_bytes(data.replace(old, new))
    cfg = tmp / "pyvenv.cfg"
    cfg.write_bytes(cfg.read_bytes().replace(old, new))


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create or locate a cached virtual environment.")
    parser.add_argument("name")
    parser.add_argument("requirements", type=Path)
    parser.add_argument("--python", default=None)
    parser.add_argument("--project", type=Path, default=None, help="a checkout to install editable")
    args = parser.parse_args(argv)
    try:
        print(ensure_env(args.name, args.requirements, args.python, project=args.project))
    except EnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

