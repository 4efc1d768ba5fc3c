"""Progress of a whole job (make compare, make tune): position, elapsed and the ETA's arithmetic."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from servingbench import progress
from servingbench.progress import JobProgress, eta_s
from servingbench.tuning import FINAL_PROFILE, START_ALLOWANCE_S, TUNE_PROFILE, screen_plan


def test_eta_before_anything_ran_is_the_plan():
    assert eta_s([60.0, 120.0, 30.0], []) == 210.0
    assert eta_s([60.0, 120.0, 30.0], [], current_elapsed_s=20.0) == 190.0


def test_eta_is_corrected_by_how_the_finished_units_kept_their_plan():
    # the first two took half their plan: what is left is planned at half too
    assert eta_s([100.0, 100.0, 100.0, 100.0], [50.0, 50.0]) == 100.0
    assert eta_s([100.0, 100.0, 100.0, 100.0], [50.0, 50.0], current_elapsed_s=20.0) == 80.0
    # slower than planned: the rest is stretched
    assert eta_s([100.0, 100.0, 100.0], [150.0]) == 300.0


def test_a_unit_past_its_plan_counts_nothing_left_of_itself_but_the_rest_still_counts():
    assert eta_s([100.0, 100.0, 100.0], [100.0], current_elapsed_s=250.0) == 100.0
    assert eta_s([100.0, 100.0], [90.0, 110.0]) == 0.0
    with pytest.raises(ValueError):
        eta_s([100.0], [1.0, 2.0])


def test_clock_shows_hours_for_a_long_job():
    assert progress._clock(75.4) == "1:15"
    assert progress._clock(2 * 3600 + 61) == "2:01:01"
    assert progress._clock(-3) == "0:00"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_carry_the_jobs_position_elapsed_and_time_left(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    lines: list[str] = []
    with JobProgress("compare", [100.0, 100.0, 100.0], lines.append, live=False) as job:
        say = job.start("baseline (default)")
        clock.now += 40
        say("[baseline 0:40, ~1:00 left] closed loop 1 user")
        clock.now += 10
        job.finish()  # took 50 s of its 100: the other two are planned at 50 s each
        job.start("baseline (tuned)")
        clock.now += 5
        job.say("warm-up")
    assert lines[0] == "=== compare 1/3 baseline (default), 0:00 elapsed, ~5:00 left ==="
    assert lines[1] == ("[compare 1/3 baseline (default), 0:40 elapsed, ~4:20 left] "
                        "[baseline 0:40, ~1:00 left] closed loop 1 user")
    assert lines[2] == "=== compare 2/3 baseline (tuned), 0:50 elapsed, ~1:40 left ==="
    assert lines[3] == "[compare 2/3 baseline (tuned), 0:55 elapsed, ~1:35 left] warm-up"


def test_the_live_display_prints_the_lines_above_a_bar_with_the_job_figures():
    buf = io.StringIO()
    job = JobProgress("compare", [60.0, 60.0], live=True, console=Console(file=buf, width=120))
    with job:
        assert job._bar is not None
        job.start("triton (tuned)")
        job.say("parity gate passed")
        job.finish()
    text = buf.getvalue()
    assert "parity gate passed" in text and "compare 1/2 triton (tuned)" in text
    assert job._bar is None  # stopped on exit


def test_replanning_keeps_the_finished_units():
    job = JobProgress("tune x", [10.0, 10.0, 10.0, 50.0, 50.0], live=False, out=lambda _m: None)
    job.start("a")
    job.finish()
    job.replan_rest([10.0, 50.0, 50.0])  # one candidate fewer fits the budget
    assert len(job.planned_s) == 4 and job.position == 2


def test_the_tune_plan_fits_the_budget_and_ends_with_the_confirming_runs():
    per = TUNE_PROFILE.estimate_s() + START_ALLOWANCE_S
    final = 2 * (FINAL_PROFILE.estimate_s() + START_ALLOWANCE_S)
    plan = screen_plan(remaining=20, left_s=final + 3 * per + 1, durations=[])
    assert plan[:-2] == [per] * 3 and sum(plan[-2:]) == pytest.approx(final)
    assert len(screen_plan(remaining=20, left_s=1.0, durations=[])) == 3  # always the next candidate
    assert len(screen_plan(remaining=2, left_s=1e6, durations=[30.0])) == 4  # no more than are left
