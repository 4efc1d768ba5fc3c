"""Resolving a preset name to tunables, including tuned presets earned by a configuration search.

``tuned.json`` (written by `make tune`, servingbench.tuning) is read and written by :class:`TunedPreset`.
Since the ahead rule, a search keeps a tuned configuration only where its confirming run is called
"ahead" of the defaults' (measure.comparison); otherwise the file holds the defaults and says why
(``kept`` False, ``reason``). Files written before the rule have ``kept`` None and still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from servingbench.adapter import Adapter, Preset, Tunables
from servingbench.measure.comparison import RunInterval
from servingbench.record.serial import Record

TUNED_FILE = "tuned.json"
"""Written into frameworks/<name>/ by `make tune`; when present it is the framework's tuned preset."""


@dataclass(frozen=True)
class CandidateRow(Record):
    """One measured configuration of a search: a screening run (one repeat) or a confirming run."""

    tunables: dict[str, Any]
    status: str
    throughput_at_slo_rps: float | None = None
    p99_ms_at_fixed_load: float | None = None
    failure_reason: str | None = None
    time_to_ready_s: float | None = None
    run_id: str | None = None
    stage: str = "screen"
    """"screen" (the short profile, one repeat) or "final" (the defaults and the challenger, repeated)."""
    repeats: int = 0
    interval_rps: list[float | None] | None = None
    """[low, high] of measure.capacity (high None: open above); None when no rate held."""
    held: bool | None = None

    @property
    def interval(self) -> RunInterval | None:
        if not self.interval_rps or self.throughput_at_slo_rps is None:
            return None
        low, high = self.interval_rps
        return RunInterval(low=float(low or 0.0), high=float("inf") if high is None else float(high),
                           median=self.throughput_at_slo_rps, repeats=self.repeats)


@dataclass(frozen=True)
class TunedPreset(Record):
    """frameworks/<name>/tuned.json: the configuration the ``tuned`` preset uses and the evidence for it."""

    tunables: dict[str, Any]
    throughput_at_slo_rps: float
    default_throughput_at_slo_rps: float | None
    slo_p99_ms: float
    server_cpus: int
    searched: str
    date: str
    profile: str | None = None
    table: list[CandidateRow] = field(default_factory=list)
    kept: bool | None = None
    """True: a candidate was called ahead of the defaults; False: ``tunables`` are the defaults (see
    ``reason``); None: written before the ahead rule (the best screening figure won)."""
    verdict: str = ""
    """measure.comparison's call on the challenger against the defaults ("" when none was compared)."""
    reason: str = ""
    why: str = ""
    """The comparison's sentence (intervals, repeats, the false-ahead bound)."""
    final: list[CandidateRow] = field(default_factory=list)
    """The confirming runs of the defaults and the challenger the verdict rests on."""

    def note(self) -> str:
        """The tuned preset's note, as the report and `make list` show it."""
        base = self.default_throughput_at_slo_rps
        versus = f" against {base:.1f} for the defaults" if base is not None else ""
        where = f"on {self.server_cpus} CPU(s); {self.searched}"
        if self.kept is False:
            return f"the defaults: `make tune` on {self.date} kept no candidate ({self.reason}), {where}"
        figure = (f"{self.throughput_at_slo_rps:.1f} req/s within p99 <= {self.slo_p99_ms:g} ms{versus} "
                  f"{where}")
        if self.kept is None:
            return f"earned by `make tune` on {self.date}: {figure} (before the ahead rule: not shown ahead)"
        return f"earned by `make tune` on {self.date}: {figure}; {self.reason}"


def read_tuned(adapter: Adapter) -> TunedPreset | None:
    path = adapter.folder / TUNED_FILE
    return TunedPreset.from_dict(json.loads(path.read_text())) if path.is_file() else None


def earned_preset(adapter: Adapter) -> Preset | None:
    """The tuned preset from ``tuned.json`` when a search has produced one."""
    tuned = read_tuned(adapter)
    if tuned is None:
        return None
    kind = type(adapter.presets()["default"].tunables)  # an adapter may extend Tunables
    return Preset(kind(**tuned.tunables), tuned.note())


def earned_evidence(adapter: Adapter) -> dict | None:
    """The configuration search behind the tuned preset (tuned.json), recorded with every tuned run."""
    tuned = read_tuned(adapter)
    return tuned.to_dict() if tuned is not None else None


def presets_of(adapter: Adapter) -> dict[str, Preset]:
    """The adapter's presets, with ``tuned`` replaced by the measured winner when one exists."""
    presets = dict(adapter.presets())
    earned = earned_preset(adapter)
    if earned is not None:
        presets["tuned"] = earned
    return presets


def resolve_tunables(adapter: Adapter, preset: str, overrides: dict) -> tuple[Tunables, str]:
    presets = presets_of(adapter)
    if preset not in presets:
        raise ValueError(f"{adapter.name} has no preset {preset!r}; choose one of: {', '.join(presets)}")
    chosen = presets[preset]
    tunables = replace(chosen.tunables, **{k: v for k, v in overrides.items() if v is not None})
    adapter.validate(tunables)
    note = chosen.note if tunables == chosen.tunables else f"{chosen.note} (overridden: {tunables})"
    return tunables, note
