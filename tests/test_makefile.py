"""The front door: make targets expand to the commands the README promises (checked with make -n)."""

import shutil
import subprocess

import pytest

from servingbench.envs import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


def test_compare_runs_both_presets_of_every_framework_by_default():
    out = dry_run("compare")
    assert "--frameworks all" in out and "--presets default,tuned" in out and "--profile standard" in out


def test_compare_takes_a_subset():
    out = dry_run("compare", "FRAMEWORKS=baseline,triton", "PRESETS=tuned", "PROFILE=quick")
    assert "--frameworks baseline,triton" in out and "--presets tuned" in out and "--profile quick" in out


def test_bench_passes_every_option():
    out = dry_run("bench", "FRAMEWORK=mlserver", "PRESET=tuned", "PROFILE=quick", "SLO=50", "SERVER_CPUS=0",
                  "LOADGEN_CPUS=1", "PORT=8123", "WORKERS=2", "MAX_BATCH_SIZE=8", "MAX_BATCH_DELAY_MS=2",
                  "TARGET=http://127.0.0.1:9", "LOADGEN_WORKERS=2", "LAUNCH=docker")
    for part in ("--framework mlserver", "--preset tuned", "--profile quick", "--slo-ms 50",
                 "--server-cpus 0", "--loadgen-cpus 1", "--port 8123", "--workers 2", "--max-batch-size 8",
                 "--max-batch-delay-ms 2", "--target http://127.0.0.1:9", "--loadgen-workers 2",
                 "--launch docker"):
        assert part in out, part


def test_bench_without_a_framework_lists_them():
    result = subprocess.run(["make", "bench"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0 and "baseline" in result.stdout and "rayserve" in result.stdout


def test_crosscheck_passes_its_options_and_needs_a_framework():
    out = dry_run("crosscheck", "FRAMEWORK=baseline", "PRESET=tuned", "DURATION_S=20", "SERVER_CPUS=0",
                  "LOADGEN_CPUS=1", "PORT=8123")
    for part in ("crosscheck --framework baseline", "--preset tuned", "--duration-s 20", "--server-cpus 0",
                 "--loadgen-cpus 1", "--port 8123"):
        assert part in out, part
    result = subprocess.run(["make", "crosscheck"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0 and "make crosscheck FRAMEWORK=" in result.stdout
