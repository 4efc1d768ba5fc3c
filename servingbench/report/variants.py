"""fp32 and int8 side by side: the same framework and preset, measured under the same setting otherwise.

The ranking never mixes variants (the variant is part of RunView.setting); this is the one place where an
int8 run meets its fp32 counterpart. A pair needs both runs complete with a passed parity gate and the same
base setting (machine, SLO, profile, CPU sets); their throughput at the SLO is compared by the same interval
rule as the ranking (measure.comparison), so "int8 ahead" means what "ahead" means there.
"""

from __future__ import annotations

from dataclasses import dataclass

from servingbench.measure import comparison as stat
from servingbench.measure.variants import SetScore, VariantEvaluation
from servingbench.report.comparison import latest_complete
from servingbench.report.model import RunView


@dataclass(frozen=True)
class VariantPair:
    """The newest comparable fp32 and int8 runs of one (framework, preset) under one base setting."""

    fp32: RunView
    int8: RunView
    verdict: str
    """measure.comparison's verdict on throughput at the SLO ("ahead", "tied", "unproven"), from int8's
    side: "int8 ahead", "fp32 ahead", "tied", "unproven", or why there is none."""
    why: str

    @property
    def framework(self) -> str:
        return self.fp32.framework

    @property
    def preset(self) -> str:
        return self.fp32.preset

    @property
    def evaluation(self) -> VariantEvaluation | None:
        """Accuracy of both variants: the int8 run's evaluation (it scores both on the same texts)."""
        return self.int8.evaluation

    def ratio(self, name: str) -> float | None:
        """int8 over fp32 for a RunView figure (throughput_at_slo_rps, cpu_ms_per_request, ...)."""
        a, b = _figure(self.fp32, name), _figure(self.int8, name)
        return b / a if a and b is not None else None


def _figure(view: RunView, name: str) -> float | None:
    if name == "p99_ms_at_fixed_load":
        return view.fixed_load.p99_shown_ms
    if name == "p50_ms_at_fixed_load":
        return view.fixed_load.p50_ms
    return getattr(view, name)


def _verdict(fp32: RunView, int8: RunView) -> tuple[str, str]:
    if not (fp32.held and int8.held):
        gone = [v.label for v in (fp32, int8) if not v.held]
        return "no rate held", f"{' and '.join(gone)} held no rate in every confirmation."
    if fp32.interval is None or int8.interval is None:
        return "unproven", "a run has no usable confirmations to build an interval from."
    result = stat.compare(int8.interval, fp32.interval, names=(int8.label, fp32.label), unit="req/s")
    if result.verdict == "ahead":
        return ("int8 ahead" if result.better == int8.label else "fp32 ahead"), result.explain()
    return result.verdict, result.explain()


def variant_pairs(runs: list[RunView]) -> list[VariantPair]:
    """Every (framework, preset, base setting) with a comparable run of both variants, newest of each."""
    latest = [v for v in latest_complete(runs).values() if v.comparable]
    by_key: dict[tuple[str, str, str], dict[str, RunView]] = {}
    for view in sorted(latest, key=lambda v: v.sort_time):
        by_key.setdefault((view.framework, view.preset, view.variant_setting), {})[view.variant] = view
    pairs = []
    for key in sorted(by_key):
        found = by_key[key]
        if "fp32" in found and "int8" in found:
            pairs.append(VariantPair(found["fp32"], found["int8"], *_verdict(found["fp32"], found["int8"])))
    return pairs


def accuracy_rows(evaluation: VariantEvaluation | None) -> list[tuple[str, SetScore]]:
    """(set name, scores) for the sets the evaluation has, in the order the report shows them."""
    if evaluation is None:
        return []
    rows = [("evaluation sentences", evaluation.eval_sentences)]
    if evaluation.heldout is not None:
        rows.append(("held-out Rotten Tomatoes split", evaluation.heldout))
    return rows
