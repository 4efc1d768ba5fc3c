"""MLPerf LoadGen against the real baseline server, through ``servingbench crosscheck`` end to end.

The run it checks is written with the record classes, as bench writes one, with a held rate low enough
(30 req/s) that the server holds it on a busy 2-CPU machine: LoadGen must call it VALID, and an absurd
25x it (750 req/s, five times what one CPU serves) INVALID. Short LoadGen durations keep it near a
minute; the output must name both tools and the record must be written beside the run.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from servingbench.cpusets import split_cpus
from servingbench.crosscheck.report import read_crosscheck
from servingbench.crosscheck.verdict import run_at
from servingbench.record.results import RunWriter
from servingbench.record.run_record import SLO_REPEAT, CpuSets, Slo, SloSearch
from tests.test_record import opened

pytestmark = [pytest.mark.slow, pytest.mark.integration]
HELD_RPS, ABSURD, SECONDS = 30.0, 25.0, 30.0
"""30 s at 30 req/s is 900 queries: LoadGen's early stopping passes p99 with up to 2 over the bound."""


def write_run(root, server_cpus, loadgen_cpus):
    writer = RunWriter(root, "baseline", "default")
    confirms = [opened(HELD_RPS, HELD_RPS, 20.0 + i, SLO_REPEAT, f"slo_repeat{i}") for i in range(3)]
    record = writer.record
    record.slo, record.open_steps = Slo(100.0, 0.001), confirms
    record.cpus = CpuSets(list(server_cpus), list(loadgen_cpus))
    record.slo_search = SloSearch(HELD_RPS, HELD_RPS * 1.5, 0.5, [],
                                  [c.probe(100.0, 0.001) for c in confirms], held_rate_rps=HELD_RPS)
    record.tunables = {"workers": 1, "threads_per_worker": 1, "max_batch_size": 1, "max_batch_delay_ms": 0.0}
    return writer.finish("complete")


def test_loadgen_holds_a_low_rate_and_fails_an_absurd_one(model_dir, tmp_path):
    server_cpus, loadgen_cpus = split_cpus()
    folder = write_run(tmp_path / "results", server_cpus, loadgen_cpus)
    # its own process, as a user runs it: the command pins itself to the load generator's CPUs
    done = subprocess.run([sys.executable, "-m", "servingbench", "crosscheck", "--framework", "baseline",
                           "--results", str(tmp_path / "results"), "--duration-s", f"{SECONDS:g}",
                           "--above", f"{ABSURD:g}"], capture_output=True, text=True, timeout=600)
    code, out = done.returncode, done.stdout + done.stderr
    check = read_crosscheck(folder)
    assert check is not None, out
    at_rate, absurd = run_at(check.runs, 1.0), run_at(check.runs, ABSURD)
    assert at_rate is not None and absurd is not None, out
    assert at_rate.summary.valid and at_rate.failed == 0, out
    assert not absurd.summary.valid and absurd.summary.p99_ms > 100.0, out
    assert at_rate.connections_opened <= check.threads  # keep-alive: one connection per client thread
    assert "servingbench" in out and "MLPerf LoadGen" in out and "overall: AGREE" in out
    assert code == 0 and check.agree
    assert (folder / at_rate.folder / "mlperf_log_summary.txt").is_file()
