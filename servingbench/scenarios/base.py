"""What every scenario is given and must provide; how the run drives the chosen ones in turn.

A scenario that fails (its load errors, its server dies) is recorded as failed with its reason, and the
scenarios after it still run (on a freshly started server if the old one exited): one broken scenario
loses nothing else the run measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from servingbench.adapter import Adapter, Tunables
from servingbench.load.locust import LoadError
from servingbench.load.steps import StepContext
from servingbench.profiles import Profile
from servingbench.progress import Progress
from servingbench.record.run_record import RunRecord
from servingbench.record.serial import Record
from servingbench.servers.errors import LaunchError, ServerDied

if TYPE_CHECKING:
    from servingbench.run import ServerUnderTest


@dataclass(frozen=True)
class ScenarioOptions:
    """What a user gives a scenario beyond the profile (checked before any load)."""

    trace: Path | None = None
    """SCENARIO=trace: the arrival trace (CSV: seconds since start, optional text id or length)."""
    trace_speed: float = 1.0
    """SCENARIO=trace: replay this many times faster (2: twice the rate, half the time)."""
    rate_from: str = "this-run"
    """Overload and burst: where their reference rate comes from (scenarios/scaled.py): "newest" (an
    earlier steady run in the same setting, the CLI's default), "this-run" or "given" (``rate_rps``)."""
    rate_rps: float | None = None
    """RATE_FROM=<req/s>: the rate given."""
    reference_run: Path | None = None
    """The earlier steady run the rate comes from (set by scaled.plan_rate, not by the user)."""
    time_scale: float = 1.0
    """SCENARIO_TIME_SCALE: overload's and burst's durations times this (below 1: a quick look, the
    suite's real-server tests); their pages state it."""


@dataclass
class ScenarioContext:
    """The server under test and everything a scenario may read or use."""

    ctx: StepContext
    """The current server's step context (replaced after a restart: always read it from here)."""
    sut: ServerUnderTest | None
    """Stop/start/restart the launched server (None for a remote target: it is not ours to restart)."""
    adapter: Adapter
    tunables: Tunables
    profile: Profile
    record: RunRecord
    """The run so far: a scenario reads the steady results (the SLO throughput) from it."""
    folder: Path
    """The run folder: a scenario writes its raw files under folder / "scenarios" / its name."""
    model_dir: Path
    options: ScenarioOptions = field(default_factory=ScenarioOptions)
    progress: Progress = field(default=print)  # type: ignore[assignment]

    def restart(self) -> StepContext:
        """A fresh server (verified stop, start, parity gate, short warm-up); the context is updated."""
        if self.sut is None:
            raise RuntimeError("this scenario restarts the server, which a remote target does not allow")
        self.ctx = self.sut.restart()
        return self.ctx

    def out_dir(self, name: str) -> Path:
        path = self.folder / "scenarios" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class ReferenceRate:
    """The rate a scenario scales its load by, and what it is."""

    rps: float
    basis: str
    """"SLO throughput" (the highest rate that held in every confirmation) or "closed-loop peak"."""


def reference_rate(record: RunRecord) -> ReferenceRate | None:
    """The SLO throughput where a rate held, else the closed-loop peak (issue: overload and burst scale by
    it); None when the run measured neither."""
    summary = record.summary
    if summary is not None and summary.throughput_at_slo_rps:
        if summary.slo_rate_rps:
            return ReferenceRate(float(summary.slo_rate_rps), "SLO throughput (offered rate that held)")
        return ReferenceRate(float(summary.throughput_at_slo_rps), "SLO throughput (goodput that held)")
    if summary is not None and summary.peak_throughput_rps:
        return ReferenceRate(float(summary.peak_throughput_rps), "closed-loop peak (no rate held the SLO)")
    return None


class Scenario(Protocol):
    name: str
    question: str
    """What the scenario answers, in one sentence (README, run page)."""
    needs_slo_rate: bool
    """True: the run measures the steady protocol first (its SLO throughput scales the load)."""
    restarts_server: bool
    """True: the scenario starts the server afresh (refused for a remote target)."""

    def check(self, options: ScenarioOptions) -> None:
        """Refuse bad input (a malformed trace, say) with a clear ValueError before any load."""

    def estimate_s(self, profile: Profile, start_s: float, options: ScenarioOptions) -> float:
        """Worst-case wall seconds (``start_s``: the framework's usual start time, for restarts;
        ``options``: what the user gave, e.g. a TRACE, whose length decides the replay's)."""

    def run(self, sc: ScenarioContext) -> Record:
        """Measure; return the typed result the record keeps under ``name``."""


SCENARIO_ERRORS = (LoadError, LaunchError, ServerDied, RuntimeError, ValueError, OSError)


def run_scenarios(sc: ScenarioContext, names: tuple[str, ...], get: Callable[[str], Scenario]) -> None:
    """Each chosen scenario in turn; its result (or its failure) goes into ``sc.record.scenarios``."""
    from servingbench.scenarios.records import ScenarioResults

    results = sc.record.scenarios = sc.record.scenarios or ScenarioResults()
    for i, name in enumerate(names, 1):
        scenario = get(name)
        sc.progress(f"scenario {i}/{len(names)}: {name}: {scenario.question}")
        try:
            setattr(results, name, scenario.run(sc))
        except SCENARIO_ERRORS as exc:
            results.failed[name] = f"{type(exc).__name__}: {exc}"
            sc.progress(f"  scenario {name} FAILED: {exc}")
            if i < len(names) and sc.sut is not None and sc.ctx.server.exited() is not None:
                sc.progress("  the server exited: starting it afresh for the next scenario")
                sc.restart()
