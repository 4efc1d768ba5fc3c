"""The typed results of the scenarios, as run.json keeps them under "scenarios" (one field each).

Each scenario appends its result class here (a serial.Record dataclass) and one optional field of
ScenarioResults named like the scenario: run.json is written and read by these classes alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servingbench.serial import Record


@dataclass
class ScenarioResults(Record):
    """Every scenario the run measured, by name; ``failed``: the ones that failed, with the reason."""

    failed: dict[str, str] = field(default_factory=dict)
