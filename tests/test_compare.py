"""The comparison's summary table: ranked by throughput at the SLO, failures kept with their reason."""

from servingbench.compare import summary_table
from servingbench.record import RunRecord, Summary


def run(name, tput, status="complete", reason=None):
    return RunRecord(framework=name, preset="default", status=status, failure_reason=reason,
                     time_to_ready_s=2.5,
                     summary=Summary(throughput_at_slo_rps=tput, p50_ms_at_fixed_load=5.0,
                                     p99_ms_at_fixed_load=9.0, mem_peak_mib=300.0,
                                     cpu_ms_per_request_at_fixed_load=6.0) if tput is not None else None)


def test_ranked_with_failures_last():
    broken = run("broken", None, "failed", "ServerDied: exited with code 1\n...")
    table = summary_table([run("slow", 10.0), broken, run("fast", 80.0)])
    lines = table.splitlines()
    assert lines[0].split()[0] == "framework"
    order = [line.split()[0] for line in lines[2:5]]
    assert order == ["fast", "slow", "broken"]
    assert "broken (default) failed: ServerDied: exited with code 1" in table
    assert "80.0" in lines[2] and "-" in lines[4]
