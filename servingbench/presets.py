"""Resolving a preset name to tunables, including tuned presets earned by a configuration search."""

from __future__ import annotations

import json
from dataclasses import replace

from servingbench.adapter import Adapter, Preset, Tunables

TUNED_FILE = "tuned.json"
"""Written into frameworks/<name>/ by `make tune`; when present it is the framework's tuned preset."""


def earned_preset(adapter: Adapter) -> Preset | None:
    """The tuned preset from ``tuned.json`` when a search has produced one."""
    path = adapter.folder / TUNED_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    base = data.get("default_throughput_at_slo_rps")
    versus = f" against {base:.1f} for the defaults" if base is not None else ""
    note = (f"earned by `make tune` on {data['date']}: {data['throughput_at_slo_rps']:.1f} req/s within "
            f"p99 <= {data['slo_p99_ms']:g} ms{versus} on {data['server_cpus']} CPU(s); {data['searched']}")
    kind = type(adapter.presets()["default"].tunables)  # an adapter may extend Tunables
    return Preset(kind(**data["tunables"]), note)


def earned_evidence(adapter: Adapter) -> dict | None:
    """The configuration search behind the tuned preset (tuned.json), recorded with every tuned run."""
    path = adapter.folder / TUNED_FILE
    return json.loads(path.read_text()) if path.is_file() else None


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
