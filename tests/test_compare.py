"""The comparison's summary table: ranked as the index ranks, with its verdicts; failures with reasons."""

from servingbench.compare import summary_table
from servingbench.record.run_record import RunRecord, SloSearch, Summary
from tests.test_report_data import held_search, none_held


def run(name, tput, status="complete", reason=None, search=None, **summary):
    return RunRecord(framework=name, preset="default", status=status, failure_reason=reason,
                     time_to_ready_s=2.5, slo_search=SloSearch.from_dict(search) if search else None,
                     summary=Summary(throughput_at_slo_rps=tput, fixed_load_rps=20.0,
                                     p50_ms_at_fixed_load=5.0, p99_ms_at_fixed_load=9.0, mem_peak_mib=300.0,
                                     cpu_ms_per_request_at_fixed_load=6.0, **summary)
                     if tput is not None else None)


def test_ranked_with_failures_last():
    broken = run("broken", None, "failed", "ServerDied: exited with code 1\n...")
    table = summary_table([run("slow", 10.0), broken, run("fast", 80.0)])
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["#", "framework", "preset"]
    order = [line.split()[1] for line in lines[2:5]]
    assert order == ["fast", "slow", "broken"]
    assert "broken (default) failed: ServerDied: exited with code 1" in table
    assert "80.0" in lines[2] and lines[4].split()[0] == "-"


def test_the_same_verdicts_as_the_index():
    runs = [
        run("alpha", 100.0, search=held_search([99.0, 100.0, 101.0], 100.0)),
        run("beta", 95.0, search=held_search([94.0, 95.0, 96.0], 95.0)),
        run("gamma", 60.0, search=held_search([59.0, 60.0, 61.0], 60.0), p99_at_fixed_load_enough=False),
        run("quick", 30.0, search=held_search([30.0], 30.0)),
        run("stalled", 0.0, search=none_held()),
    ]
    table = summary_table(runs)
    by_name = {line.split()[1]: line for line in table.splitlines()[2:7]}
    assert "tied with #2" in by_name["alpha"] and "ahead of #3" in by_name["beta"]
    assert "unproven vs #4; behind #1" in by_name["gamma"] and "too few" in by_name["gamma"]
    assert "9.00" not in by_name["gamma"]  # the withheld p99 is not printed
    assert "(none held)" in by_name["stalled"] and by_name["stalled"].split()[0] == "5"
    assert "Why each verdict:" in table and "beta (default) is ahead of gamma (default)" in table
